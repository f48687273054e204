"""``hashgnn data-synth``: generate a synthetic interaction log of any size (e.g. the paper's Alibaba size).

Registered by :func:`register` as a top-level command; :func:`synth_command` is a plain typer command
function so it can be re-registered elsewhere (``data_app.command("synth")(synth_command)``).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from hashgnn.data.synth import ALIBABA_SIZE, SynthConfig, generate, save_synth

console = Console()


def _peak_rss_mib() -> float:
    """Peak resident memory of this process so far (Linux reports ru_maxrss in KiB)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def synth_command(
    out: Path = typer.Option(..., "--out", help="output .npz path (written atomically)"),
    users: int = typer.Option(ALIBABA_SIZE[0], help="number of users (default: paper's Alibaba set)"),
    items: int = typer.Option(ALIBABA_SIZE[1], help="number of items"),
    interactions: int = typer.Option(ALIBABA_SIZE[2], help="target number of distinct user-item pairs"),
    communities: int = typer.Option(0, help="communities (0 = about sqrt(items)/20)"),
    in_community: float = typer.Option(0.8, help="probability an interaction stays in the user's community"),
    user_sigma: float = typer.Option(1.0, help="lognormal sigma of user activity"),
    item_popularity: str = typer.Option("zipf", help="zipf | lognormal"),
    item_exponent: float = typer.Option(0.8, help="Zipf exponent (or lognormal sigma) of item popularity"),
    min_user_degree: int = typer.Option(1, help="interactions guaranteed per user (paper's Alibaba: 10)"),
    min_item_degree: int = typer.Option(1, help="interactions guaranteed per item"),
    days: float = typer.Option(7.0, help="time span of the timestamps, in days"),
    seed: int = typer.Option(0, help="random seed"),
    name: str = typer.Option("synth", help="dataset name"),
) -> None:
    """Generate a synthetic user-item log (degree-corrected block model, 7 days of timestamps) as .npz."""
    cfg = SynthConfig(n_users=users, n_items=items, n_interactions=interactions, n_communities=communities,
                      in_community=in_community, user_sigma=user_sigma, item_popularity=item_popularity,
                      item_exponent=item_exponent, min_user_degree=min_user_degree,
                      min_item_degree=min_item_degree, days=days, seed=seed, name=name)
    t0 = time.perf_counter()
    graph = generate(cfg)
    t_gen = time.perf_counter() - t0
    save_synth(graph, out)
    t_save = time.perf_counter() - t0 - t_gen
    inter = graph.interactions
    ud, idg = inter.user_degrees(), inter.item_degrees()
    table = Table(title=f"synthetic log -> {out}")
    table.add_column("statistic")
    table.add_column("value", justify="right")
    table.add_row("users / items", f"{inter.n_users:,} / {inter.n_items:,}")
    table.add_row("interactions (requested)", f"{len(inter):,} ({graph.requested:,})")
    table.add_row("communities", f"{cfg.communities():,}")
    table.add_row("within-community share", f"{graph.within_community_share():.3f}")
    for who, deg in (("user", ud), ("item", idg)):
        q = np.quantile(deg, [0.0, 0.5, 0.99, 1.0])
        table.add_row(f"{who} degree min/median/p99/max", " / ".join(f"{v:g}" for v in q))
    table.add_row("generate / save", f"{t_gen:.1f} s / {t_save:.1f} s")
    table.add_row("peak RSS", f"{_peak_rss_mib():,.0f} MiB")
    console.print(table)


def register(app: typer.Typer) -> None:
    """Add ``data-synth`` to the top-level app (the lead may move it under ``hashgnn data synth``)."""
    app.command("data-synth")(synth_command)
