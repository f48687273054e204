"""Issue 32 point 2: the full-graph path that trains the Alibaba size (one big batch per step over the sparse
operators, encoder-only graph inputs, sampled validation users) computes exactly the reference full-graph loss and
gradients, and its validation sample is the seeded one of ``evaluate_part``."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from hashgnn.config import RunConfig
from hashgnn.data.graph import BipartiteGraph
from hashgnn.data.splits import SplitConfig, make_split
from hashgnn.data.synth import SynthConfig, generate
from hashgnn.errors import ConfigError
from hashgnn.evaluation.protocol import evaluate_part
from hashgnn.losses import batch_objective
from hashgnn.models.encoders import GraphInputs
from hashgnn.models.hashgnn import HashGNNModel
from hashgnn.seed import seed_everything
from hashgnn.training.trainer import Trainer, embeddings_from_model


@pytest.fixture(scope="module")
def synth_split():
    inter = generate(SynthConfig(n_users=300, n_items=900, n_interactions=6_000, seed=3)).interactions
    return make_split(inter, SplitConfig(kind="temporal"))


def _reference_loss(model: HashGNNModel, split, batch: tuple[torch.Tensor, ...], config: RunConfig) -> torch.Tensor:
    """Eq. 1–7 written out with a dense ``(D+I)^{-1}(A+I)`` and autograd only: no sparse kernel, no hand-written
    backward, no project-before-mean reordering."""
    a_hat = torch.from_numpy(BipartiteGraph.from_interactions(split.train).mean_operator_scipy().toarray())
    x = model.input.embedding.weight
    for layer in model.encoder.layers:
        x = F.relu(F.linear(a_hat @ x, layer.weight, layer.bias))
    a = F.linear(x, model.hash.linear.weight, model.hash.linear.bias)
    h = model.relaxed(a)
    t = config.train
    return batch_objective(h, a, *batch, config.model.scale(), t.lam, t.margin, t.rank_loss, **t.extra_terms(1))[0]


@pytest.mark.parametrize("extra", [[], ["train.rank_loss=softmax", "train.z_weight=1.0", "train.quant_weight=0.1"]])
def test_big_batch_full_graph_step_equals_the_dense_reference(synth_split, extra: list[str]):
    # one batch holds every train edge, as 2^20 edges nearly do at Alibaba size; std 0.1 so gradients are not ~0
    n_train = len(synth_split.train_idx)
    cfg = RunConfig().override([f"train.batch_size={n_train}", "model.init_std=0.1", "train.threads=1", *extra])
    trainer = Trainer(cfg, synth_split, progress=False)
    assert trainer.graph.sym_op is None and trainer.graph.edge_index is None  # the sage encoder reads Â only
    assert trainer.steps_per_epoch() == 1
    seed_everything(0)
    model = HashGNNModel(trainer.n_users + trainer.n_items, cfg.model, n_users=trainer.n_users)
    rng = np.random.default_rng(0)
    users, items = trainer.train_users, trainer.train_items + trainer.n_users
    neg = trainer.sampler.sample(trainer.train_users, cfg.train.triplets, rng) + trainer.n_users
    batch = tuple(torch.from_numpy(v) for v in (users, items, neg))
    params = list(model.parameters())

    torch.manual_seed(1)  # the binarizer's draws: the same in both computations
    u, a = model.represent(trainer.graph)
    loss, _ = trainer._batch_loss(model, u, a, batch, cfg.model.scale(), 1, None)
    grads = torch.autograd.grad(loss, params)
    torch.manual_seed(1)
    ref = _reference_loss(model, synth_split, batch, cfg)
    ref_grads = torch.autograd.grad(ref, params)

    torch.testing.assert_close(loss, ref, rtol=1e-5, atol=1e-7)
    assert loss.item() != pytest.approx(2 * np.log(2) + cfg.train.margin, abs=1e-3)  # not the all-zero plateau
    for p, g, r in zip(model.parameters(), grads, ref_grads, strict=True):
        assert r.abs().max() > 0, p.shape  # every parameter is trained by this loss
        torch.testing.assert_close(g, r, rtol=1e-4, atol=1e-8)


def test_sampled_validation_is_evaluate_parts_seeded_sample(synth_split):
    cfg = RunConfig().override(["train.batch_size=1024", "eval.max_valid_users=40", "train.threads=1"])
    trainer = Trainer(cfg, synth_split, progress=False)
    seed_everything(0)
    model = HashGNNModel(trainer.n_users + trainer.n_items, cfg.model, n_users=trainer.n_users)
    emb = embeddings_from_model(model, trainer.graph, trainer.n_users, with_codes=True)
    sample = evaluate_part(emb, synth_split, "valid", modes=("hierarchical",), ns=(50,), protocols=("standard",),
                           max_users=40)["hierarchical"]["standard"]
    every = evaluate_part(emb, synth_split, "valid", modes=("hierarchical",), ns=(50,),
                          protocols=("standard",))["hierarchical"]["standard"]
    assert sample["users"] <= 40 < every["users"]
    assert trainer.validate(model) == sample["recall@50"]


@pytest.mark.parametrize("value", [0, -5])
def test_max_valid_users_must_be_positive(value: int):
    with pytest.raises(ConfigError, match="eval.max_valid_users"):
        RunConfig().override([f"eval.max_valid_users={value}"]).validate()


def test_graph_inputs_for_one_encoder_build_only_what_it_reads():
    graph = BipartiteGraph(3, 4, np.array([0, 1, 2, 2]), np.array([0, 1, 2, 3]))
    every = GraphInputs.from_graph(graph)
    assert every.mean_op is not None and every.sym_op is not None and every.edge_index is not None
    light = GraphInputs.from_graph(graph, "lightgcn")
    assert light.mean_op is None and light.edge_index is None
    torch.testing.assert_close(light.sym_op[0].to_dense(), every.sym_op[0].to_dense())
    with pytest.raises(ConfigError, match="unknown encoder"):
        GraphInputs.from_graph(graph, "gin")
