"""Training-curve plot of a run, drawn from its metrics.csv and history.json only, and kept in the run (listed in
its manifest like every other file)."""

from __future__ import annotations

import io
from pathlib import Path

from hashgnn.training.rundir import RunDir


def plot_training_curve(run_dir: str | Path, name: str = "training_curve.png") -> Path | None:
    """Loss terms, held-out AUC (h and z), the schedule value and validation recall against iterations."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    rd = RunDir(run_dir)
    csv_path = rd.file("metrics.csv")
    if not csv_path.is_file():
        return None

    log = pd.read_csv(io.BytesIO(rd.read_bytes("metrics.csv")))  # corrupt or not the run's: ArtifactError
    history = rd.read_json("history.json") if rd.file("history.json").is_file() else []
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    for col in ("loss", "loss_cross", "loss_rank"):
        if col in log:
            axes[0].plot(log["iteration"], log[col], label=col)
    axes[0].set(title="training loss", xlabel="iteration", ylabel="loss")
    axes[0].legend()
    for col in ("auc_h", "auc_z"):
        if col in log:
            axes[1].plot(log["iteration"], log[col], label=f"held-out AUC ({col[-1]})")
    sched = [c for c in ("p", "beta", "tau") if c in log]
    for col in sched:
        axes[1].plot(log["iteration"], log[col], linestyle="--", label=col)
    axes[1].set(title="held-out link AUC and schedule", xlabel="iteration")
    axes[1].legend()
    keys = [k for k in (history[0] if history else {}) if k.startswith("valid_")]
    for key in keys:
        axes[2].plot([h["iteration"] for h in history if key in h], [h[key] for h in history if key in h],
                     marker="o", label=key)
    axes[2].set(title="validation", xlabel="iteration", ylabel="recall")
    if keys:
        axes[2].legend()
    fig.suptitle(str(rd.path.name))
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=120)
    plt.close(fig)
    with rd:  # the lock for this one write (shared with the run's writer when it is this process)
        rd.write_bytes(name, buf.getvalue())
    return rd.file(name)
