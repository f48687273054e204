"""Load test of the recall service: start ``hashgnn serve RUN_DIR`` on 127.0.0.1, hammer it with httpx.

Two phases over the same server, each of ``--requests`` requests at ``--concurrency`` in flight:

* ``clean``: valid requests only — 50 % ``GET /users/{id}/recommendations``, 30 % ``GET /items/{id}/similar``,
  20 % (``--new-user-share``) ``POST /recommendations`` (a new user with 3–20 known items); modes drawn
  uniformly from the model's; k from {10, 20, 50, 100}.
* ``mixed``: the same mix with ``--invalid`` (5 %) invalid requests: unknown user / item ids, unknown items in
  a POST body, an empty item list, k ≤ 0, k > max_k, a non-integer k, an unknown mode, a malformed body.

Reports throughput, latency p50/p99 (overall and per endpoint), status counts, the number of 5xx (must be 0)
and whether every valid request got 200 and every invalid one the 404/422 it should. Exit status 1 otherwise.

    python benchmarks/bench_serve.py RUN_DIR [--requests 10000] [--concurrency 16] [--quick] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np


@dataclass
class Req:
    kind: str  # endpoint label
    method: str
    url: str
    body: object = None
    expect: tuple[int, ...] = (200,)
    invalid: bool = False


@dataclass
class Outcome:
    req: Req
    status: int
    seconds: float
    extra: dict = field(default_factory=dict)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(run_dir: Path, port: int, workers: int, log_path: Path) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "hashgnn", "serve", str(run_dir), "--host", "127.0.0.1", "--port", str(port),
           "--workers", str(workers), "--log-level", "warning"]
    log = open(log_path, "wb")  # noqa: SIM115 - closed with the process
    return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ))


def wait_healthy(base: str, proc: subprocess.Popen, timeout: float = 180.0) -> dict:
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with status {proc.returncode} before becoming healthy")
        try:
            r = httpx.get(f"{base}/health", timeout=2.0)
            if r.status_code == 200:
                return r.json()
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    raise SystemExit(f"server not healthy after {timeout:.0f} s")


def make_requests(n: int, invalid_frac: float, health: dict, user_ids: list, item_ids: list,
                  rng: np.random.Generator, new_user_share: float = 0.2) -> list[Req]:
    modes = health["modes"]
    max_k = health["max_k"]
    ks = [k for k in (10, 20, 50, 100) if k <= min(max_k, health["n_items"])] or [1]
    reqs: list[Req] = []
    for _ in range(n):
        if rng.random() < invalid_frac:
            reqs.append(invalid_request(rng, user_ids, item_ids, modes, max_k))
            continue
        mode, k = modes[rng.integers(len(modes))], int(ks[rng.integers(len(ks))])
        r = rng.random()
        if r < 1.0 - new_user_share - 0.3:
            uid = user_ids[rng.integers(len(user_ids))]
            reqs.append(Req("user", "GET", f"/users/{uid}/recommendations?k={k}&mode={mode}"))
        elif r < 1.0 - new_user_share:
            iid = item_ids[rng.integers(len(item_ids))]
            reqs.append(Req("similar", "GET", f"/items/{iid}/similar?k={k}&mode={mode}"))
        else:
            m = int(rng.integers(3, 21))
            items = [item_ids[i] for i in rng.choice(len(item_ids), m, replace=False)]
            reqs.append(Req("new_user", "POST", "/recommendations", {"items": items, "k": k, "mode": mode}))
    return reqs


def invalid_request(rng, user_ids, item_ids, modes, max_k) -> Req:
    uid = user_ids[rng.integers(len(user_ids))]
    iid = item_ids[rng.integers(len(item_ids))]
    case = int(rng.integers(9))
    if case == 0:
        return Req("invalid", "GET", "/users/no-such-user-42/recommendations", expect=(404,), invalid=True)
    if case == 1:
        return Req("invalid", "GET", "/items/no-such-item-42/similar", expect=(404,), invalid=True)
    if case == 2:
        return Req("invalid", "POST", "/recommendations", {"items": [iid, "no-such-item-42"]}, (404,), True)
    if case == 3:
        return Req("invalid", "POST", "/recommendations", {"items": []}, (422,), True)
    if case == 4:
        return Req("invalid", "GET", f"/users/{uid}/recommendations?k=0", expect=(422,), invalid=True)
    if case == 5:
        return Req("invalid", "GET", f"/items/{iid}/similar?k={max_k + 1}", expect=(422,), invalid=True)
    if case == 6:
        return Req("invalid", "GET", f"/users/{uid}/recommendations?k=ten", expect=(422,), invalid=True)
    if case == 7:
        return Req("invalid", "GET", f"/items/{iid}/similar?mode=bogus", expect=(422,), invalid=True)
    return Req("invalid", "POST", "/recommendations", "{not json", (422,), True)


async def run_phase(base: str, reqs: list[Req], concurrency: int) -> tuple[list[Outcome], float]:
    queue: asyncio.Queue[Req] = asyncio.Queue()
    for r in reqs:
        queue.put_nowait(r)
    out: list[Outcome] = []
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60.0) as client:

        async def worker() -> None:
            while True:
                try:
                    r = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                t0 = time.perf_counter()
                try:
                    if r.method == "GET":
                        resp = await client.get(r.url)
                    elif isinstance(r.body, str):
                        resp = await client.post(r.url, content=r.body, headers={"content-type": "application/json"})
                    else:
                        resp = await client.post(r.url, json=r.body)
                    status = resp.status_code
                    extra = {}
                    if status == 200 and r.kind != "invalid":
                        extra["n"] = len(resp.json()["items"])
                except httpx.HTTPError as exc:
                    status, extra = -1, {"error": repr(exc)}
                out.append(Outcome(r, status, time.perf_counter() - t0, extra))

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall = time.perf_counter() - t0
    return out, wall


def summarise(name: str, outcomes: list[Outcome], wall: float) -> dict:
    lat = np.array([o.seconds for o in outcomes]) * 1000
    statuses = Counter(o.status for o in outcomes)
    by_kind: dict[str, list[float]] = defaultdict(list)
    for o in outcomes:
        by_kind[o.req.kind].append(o.seconds * 1000)
    wrong = [o for o in outcomes if o.status not in o.req.expect]
    invalid = [o for o in outcomes if o.req.invalid]
    return {
        "phase": name,
        "requests": len(outcomes),
        "seconds": round(wall, 2),
        "throughput_rps": round(len(outcomes) / wall, 1),
        "p50_ms": round(float(np.percentile(lat, 50)), 2),
        "p99_ms": round(float(np.percentile(lat, 99)), 2),
        "mean_ms": round(float(lat.mean()), 2),
        "per_endpoint": {k: {"n": len(v), "p50_ms": round(float(np.percentile(v, 50)), 2),
                             "p99_ms": round(float(np.percentile(v, 99)), 2)} for k, v in sorted(by_kind.items())},
        "status_counts": {str(k): v for k, v in sorted(statuses.items())},
        "n_5xx": sum(v for k, v in statuses.items() if k >= 500),
        "n_transport_errors": statuses.get(-1, 0),
        "n_invalid": len(invalid),
        "invalid_all_404_or_422": all(o.status in (404, 422) for o in invalid),
        "n_unexpected_status": len(wrong),
        "unexpected_examples": [(o.req.method, o.req.url, o.status, o.extra.get("error", ""))
                                for o in wrong[:5]],
    }


def print_summary(s: dict) -> None:
    print(f"[{s['phase']}] {s['requests']} requests in {s['seconds']} s: {s['throughput_rps']} req/s, "
          f"p50 {s['p50_ms']} ms, p99 {s['p99_ms']} ms, mean {s['mean_ms']} ms")
    for k, v in s["per_endpoint"].items():
        print(f"    {k:9s} n={v['n']:6d}  p50 {v['p50_ms']:7.2f} ms  p99 {v['p99_ms']:7.2f} ms")
    print(f"    statuses {s['status_counts']}; 5xx: {s['n_5xx']}; invalid requests: {s['n_invalid']}, all 404/422: "
          f"{s['invalid_all_404_or_422']}; unexpected statuses: {s['n_unexpected_status']}")
    for ex in s["unexpected_examples"]:
        print(f"    unexpected: {ex}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run_dir", type=Path)
    ap.add_argument("--requests", type=int, default=10_000, help="requests per phase (clean, mixed)")
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--invalid", type=float, default=0.05, help="fraction of invalid requests in the mixed phase")
    ap.add_argument("--workers", type=int, default=1, help="uvicorn workers of the server")
    ap.add_argument("--new-user-share", type=float, default=0.2,
                    help="share of POST /recommendations (inductive) among valid requests; users get the rest "
                         "but 30 %% (similar items)")
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="1,000 requests per phase")
    ap.add_argument("--json", type=Path, help="also write the summary here")
    ap.add_argument("--save", action="store_true",
                    help="also write benchmarks/results/serve_<cpu>_<simd>[_quick].json (command, commit, host)")
    ap.add_argument("--run-note", default="", help="with --save: how the run directory was made")
    args = ap.parse_args(argv)
    if args.quick:
        args.requests, args.warmup = 1000, 50

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from hashgnn.training.rundir import RunDir

    rd = RunDir(args.run_dir)
    ids = rd.read_arrays("id_maps.npz")
    user_ids = [x.item() if isinstance(x, np.generic) else x for x in ids["user_ids"]]
    item_ids = [x.item() if isinstance(x, np.generic) else x for x in ids["item_ids"]]

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log_path = Path(tempfile.gettempdir()) / f"bench_serve_{port}.log"
    proc = start_server(args.run_dir, port, args.workers, log_path)
    try:
        t0 = time.perf_counter()
        health = wait_healthy(base, proc)
        print(f"server {base} healthy after {time.perf_counter() - t0:.1f} s: {health['dataset']} "
              f"({health['n_users']} users, {health['n_items']} items, K={health['n_bits']}, "
              f"modes {health['modes']}), {args.workers} worker(s); client concurrency {args.concurrency}")
        rng = np.random.default_rng(args.seed)
        asyncio.run(run_phase(base, make_requests(args.warmup, 0.0, health, user_ids, item_ids, rng),
                              args.concurrency))
        results = []
        for name, frac in (("clean", 0.0), ("mixed", args.invalid)):
            reqs = make_requests(args.requests, frac, health, user_ids, item_ids, rng, args.new_user_share)
            outcomes, wall = asyncio.run(run_phase(base, reqs, args.concurrency))
            summary = summarise(name, outcomes, wall)
            print_summary(summary)
            results.append(summary)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
    ok = all(s["n_5xx"] == 0 and s["n_unexpected_status"] == 0 and s["n_transport_errors"] == 0 for s in results)
    # reliability criterion: invalid requests mixed in must not slow valid ones down (p99 within 2x of clean)
    p99_ratio = results[1]["p99_ms"] / max(results[0]["p99_ms"], 1e-9)
    print(f"p99 mixed / clean = {p99_ratio:.2f} (criterion: <= 2.0): {'OK' if p99_ratio <= 2.0 else 'EXCEEDED'}")
    print("OK: no 5xx, every valid request 200, every invalid one 404/422" if ok else "FAILED (see above)")
    if args.json:
        args.json.write_text(json.dumps({"run_dir": str(args.run_dir), "health": health, "args": {
            k: str(v) for k, v in vars(args).items()}, "phases": results, "p99_mixed_over_clean": p99_ratio}, indent=2))
    if args.save:
        from bench_index import write_host_result

        write_host_result(f"serve{'_quick' if args.quick else ''}", {
            "run_dir": str(args.run_dir), "run_note": args.run_note, "health": health, "concurrency":
            args.concurrency, "workers": args.workers, "phases": results, "p99_mixed_over_clean": p99_ratio,
            "ok": ok})
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
