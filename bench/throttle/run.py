"""bench/throttle: converging cars on the Carzle sandbox under a short rate window.

    python -m bench.throttle.run                      # single dealer, 300 cars, then 10 dealers
    python -m bench.throttle.run --cars 300 --window 6 --writes 30 --reads 60
    python -m bench.throttle.run --only single        # or --only multi
    python -m bench.throttle.run --dealers 10 --dealer-cars 60 --workers 2

Each scenario starts its own stack (redis-server, the sandbox with ``--window/--write-limit/
--read-limit``, one site per dealer whose Carzle destination sets ``rate_window``,
``rate_writes`` and ``rate_reads`` to the same numbers, ``flask forecourt release``, gunicorn
as the Procfile runs it, ``--workers`` RQ workers and the scheduler), sends one signed
WordPress webhook per car (DEBOUNCE_SECONDS=0.5 so the debounce does not dominate), and
waits until every car is live on the sandbox and Forecourt has nothing left queued.

Printed:

* single dealer: elapsed / ideal, where elapsed = first webhook sent → last listing created
  (sandbox ``createdAt``) and ideal = N ÷ writes-per-window × window (goal ≤ 1.10); the 429
  count (sandbox stats) and the most 429s in any one window (Forecourt's attempt log) (goal:
  at most one per key per window); duplicates (listings created beyond one per car).
* multi dealer: aggregate throughput (cars ÷ elapsed) ÷ the sum of the per-key write limits
  (goal ≥ 0.9), and the same per-key 429 figures.
"""

from __future__ import annotations

import argparse
import json
import math
import sqlite3
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

from bench.common import (
    SiteSpec,
    Stack,
    busy_cpu_seconds,
    car_post,
    failed_jobs,
    http_json,
    key_totals,
    log,
    machine_summary,
    make_sites,
    rq_pending,
)


def parse_ts(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def send_webhooks(stack: Stack, work: list[tuple[SiteSpec, int]], threads: int = 8) -> tuple[float, float]:
    """One signed save_post per (site, car), from ``threads`` senders; returns (start, end)."""
    failures: list[Any] = []

    def one(item: tuple[SiteSpec, int]) -> None:
        site, post_id = item
        status, body = stack.post_webhook(site, car_post(post_id))
        if status != 202:
            failures.append((status, body))

    started = time.time()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(one, work))
    if failures:
        raise RuntimeError(f"{len(failures)} webhooks were not accepted, e.g. {failures[:2]}")
    return started, time.time()


def wait_converged(stack: Stack, expected: int, *, timeout: float) -> float:
    """Poll the sandbox until ``expected`` listings are live; returns when it saw that."""
    deadline = time.monotonic() + timeout
    last_live = -1
    while True:
        status, stats = http_json("GET", f"{stack.sandbox_root}/_sandbox/stats")
        live = int(stats["carzle"]["listings"]["live"]) if status == 200 else 0
        if live >= expected:
            return time.time()
        if live != last_live:
            last_live = live
        stack.check_alive()
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {live}/{expected} listings live after {timeout:.0f}s; "
                               f"pending: {rq_pending(stack.redis())}")
        time.sleep(0.25)


def wait_idle(stack: Stack, *, timeout: float = 30.0) -> dict[str, int]:
    deadline = time.monotonic() + timeout
    client = stack.redis()
    while True:
        left = {k: v for k, v in rq_pending(client).items() if v}
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.25)


def listings(stack: Stack, showroom: str) -> list[dict[str, Any]]:
    status, body = http_json("GET", f"{stack.sandbox_root}/_sandbox/carzle/listings?showroom={showroom}"
                                    "&includeDeleted=true", timeout=30)
    assert status == 200, body
    return body if isinstance(body, list) else (body.get("listings") or body.get("data") or [])


def attempts_429(stack: Stack) -> list[tuple[str, float]]:
    """(site id, time) of every 429 in Forecourt's attempt log (read-only)."""
    db = sqlite3.connect(f"file:{stack.dir / 'forecourt.db'}?mode=ro", uri=True)
    try:
        rows = db.execute(
            "SELECT d.site_id, a.created_at FROM sync_attempts a JOIN destinations d ON d.id = a.destination_id "
            "WHERE a.http_status = 429"
        ).fetchall()
    finally:
        db.close()
    out = []
    for site_id, created in rows:
        value = datetime.fromisoformat(str(created))
        out.append((site_id, value.timestamp()))
    return out


def job_stats(stack: Stack) -> dict[str, int]:
    """How much work the sync took: attempts by outcome, from the attempt log (read-only)."""
    db = sqlite3.connect(f"file:{stack.dir / 'forecourt.db'}?mode=ro", uri=True)
    try:
        rows = db.execute("SELECT outcome, COUNT(*) FROM sync_attempts GROUP BY outcome").fetchall()
    finally:
        db.close()
    return {k: v for k, v in rows}


def run_scenario(name: str, args: argparse.Namespace, dealers: int, cars_per_dealer: int) -> dict[str, Any]:
    sites = make_sites(dealers, window=args.window, writes=args.writes, reads=args.reads, prefix=name[:6])
    total = dealers * cars_per_dealer
    ideal = cars_per_dealer / args.writes * args.window  # per key; keys run in parallel
    with Stack(f"throttle-{name}", keep=args.keep) as stack:
        stack.start_redis()
        stack.start_sandbox(window=args.window, read_limit=args.reads, write_limit=args.writes,
                            keys=[(s.carzle_key, s.showroom) for s in sites])
        stack.configure(sites, DEBOUNCE_SECONDS=str(args.debounce),
                        DEBOUNCE_MAX_WAIT_SECONDS=str(max(args.debounce, 2.0)))
        stack.start_web(workers=args.web_workers, threads=4)
        stack.start_workers(args.workers, kind=args.worker_class)
        stack.start_scheduler()
        time.sleep(1.0)  # let workers register before the burst
        log(f"{name}: {dealers} dealer(s) × {cars_per_dealer} cars; window {args.window:g}s, "
            f"{args.writes} writes / {args.reads} reads per window per key; {args.workers} RQ workers")
        cpu0 = busy_cpu_seconds()
        work = [(site, 1000 + i) for i in range(cars_per_dealer) for site in sites]
        t0, t_sent = send_webhooks(stack, work)
        log(f"{name}: {total} webhooks accepted in {t_sent - t0:.1f}s")
        timeout = min(args.max_seconds, max(60.0, 4 * ideal + 30))
        seen_done = wait_converged(stack, total, timeout=timeout)
        left = wait_idle(stack, timeout=20)
        cpu_used = busy_cpu_seconds() - cpu0
        wall = time.time() - t0
        stats = stack.sandbox_stats()
        per_key = {}
        first_create, last_create = math.inf, 0.0
        duplicates = 0
        for site in sites:
            items = listings(stack, site.showroom)
            refs = Counter(item.get("externalRef") for item in items)
            duplicates += sum(n - 1 for n in refs.values() if n > 1)
            created = [parse_ts(item["createdAt"]) for item in items if item.get("createdAt")]
            k_first, k_last = (min(created), max(created)) if created else (math.nan, math.nan)
            first_create, last_create = min(first_create, k_first), max(last_create, k_last)
            per_window_writes: Counter[int] = Counter(int((t - k_first) // args.window) for t in created)
            per_key[site.id] = {**key_totals(stats, site.carzle_key), "listings": len(items),
                                "first_create": k_first, "last_create": k_last,
                                "creates_per_window": [per_window_writes.get(i, 0)
                                                       for i in range(max(per_window_writes, default=-1) + 1)]}
        hits = attempts_429(stack)
        per_window: Counter[tuple[str, int]] = Counter()
        for site_id, at in hits:
            first = per_key[site_id]["first_create"]
            per_window[(site_id, int((at - first) // args.window) if not math.isnan(first) else 0)] += 1
        elapsed = last_create - t0
        result = {
            "scenario": name, "dealers": dealers, "cars_per_dealer": cars_per_dealer, "cars": total,
            "window": args.window, "writes": args.writes, "reads": args.reads, "workers": args.workers,
            "worker_class": args.worker_class,
            "webhooks_seconds": t_sent - t0, "elapsed": elapsed, "ideal": ideal,
            "first_write_after": first_create - t0, "write_span": last_create - first_create,
            "seen_done_after": seen_done - t0, "idle_after": wall, "left_pending": left,
            "rate_limited": sum(k["rateLimited"] for k in per_key.values()),
            "writes_total": sum(k["writes"] for k in per_key.values()),
            "reads_total": sum(k["reads"] for k in per_key.values()),
            "posts": sum(k["posts"] for k in per_key.values()),
            "listings": sum(k["listings"] for k in per_key.values()),
            "duplicates": duplicates,
            "max_429_per_key_window": max(per_window.values()) if per_window else 0,
            "windows_with_429": len(per_window),
            "failed_jobs": failed_jobs(stack.redis()),
            "attempt_outcomes": job_stats(stack),
            "cpu_cores_busy": cpu_used / wall if wall else 0.0,
            "per_key": per_key,
        }
    return result


def report_single(r: dict[str, Any]) -> None:
    ratio = r["elapsed"] / r["ideal"]
    windows = math.ceil(r["elapsed"] / r["window"])
    print(f"single dealer: {r['cars']} cars, window {r['window']:g} s, {r['writes']} writes / {r['reads']} reads "
          f"per window, {r['workers']} RQ workers ({r['worker_class']})")
    print(f"  elapsed (first webhook → last listing created): {r['elapsed']:.1f} s; "
          f"ideal N÷W×window = {r['ideal']:.1f} s")
    print(f"  elapsed / ideal = {ratio:.2f}  (goal ≤ 1.10: {'MET' if ratio <= 1.10 else 'NOT MET'})")
    print(f"  first write {r['first_write_after']:.1f} s after the first webhook; writes spanned "
          f"{r['write_span']:.1f} s (a perfect client needs (⌈N/W⌉−1)×window = "
          f"{(math.ceil(r['cars'] / r['writes']) - 1) * r['window']:.0f} s)")
    print(f"  429s: {r['rate_limited']} over ~{windows} windows; most in one window: "
          f"{r['max_429_per_key_window']} (goal ≤ 1 per key per window: "
          f"{'MET' if r['max_429_per_key_window'] <= 1 else 'NOT MET'})")
    print(f"  sandbox: {r['writes_total']} writes ({r['posts']} POSTs), {r['reads_total']} reads, "
          f"{r['listings']} listings, {r['duplicates']} duplicates; failed jobs: {r['failed_jobs']}")
    (key,) = r["per_key"].values()
    print(f"  creates per window (from the first create): {key['creates_per_window']}")
    print(f"  attempt log outcomes: {r['attempt_outcomes']} (rate_limited = a push job that found the "
          f"budget spent and was rescheduled); all cores busy {r['cpu_cores_busy']:.2f}/2")


def report_multi(r: dict[str, Any]) -> None:
    limit = r["dealers"] * r["writes"] / r["window"]
    throughput = r["cars"] / r["elapsed"]
    ratio = throughput / limit
    print(f"multi dealer: {r['dealers']} dealers × {r['cars_per_dealer']} cars = {r['cars']} cars, "
          f"window {r['window']:g} s, {r['writes']} writes per key per window, {r['workers']} RQ workers "
          f"({r['worker_class']})")
    print(f"  elapsed (first webhook → last listing created): {r['elapsed']:.1f} s "
          f"(per-key ideal N÷W×window = {r['ideal']:.1f} s)")
    print(f"  aggregate throughput {throughput:.1f} cars/s ÷ sum of per-key limits {limit:.1f} writes/s "
          f"= {ratio:.2f}  (goal ≥ 0.9: {'MET' if ratio >= 0.9 else 'NOT MET'})")
    print(f"  429s: {r['rate_limited']} in all; most for one key in one window: {r['max_429_per_key_window']} "
          f"(goal ≤ 1: {'MET' if r['max_429_per_key_window'] <= 1 else 'NOT MET'})")
    spans = [k["last_create"] - k["first_create"] for k in r["per_key"].values()]
    print(f"  per key, first → last create: {min(spans):.1f}–{max(spans):.1f} s; "
          f"sandbox: {r['writes_total']} writes, {r['reads_total']} reads, {r['listings']} listings, "
          f"{r['duplicates']} duplicates; failed jobs: {r['failed_jobs']}")
    print(f"  attempt log outcomes: {r['attempt_outcomes']}; all cores busy {r['cpu_cores_busy']:.2f}/2")
    first = next(iter(r["per_key"].values()))
    print(f"  creates per window for {next(iter(r['per_key']))}: {first['creates_per_window']}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.throttle.run", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cars", type=int, default=300, help="cars for the single-dealer run")
    p.add_argument("--window", type=float, default=6.0, help="rate window, seconds (sandbox and Forecourt)")
    p.add_argument("--writes", type=int, default=30, help="writes per window per key")
    p.add_argument("--reads", type=int, default=60, help="reads per window per key")
    p.add_argument("--dealers", type=int, default=10, help="dealers (keys) in the multi-dealer run")
    p.add_argument("--dealer-cars", type=int, default=60, help="cars per dealer in the multi-dealer run")
    p.add_argument("--workers", type=int, default=2, help="RQ worker processes (python -m workers worker)")
    p.add_argument("--worker-class", choices=("procfile", "simple"), default="procfile",
                   help="procfile = python -m workers worker (forking, the real thing); simple = what-if: "
                        "rq worker -w rq.worker.SimpleWorker (no fork per job)")
    p.add_argument("--web-workers", type=int, default=1, help="gunicorn workers (WEB_CONCURRENCY)")
    p.add_argument("--debounce", type=float, default=0.5, help="DEBOUNCE_SECONDS")
    p.add_argument("--only", choices=("single", "multi"), help="run one scenario")
    p.add_argument("--max-seconds", type=float, default=300.0, help="give up on convergence after this")
    p.add_argument("--keep", action="store_true")
    p.add_argument("--json", metavar="FILE")
    args = p.parse_args(argv)

    started = time.monotonic()
    results = {}
    if args.only in (None, "single"):
        results["single"] = run_scenario("single", args, 1, args.cars)
    if args.only in (None, "multi"):
        results["multi"] = run_scenario("multi", args, args.dealers, args.dealer_cars)
    print()
    print("bench/throttle — cars converged on the Carzle sandbox under a short rate window")
    print(f"machine: {machine_summary()}")
    if "single" in results:
        report_single(results["single"])
    if "multi" in results:
        report_multi(results["multi"])
    print(f"\n(total wall time {time.monotonic() - started:.0f} s)")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
