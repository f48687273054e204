"""Shared by the experiment tests: a shallow-embedding fit that dies mid-run, as a killed process would."""

from __future__ import annotations

import pytest


class EmbeddingFitKilled(Exception):
    pass


@pytest.fixture
def kill_embedding_fit_in_epoch_2(monkeypatch) -> type[Exception]:
    """The next MF / PTE / BiNE fit dies at its second validation (epoch 1 is checkpointed by then); once, so the
    same process can then continue the run. Returns the exception to expect."""
    from hashgnn.models.baselines import embedding

    original, calls = embedding.valid_recall, []

    def dies_in_epoch_2(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise EmbeddingFitKilled
        return original(*args, **kwargs)

    monkeypatch.setattr(embedding, "valid_recall", dies_in_epoch_2)
    return EmbeddingFitKilled
