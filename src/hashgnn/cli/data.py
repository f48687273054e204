"""``hashgnn data``: list, download, verify, info and split datasets."""

from __future__ import annotations

import time

import typer
from rich.console import Console
from rich.table import Table

from hashgnn.data import DATASETS, DataConfig, SplitConfig, get_dataset, load_interactions, load_split_for
from hashgnn.data.download import data_root

app = typer.Typer(help="Datasets: list, download, verify, statistics and splits.", no_args_is_help=True)
console = Console()

DatasetArg = typer.Argument(..., help="registry name (see `hashgnn data list`) or a CSV/TSV/Parquet file")


FORMAT_HELP = ("format of a file DATASET: auto (from its name: *.dat ratings.dat, *.data u.data, "
               "*.rating NCF, "
               "train/test.txt adjacency, else CSV/TSV/Parquet) | table | adjacency | ncf | movielens-dat | "
               "movielens-100k")


# one text per data option, shared by `hashgnn data info/split` and `hashgnn train`
DATA_HELP = {
    "root": "data root (default $HASHGNN_DATA or the user cache dir)",
    "min_degree": "k-core filter: keep users and items with >= this many interactions",
    "user_col": "user id column of a CSV/TSV/Parquet file (setting data.user_col; default 'user')",
    "item_col": "item id column of a CSV/TSV/Parquet file (setting data.item_col; default 'item')",
    "rating_col": "rating column of a CSV/TSV/Parquet file (data.rating_col)",
    "timestamp_col": "time column of a CSV/TSV/Parquet file: Unix seconds or date-times (data.timestamp_col)",
    "sep": "CSV separator (default: ',' or tab for .tsv)",
    "min_rating": "drop rows whose rating is below this (needs --rating-col)",
}


def data_config(dataset: str, root: str | None, min_degree: int, user_col: str, item_col: str,
                rating_col: str | None, timestamp_col: str | None, sep: str | None,
                min_rating: float | None = None, fmt: str = "auto") -> DataConfig:
    from hashgnn.recommender import check_data_options

    cfg = DataConfig(dataset=dataset, root=root, min_degree=min_degree, user_col=user_col, item_col=item_col,
                     rating_col=rating_col, timestamp_col=timestamp_col, sep=sep, min_rating=min_rating,
                     format=fmt)
    check_data_options(cfg)
    return cfg


def given_data_options(root: str | None = None, min_degree: int | None = None, user_col: str | None = None,
                       item_col: str | None = None, rating_col: str | None = None,
                       timestamp_col: str | None = None, sep: str | None = None, min_rating: float | None = None,
                       fmt: str | None = None) -> dict[str, object]:
    """The :class:`DataConfig` fields given on a command line (None = not given, so a config file or
    ``--set data.*`` keeps its value)."""
    given = {"root": root, "min_degree": min_degree, "user_col": user_col, "item_col": item_col,
             "rating_col": rating_col, "timestamp_col": timestamp_col, "sep": sep, "min_rating": min_rating,
             "format": fmt}
    return {k: v for k, v in given.items() if v is not None}


@app.command("list")
def list_() -> None:
    """Registered datasets and whether their files are in the data root."""
    table = Table(title="datasets")
    for col in ("name", "available", "description"):
        table.add_column(col)
    for name, spec in sorted(DATASETS.items()):
        table.add_row(name, "yes" if spec.is_available() else "no", spec.description)
    console.print(table)


@app.command()
def download(dataset: str = typer.Argument(...), root: str = typer.Option(None, help="data root")) -> None:
    """Download a dataset's files from their official sources and check their sha256."""
    for path in get_dataset(dataset).download(root):
        console.print(f"ok {path}")


@app.command()
def verify(dataset: str = typer.Argument(...), root: str = typer.Option(None, help="data root")) -> None:
    """Check the sha256 of a dataset's files (and companion files) against the registry.

    Prints one line per file: ok, BAD (sha256 mismatch), missing, or unchecked (no checksum known).
    Exit status 1 when a file is BAD or missing, 2 when none of the dataset's files is there.
    """
    spec = get_dataset(dataset)
    status = spec.verify_status(root)
    if all(status[f.path] == "missing" for f in spec.files):
        spec.require(root)  # raises DatasetNotFoundError saying where to put what
    base = data_root(root)
    for f in spec.files + spec.extras:
        line = f"{status[f.path]:<9} {f.path}"
        if status[f.path] == "missing":
            line += f"  (get it from {f.url}{' : ' + f.member if f.member else ''})"
        console.print(line, highlight=False, soft_wrap=True)
    console.print(f"data root: {base}", highlight=False, soft_wrap=True)
    if any(v in ("BAD", "missing") for v in status.values()):
        raise typer.Exit(1)


@app.command()
def info(
    dataset: str = DatasetArg,
    root: str = typer.Option(None, help=DATA_HELP["root"]),
    min_degree: int = typer.Option(0, help=DATA_HELP["min_degree"]),
    user_col: str = typer.Option("user", help=DATA_HELP["user_col"]),
    item_col: str = typer.Option("item", help=DATA_HELP["item_col"]),
    rating_col: str = typer.Option(None, help=DATA_HELP["rating_col"]),
    timestamp_col: str = typer.Option(None, help=DATA_HELP["timestamp_col"]),
    sep: str = typer.Option(None, help=DATA_HELP["sep"]),
    min_rating: float = typer.Option(None, help=DATA_HELP["min_rating"]),
    fmt: str = typer.Option("auto", "--format", help=FORMAT_HELP),
) -> None:
    """Statistics: users, items, interactions, density and degree quantiles."""
    t0 = time.perf_counter()
    cfg = data_config(dataset, root, min_degree, user_col, item_col, rating_col, timestamp_col, sep,
                      min_rating, fmt)
    inter, part = load_interactions(cfg)
    stats = inter.stats()
    table = Table(title=f"{inter.name}  ({time.perf_counter() - t0:.2f} s)")
    table.add_column("statistic")
    table.add_column("value", justify="right")
    for key in ("users", "items", "interactions"):
        table.add_row(key, f"{stats[key]:,}")
    table.add_row("density", f"{stats['density']:.5f}")
    for who in ("user", "item"):
        q = [stats[f"{who}_degree_{k}"] for k in ("min", "q25", "median", "q75", "max")]
        table.add_row(f"{who} degree min/q25/median/q75/max", " / ".join(f"{v:g}" for v in q))
        table.add_row(f"{who} degree mean", f"{stats[f'{who}_degree_mean']:.2f}")
    table.add_row("timestamps", "yes" if stats["has_timestamps"] else "no")
    if part is not None:
        n_train, n_test = int((part == 0).sum()), int((part == 1).sum())
        table.add_row("given split (train / test)", f"{n_train:,} / {n_test:,}")
    console.print(table)
    if dataset in DATASETS:
        spec = DATASETS[dataset]
        if spec.paper:
            console.print("paper Table 1: " + ", ".join(f"{k} {v:,}" for k, v in spec.paper.items()))
        if spec.note:
            console.print(f"note: {spec.note}")


@app.command()
def split(
    dataset: str = DatasetArg,
    kind: str = typer.Option(
        "random", help="random (paper 70/30 per user) | temporal | given (dataset's files)"),
    test_ratio: float = typer.Option(0.3), valid_ratio: float = typer.Option(0.1),
    seed: int = typer.Option(2020), test_days: float = typer.Option(1.0),
    test_fraction: float = typer.Option(None), root: str = typer.Option(None),
    min_degree: int = typer.Option(0), user_col: str = typer.Option("user"),
    item_col: str = typer.Option("item"), rating_col: str = typer.Option(None),
    timestamp_col: str = typer.Option(None), sep: str = typer.Option(None),
    min_rating: float = typer.Option(None), fmt: str = typer.Option("auto", "--format", help=FORMAT_HELP),
) -> None:
    """Materialise a split in the cache and report its sizes."""
    t0 = time.perf_counter()
    cfg = data_config(dataset, root, min_degree, user_col, item_col, rating_col, timestamp_col, sep,
                      min_rating, fmt)
    result = load_split_for(cfg, SplitConfig(kind, test_ratio, valid_ratio, seed, test_days, test_fraction))
    table = Table(title=f"{dataset}: {kind} split (seed {seed}, {time.perf_counter() - t0:.2f} s)")
    table.add_column("part")
    table.add_column("interactions", justify="right")
    table.add_column("share", justify="right")
    summary = result.summary()
    total = summary["train"] + summary["valid"] + summary["test"]
    for part in ("train", "valid", "test"):
        table.add_row(part, f"{summary[part]:,}", f"{summary[part] / total:.1%}")
    table.add_row("users with test items", f"{summary['test_users']:,}", "")
    console.print(table)
