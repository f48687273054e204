"""Write ``fresh-clone.json``: `make run` timed on a fresh clone (install, then the run itself), beside the table it
printed, so that issue 30's bar ("make run stays <= 15 min on a fresh clone") is read from a file.

    git clone REPO /tmp/fresh/main && cd /tmp/fresh/main
    (time make install) > install.log 2>&1              # a fresh .venv: torch pinned first, then the package
    /usr/bin/time -v make run > run.out 2> run.err      # `make run` exactly, its default 2 threads
    python results/make-run/fresh_clone.py RUN_DIR --install-log install.log --time-log run.err \\
        --started ISO --finished ISO --load "1.6 1.5 2.7"

``RUN_DIR`` is the run `make run` wrote (its ``runs/`` folder); its test table is compared with ``make-run.json``'s.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

from collect import time_v

HERE = Path(__file__).parent


def bash_time(text: str) -> float:
    """Seconds of bash's ``time`` ``real`` line."""
    m = re.search(r"real\s+(\d+)m([\d.]+)s", text)
    return int(m.group(1)) * 60 + float(m.group(2)) if m else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("run_dir", type=Path)
    ap.add_argument("--install-log", type=Path, required=True)
    ap.add_argument("--time-log", type=Path, required=True)
    ap.add_argument("--started", required=True)
    ap.add_argument("--finished", required=True)
    ap.add_argument("--load", required=True, help="load average (1, 5, 15 min) when the run started")
    args = ap.parse_args()
    env = json.loads((args.run_dir / "env.json").read_text())
    results = json.loads((args.run_dir / "results.json").read_text())
    training = json.loads((args.run_dir / "training.json").read_text())
    stored = json.loads((HERE / "make-run.json").read_text())["test"]
    same = all(abs(results["test"][m][p][k] - v) < 5e-5 for m, by in stored.items() for p, metrics in by.items()
               for k, v in metrics.items())
    out = {"command": "make run", "git_commit": env["git_commit"], "git_dirty": env["git_dirty"],
           "started": args.started, "finished": args.finished, "cpu_model": env["cpu"]["model"],
           "simd": env["cpu"]["simd"], "torch_threads": env["torch_threads"],
           "load_average_at_start": [float(x) for x in args.load.split()],
           "install_seconds": bash_time(args.install_log.read_text()), **time_v(args.time_log.read_text()),
           "train_seconds": training["seconds"], "test": results["test"],
           "same_table_as_make_run_json_to_4_decimals": same}
    (HERE / "fresh-clone.json").write_text(json.dumps(out, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
