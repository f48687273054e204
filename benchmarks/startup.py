"""Start-up cost of a scripted look-up: ``hashgnn recommend RUN --user ID`` timed before and after a change.

Each round runs the command once with the code under test (this checkout) and once with ``--before-src`` (a copy
of ``src/`` taken before the change, put first on PYTHONPATH), alternately, so both see the same machine load.
Reports wall and CPU (user + sys of the child) medians per side, checks that both sides print the same answer,
and times the long-lived alternative: one look-up through the recall service's HTTP app once it is loaded.

    python benchmarks/startup.py --before-src /tmp/before --before-commit SHA [--run-dir RUN] [--runs 5]

Without ``--run-dir`` a tiny run (40 users, 120 items, 1 epoch) is trained into a temporary folder first. The
result is one file per host, ``benchmarks/results/startup_<cpu>_<simd>.json``, with the command, commit and dirty
flag, date, CPU model and vector flags (``bench_index.write_host_result``, as every benchmark here).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def tiny_run(directory: Path) -> Path:
    """The serve tests' synthetic run: string user ids u0…u39, integer item ids 1000…1119."""
    import numpy as np

    from hashgnn.data.interactions import Interactions
    from hashgnn.recommender import HashGNN

    rng = np.random.default_rng(0)
    users = rng.integers(0, 40, 1500)
    items = (users * 3 + rng.integers(0, 30, len(users))) % 120
    inter = Interactions.from_raw(np.array([f"u{u}" for u in users]), (items + 1000).astype(np.int64), name="tiny")
    out = directory / "run"
    HashGNN(n_bits=16, epochs=1, batch_size=512,
            overrides={"train.auc_pairs": 500, "train.log_every": 5}).fit(inter, run_dir=out, progress=False)
    return out


def tiny_run_by(src: Path, directory: Path) -> Path:
    """:func:`tiny_run` trained by ``src``'s code: the before side's older code cannot read a run written by newer
    code (settings it does not know), while the code under test reads older runs."""
    code = (f"import sys, pathlib; sys.path.insert(0, {str(Path(__file__).resolve().parent)!r}); import startup; "
            f"startup.tiny_run(pathlib.Path({str(directory)!r}))")
    subprocess.run([sys.executable, "-c", code], env=side_env(src), check=True, capture_output=True)
    return directory / "run"


def timed(command: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """(wall s, child CPU s, stdout) of one run; a failing command stops the benchmark."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(command, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({proc.returncode}):\n{proc.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, proc.stdout


def side_env(src: Path | None) -> dict[str, str]:
    env = dict(os.environ, COLUMNS="100")
    if src is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(src), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


def summary(samples: list[tuple[float, float, str]]) -> dict:
    walls, cpus = [s[0] for s in samples], [s[1] for s in samples]
    return {"wall_s_median": round(statistics.median(walls), 3), "cpu_s_median": round(statistics.median(cpus), 3),
            "wall_s": [round(w, 3) for w in walls], "cpu_s": [round(c, 3) for c in cpus]}


def service_lookup(run_dir: Path, user: str, runs: int) -> dict:
    """The long-lived mode: load once (``hashgnn serve``'s app), then time single GETs and one batch."""
    from fastapi.testclient import TestClient

    from hashgnn.serve import create_app

    start = time.perf_counter()
    client = TestClient(create_app(run_dir))
    load = time.perf_counter() - start
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        response = client.get(f"/users/{user}/recommendations", params={"k": 10})
        times.append(time.perf_counter() - start)
        response.raise_for_status()
    users = [u for u in client.app.state.service.user_ids.tolist()]
    start = time.perf_counter()
    client.post("/recommendations/batch", json={"users": users, "k": 10}).raise_for_status()
    batch = time.perf_counter() - start
    return {"load_s": round(load, 3), "get_ms_median": round(1000 * statistics.median(times), 2),
            "batch_users": len(users), "batch_ms": round(1000 * batch, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before-src", type=Path, required=True, help="copy of src/ (holding hashgnn/) before")
    parser.add_argument("--run-dir", type=Path, help="run directory to query (default: train a tiny one)")
    parser.add_argument("--user", default="u3", help="original id of the user to look up")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--before-commit", required=True, help="the commit --before-src was taken from")
    parser.add_argument("--no-save", action="store_true", help="print the result, write no file")
    args = parser.parse_args()
    if not (args.before_src / "hashgnn" / "__init__.py").is_file():
        raise SystemExit(f"{args.before_src}: no hashgnn/ package inside")
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = args.run_dir or tiny_run_by(args.before_src.resolve(), Path(tmp))
        command = [sys.executable, "-m", "hashgnn", "recommend", str(run_dir), "--user", args.user, "-k", "10"]
        sides: dict[str, list] = {"before": [], "after": []}
        load = [os.getloadavg()[0]]
        for _ in range(args.runs):
            sides["before"].append(timed(command, side_env(args.before_src.resolve())))
            sides["after"].append(timed(command, side_env(None)))
        load.append(os.getloadavg()[0])
        same = {s[2] for s in sides["before"] + sides["after"]}
        service = service_lookup(run_dir, args.user, args.runs)
    result = {
        "what": "start-up + one look-up of a known user by the CLI, before and after making it lighter; and the "
                "same look-up through the long-lived recall service once loaded",
        "measured_command": ["hashgnn", command[3], "RUN", *command[5:]],
        "run_dir": "tiny synthetic run (40 users, 120 items, 16 bits), trained by the before side's code"
                   if args.run_dir is None else str(run_dir),
        "before_commit": args.before_commit, "logical_cpus": os.cpu_count(),
        "python": platform.python_version(), "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "nice": os.nice(0), "load_average_1min_start_end": [round(x, 2) for x in load],
        "runs_per_side": args.runs, "interleaved": True, "same_output_both_sides": len(same) == 1,
        "before": summary(sides["before"]), "after": summary(sides["after"]), "service": service,
        "note": "wall time on a shared machine depends on its load (see load_average); CPU time is the steadier "
                "figure of the work done",
    }
    from bench_index import write_host_result

    write_host_result("startup", result, save=not args.no_save)
    print(json.dumps({k: result[k] for k in ("before", "after", "service")}, indent=2))


if __name__ == "__main__":
    main()
