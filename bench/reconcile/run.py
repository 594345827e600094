"""bench/reconcile: a no-op reconciliation of N unchanged, already-synced cars.

    python -m bench.reconcile.run                  # N = 300
    python -m bench.reconcile.run --cars 250 --repeat 2

Starts its own stack (redis-server, the Carzle sandbox, one site, ``flask forecourt release``,
gunicorn as the Procfile runs it, RQ workers and the scheduler), syncs N cars through signed
webhooks (generous rate limits, so setup is quick), waits until every car is live and nothing
is queued, then reads the sandbox's per-key counters, calls
``POST /api/v1/sites/<id>/reconcile`` (admin token), waits for the reconcile job and anything
it enqueued, and reads the counters again.

Printed: reads, writes (goal 0), and reads ÷ ⌈N/100⌉ (goal ≈ 1: one ``GET /listings`` page of
100 per 100 cars), plus what the reconcile job reported (missing / stale / orphans / pushed).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import (
    Stack,
    failed_jobs,
    http_json,
    key_totals,
    log,
    machine_summary,
    make_sites,
)
from bench.throttle.run import send_webhooks, wait_converged, wait_idle


def wait_job(stack: Stack, job_id: str, *, timeout: float) -> Any:
    from rq.job import Job

    client = stack.redis()
    deadline = time.monotonic() + timeout
    while True:
        job = Job.fetch(job_id, connection=client)
        status = job.get_status(refresh=True)
        if status in ("finished", "failed", "stopped", "canceled"):
            if status != "finished":
                raise RuntimeError(f"reconcile job {status}: {job.latest_result()}")
            return job.return_value()
        if time.monotonic() > deadline:
            raise RuntimeError(f"reconcile job still {status} after {timeout}s")
        stack.check_alive()
        time.sleep(0.1)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.reconcile.run", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cars", type=int, default=300)
    p.add_argument("--repeat", type=int, default=1, help="reconciliations to run back to back")
    p.add_argument("--workers", type=int, default=2, help="RQ worker processes")
    p.add_argument("--worker-class", choices=("procfile", "simple"), default="procfile")
    p.add_argument("--keep", action="store_true")
    p.add_argument("--json", metavar="FILE")
    args = p.parse_args(argv)

    started = time.monotonic()
    window, writes, reads = 60.0, 100_000, 100_000  # setup must not wait on limits
    (site,) = make_sites(1, window=window, writes=writes, reads=reads, prefix="recon")
    runs: list[dict[str, Any]] = []
    with Stack("reconcile", keep=args.keep) as stack:
        stack.start_redis()
        stack.start_sandbox(window=window, read_limit=reads, write_limit=writes,
                            keys=[(site.carzle_key, site.showroom)])
        stack.configure([site], DEBOUNCE_SECONDS="0.5", DEBOUNCE_MAX_WAIT_SECONDS="2")
        stack.start_web(workers=1, threads=4)
        stack.start_workers(args.workers, kind=args.worker_class)
        stack.start_scheduler()
        time.sleep(1.0)
        t0, _ = send_webhooks(stack, [(site, 1000 + i) for i in range(args.cars)])
        wait_converged(stack, args.cars, timeout=max(120.0, args.cars * 0.5))
        left = wait_idle(stack, timeout=60)
        if left:
            raise RuntimeError(f"setup did not settle: {left}")
        log(f"{args.cars} cars synced in {time.time() - t0:.1f}s; reconciling")
        setup = key_totals(stack.sandbox_stats(), site.carzle_key)
        for n in range(1, args.repeat + 1):
            before = key_totals(stack.sandbox_stats(), site.carzle_key)
            t1 = time.monotonic()
            status, body = http_json("POST", f"{stack.web_url}/api/v1/sites/{site.id}/reconcile",
                                     headers=stack.admin_headers())
            if status != 202:
                raise RuntimeError(f"reconcile answered {status}: {body}")
            report = wait_job(stack, body["jobs"][0], timeout=120)
            job_seconds = time.monotonic() - t1
            left = wait_idle(stack, timeout=60)
            after = key_totals(stack.sandbox_stats(), site.carzle_key)
            delta = {k: after[k] - before[k] for k in after}
            dest = (report or {}).get("destinations", [{}])[0] if report else {}
            runs.append({
                "run": n, "reads": delta["reads"], "writes": delta["writes"], "job_seconds": job_seconds,
                "delta": delta, "left_pending": left,
                "report": {k: (len(v) if isinstance(v, list) else v) for k, v in dest.items()},
                "stale_examples": (dest.get("stale") or [])[:3],
            })
        failed = failed_jobs(stack.redis())

    pages = math.ceil(args.cars / 100)
    print()
    print("bench/reconcile — a no-op reconciliation of unchanged, already-synced cars")
    print(f"machine: {machine_summary()}")
    print(f"N = {args.cars} cars synced (setup: {setup['writes']} writes, {setup['reads']} reads); "
          f"⌈N/100⌉ = {pages}")
    for r in runs:
        ratio = r["reads"] / pages
        print(f"  reconcile #{r['run']}: reads {r['reads']}, writes {r['writes']} "
              f"(goal 0: {'MET' if r['writes'] == 0 else 'NOT MET'}), reads ÷ ⌈N/100⌉ = {ratio:.2f} "
              f"(goal ≈ 1: {'MET' if r['reads'] <= pages + 1 else 'NOT MET'}); job took {r['job_seconds']:.1f} s")
        print(f"    job report: {r['report']}")
        if r["stale_examples"]:
            print(f"    stale examples: {r['stale_examples']}")
        if r["left_pending"]:
            print(f"    still pending afterwards: {r['left_pending']}")
    print(f"  failed jobs: {failed}")
    print(f"\n(total wall time {time.monotonic() - started:.0f} s)")
    if args.json:
        Path(args.json).write_text(json.dumps({"cars": args.cars, "runs": runs}, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
