"""Data-parallel training: 2 gloo processes launched with torchrun on MovieLens-100K.

The test launches this very file as the torchrun worker script (``python -m torch.distributed.run --standalone
--nproc-per-node 2 test_distributed.py OUT``). Each rank all-gathers a parameter checksum after every optimiser
step, so "both replicas identical after every step" is checked at every step, not just at the end. The parent
then trains one process with the same *global* batch and compares parameters and validation metrics.

Fan-outs are ``-1`` (all neighbours), so the sampled computation graph is exact and the only differences between
the runs are float summation order; the ``hashnet`` binarizer is deterministic (the guided one draws Bernoulli
masks from per-rank streams, which would make the single-process comparison statistical rather than numeric).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from hashgnn.config import RunConfig

PER_RANK_BATCH = 2048
WORLD = 2
SETTINGS = ["data.dataset=movielens-100k", "train.epochs=1", "train.log_every=5", "train.auc_pairs=2000",
            "model.method=hashnet", "model.score_scale=sqrt", "train.threads=1", "train.patience=100"]


def _config(batch: int) -> RunConfig:
    return RunConfig().override([*SETTINGS, f"train.batch_size={batch}"])


def _worker(out: Path) -> None:
    """One rank: train with DDP, check replicas every step, rank 0 saves what the parent compares."""
    import torch.distributed as dist

    from hashgnn.data import load_split_for
    from hashgnn.training import RunDir
    from hashgnn.training.distributed import parameter_checksum, run_distributed

    torch.set_num_threads(1)
    cfg = _config(PER_RANK_BATCH)
    split = load_split_for(cfg.data, cfg.split)
    checks: list[list[list[float]]] = []

    def check(_trainer, model, iteration: int) -> None:
        local = parameter_checksum(model)
        parts = [torch.zeros_like(local) for _ in range(dist.get_world_size())]
        dist.all_gather(parts, local)
        checks.append([p.tolist() for p in parts])

    # run_distributed joins the process group from torchrun's environment and leaves it at the end.
    result = run_distributed(cfg, split, RunDir(out / "run"), progress=False, fanouts=(-1, -1), on_step=[check])
    if int(os.environ["RANK"]) == 0:
        torch.save({"checks": checks, "state": result.model.state_dict(), "history": result.history,
                    "world": int(os.environ["WORLD_SIZE"])}, out / "ddp.pt")


@pytest.mark.dataset("movielens-100k")
def test_torchrun_two_ranks_match_single_process(tmp_path: Path):
    from hashgnn.data import load_split_for
    from hashgnn.training.minibatch import MiniBatchTrainer

    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={WORLD}",
           __file__, str(tmp_path)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    ddp = torch.load(tmp_path / "ddp.pt", weights_only=False)
    assert ddp["world"] == WORLD

    # Every step, both replicas held the same parameters (bit-identical checksums).
    checks = np.asarray(ddp["checks"])  # [steps, world, 2]
    assert len(checks) >= 10
    assert np.array_equal(checks[:, 0], checks[:, 1])

    # Rank 0 wrote a complete run directory.
    run = tmp_path / "run"
    for name in ("config.json", "checkpoints/last.pt", "checkpoints/best.pt", "history.json", "metrics.csv",
                 "embeddings_users.npy", "codes_items.npy", "training.json"):
        assert (run / name).is_file(), name

    # One process with the same global batch: same parameters and validation metric within float tolerance.
    torch.set_num_threads(1)
    cfg = _config(PER_RANK_BATCH * WORLD)
    split = load_split_for(cfg.data, cfg.split)
    single = MiniBatchTrainer(cfg, split, progress=False, fanouts=(-1, -1)).fit()
    ref = single.model.state_dict()
    # Adam normalises each update by its running gradient scale, so entries with near-zero gradients can move
    # by ~lr on float-rounding noise alone: bound the relative error overall and the worst entry by a few lr.
    lr = cfg.train.lr
    for key, value in ddp["state"].items():
        delta = (value - ref[key]).double()
        rel = (delta.norm() / ref[key].double().norm().clamp_min(1e-12)).item()
        print(key, rel, delta.abs().max().item())
        assert rel < 1e-3 and delta.abs().max().item() < 2 * lr, (key, rel, delta.abs().max().item())
    m_ddp = [h["valid_recall@50"] for h in ddp["history"]]
    m_one = [h["valid_recall@50"] for h in single.history]
    assert np.allclose(m_ddp, m_one, atol=5e-3), (m_ddp, m_one)


if __name__ == "__main__":  # torchrun entry point of the test above
    _worker(Path(sys.argv[1]))
