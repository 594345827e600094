"""bench/recovery: how long Forecourt takes to converge after Redis or a worker is killed.

    python -m bench.recovery.run                  # both scenarios
    python -m bench.recovery.run --only redis     # or --only worker
    python -m bench.recovery.run --json recovery.json --keep

Measured on the Procfile's processes (gunicorn web, one ``python -m workers worker``, ``python -m
workers scheduler``), redis-server with AOF and ``appendfsync always``, and the Carzle sandbox
over HTTP, as tests/sync/test_chaos.py does it but timed, with Forecourt's default retry
backoff (RETRY_BACKOFF_SECONDS 30, 120, 600) and debounce shortened to 0.5 s.

* ``redis``: ``--cars`` cars, each sent ``--rounds`` times (a new price each time) at
  ``--rate`` webhooks/s, under a short rate window (``--window`` s, ``--writes`` writes per
  key) so pushes wait for a window. Once a car is listed and push jobs wait in the scheduled
  registry, redis-server is SIGKILLed (no shutdown save: the AOF is all that is left) while
  the webhooks keep coming, and started again from the same directory ``--down`` s later.
  Figure: from Redis answering again to every car the web tier accepted (202) being listed
  exactly once at the price it was last sent with, and to nothing left queued.
  Goal: within 60 s of Redis returning.
* ``worker``: ``--worker-cars`` cars synced to a sandbox whose every call takes
  ``--latency-ms``; three times, a worker is started and its process group SIGKILLed 0.5 s
  into a write (POST or PATCH) at the sandbox. Then the latency goes back to 0 and one worker
  is started. Figure: from the last kill until every car is listed exactly once at its last
  price and nothing is left queued; duplicate listings (deleted ones included).
  Goal: within 120 s of the last kill, no duplicates.

Also printed for each: the answers the webhooks got, failed jobs, and cars whose status in
Forecourt's own API is not ``synced`` once the marketplace has converged.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import Proc, SiteSpec, Stack, http_json, log, machine_summary, make_sites
from bench.soak.probe import (
    failed_jobs_by_queue,
    listing_check,
    pending,
    queue_counts,
    sandbox_listings,
    stuck_rate_limits,
)
from bench.soak.sender import Sender

REDIS_GOAL = 60.0
WORKER_GOAL = 120.0


def kill_group(stack: Stack, proc: Proc) -> None:
    """SIGKILL the process group the stack started ``proc`` in (its own session)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.popen.wait(timeout=10)
    if proc in stack.procs:
        stack.procs.remove(proc)


def writes(stack: Stack, site: SiteSpec) -> int:
    entry = (stack.sandbox_stats().get("keys") or {}).get(site.carzle_key) or {}
    return int(entry.get("writes") or 0)


def set_latency(stack: Stack, ms: float) -> None:
    status, body = http_json("POST", f"{stack.sandbox_root}/_sandbox/config", {"latency_ms": ms})
    if status != 200:
        raise RuntimeError(f"sandbox config: {status} {body}")


def api_statuses(stack: Stack, site: SiteSpec, post_ids: list[int]) -> dict[str, int]:
    """How Forecourt's own API sees each car on its one destination: status -> count."""
    out: dict[str, int] = {}
    for post_id in post_ids:
        status, body = http_json("GET", f"{stack.web_url}/api/v1/sites/{site.id}/cars/{post_id}",
                                 headers=stack.admin_headers())
        if status != 200 or not isinstance(body, dict):
            key = f"http {status}"
        else:
            key = ",".join(str(d.get("status")) for d in body.get("destinations") or []) or "no destination"
        out[key] = out.get(key, 0) + 1
    return out


def wait_converged(stack: Stack, site: SiteSpec, expected: dict[int, int], *, since: float, timeout: float,
                   timeline: list[dict[str, Any]]) -> dict[str, Any]:
    """Poll every 0.5 s until every expected car is listed exactly once at its price
    (``listed_at``) and nothing is queued, scheduled, held or due (``idle_at``); seconds
    counted from ``since`` (monotonic)."""
    client = stack.redis()
    listed_at = idle_at = None
    check: dict[str, Any] = {}
    left: dict[str, int] = {}
    last_log = 0.0
    while time.monotonic() - since < timeout:
        stack.check_alive()
        now = time.monotonic() - since
        check = listing_check(sandbox_listings(stack.sandbox_root, site.showroom), expected)
        try:
            left = pending(queue_counts(client))
        except Exception as exc:  # Redis still loading: try again
            left = {"error": 1}
            log(f"  redis not readable yet: {exc}")
        timeline.append({"t": now, "listed": check["listed"], "stale": check["stale"], "missing": check["missing"],
                         "duplicated": check["duplicated"], "left": left})
        if check["converged"] and listed_at is None:
            listed_at = now
        if listed_at is not None and not left:
            idle_at = now
            break
        if now - last_log >= 5:
            last_log = now
            log(f"  +{now:.0f}s: listed {check['listed']}/{len(expected)}, stale {check['stale']}, "
                f"dup {check['duplicated']}; pending {left}")
        time.sleep(0.5)
    stuck = [] if idle_at is not None else stuck_rate_limits(client)
    return {"listed_after": listed_at, "idle_after": idle_at, "check": check, "left": left, "stuck": stuck}


# --------------------------------------------------------------------------- scenario a


def run_redis(args: argparse.Namespace) -> dict[str, Any]:
    (site,) = make_sites(1, window=args.window, writes=args.writes, reads=60, prefix="redis")
    work = [(site, 2000 + i) for i in range(args.cars)]
    total = args.cars * args.rounds
    with Stack("recovery-redis", keep=args.keep) as stack:
        stack.start_redis()
        stack.start_sandbox(window=args.window, read_limit=60, write_limit=args.writes,
                            keys=[(site.carzle_key, site.showroom)])
        stack.configure([site], DEBOUNCE_SECONDS="0.5", DEBOUNCE_MAX_WAIT_SECONDS="2")
        stack.start_web(workers=2, threads=4)
        stack.start_workers(1)
        stack.start_scheduler()
        time.sleep(1.5)
        client = stack.redis()
        log(f"redis: {args.cars} cars × {args.rounds} rounds at {args.rate:g}/s; sandbox {args.writes} writes / "
            f"{args.window:g} s; kill once pushes wait, restart {args.down:g} s later")
        sender = Sender(stack, work, rate=args.rate, threads=2, max_requests=total, timeout=15).start()
        deadline = time.monotonic() + 60
        while True:
            listed = len([x for x in sandbox_listings(stack.sandbox_root, site.showroom) if not x.get("deletedAt")])
            waiting = queue_counts(client).get("push:sched", 0)
            if listed >= 1 and waiting > 0 and sender.sent >= args.kill_after:
                break
            if time.monotonic() > deadline:
                raise RuntimeError("no push ever waited for a window; lower --writes or raise --cars")
            time.sleep(0.1)
        (redis_proc,) = [p for p in stack.procs if p.name == "redis"]
        before = {"sent": sender.sent, "listed": listed, "pending": pending(queue_counts(client)),
                  "writes": writes(stack, site)}
        kill_group(stack, redis_proc)
        killed = time.monotonic()
        log(f"redis: SIGKILLed after {sender.sent}/{total} webhooks, {listed} cars listed, pending {before['pending']}")
        time.sleep(args.down)
        stack.start_redis()
        back = time.monotonic()
        down_for = back - killed
        writes_at_back = writes(stack, site)
        log(f"redis: answering again {down_for:.1f} s after the kill (sent so far {sender.sent})")
        while not sender.done() and time.monotonic() - back < 120:
            time.sleep(0.2)
        sender.stop()
        sent_done = time.monotonic() - back
        expected = {pid: price for (_, pid), price in sender.last_price.items()}
        timeline: list[dict[str, Any]] = []
        outcome = wait_converged(stack, site, expected, since=back, timeout=args.timeout, timeline=timeline)
        statuses = api_statuses(stack, site, sorted(expected))
        failed = failed_jobs_by_queue(stack.redis())
        after_writes = writes(stack, site) - writes_at_back
    return {
        "scenario": "redis", "cars": args.cars, "rounds": args.rounds, "rate": args.rate, "window": args.window,
        "writes_per_window": args.writes, "down_seconds": down_for, "before_kill": before,
        "webhooks": {str(k): v for k, v in sender.statuses.items()}, "outcomes": dict(sender.outcomes),
        "accepted_cars": len(expected), "sending_ended_after_back": sent_done,
        "writes_after_back": after_writes,
        "ideal_after_back": max(0, math.ceil(after_writes / args.writes) - 1) * args.window,
        **outcome, "api_statuses": statuses, "failed_jobs": failed, "timeline": timeline,
    }


# --------------------------------------------------------------------------- scenario b


def run_worker(args: argparse.Namespace) -> dict[str, Any]:
    (site,) = make_sites(1, window=60, writes=10_000, reads=10_000, prefix="crash")
    work = [(site, 3000 + i) for i in range(args.worker_cars)]
    kills: list[dict[str, Any]] = []
    with Stack("recovery-worker", keep=args.keep) as stack:
        stack.start_redis()
        stack.start_sandbox(window=60, read_limit=10_000, write_limit=10_000, keys=[(site.carzle_key, site.showroom)],
                            latency_ms=args.latency_ms)
        stack.configure([site], DEBOUNCE_SECONDS="0.5", DEBOUNCE_MAX_WAIT_SECONDS="2")
        stack.start_web(workers=2, threads=4)
        stack.start_scheduler()
        time.sleep(1.0)
        log(f"worker: {args.worker_cars} cars, sandbox latency {args.latency_ms:g} ms; 3 kills mid-write")
        sender = Sender(stack, work, rate=20, threads=2, max_requests=len(work)).start()
        while not sender.done():
            time.sleep(0.1)
        sender.stop()
        for n in range(3):
            seen = writes(stack, site)
            (worker,) = stack.start_workers(1)
            worker.name = f"worker-kill{n + 1}"
            deadline = time.monotonic() + 120
            while writes(stack, site) <= seen:
                if time.monotonic() > deadline:
                    raise RuntimeError("no write reached the sandbox within 120 s")
                time.sleep(0.05)
            time.sleep(0.5)  # the request is inside the sandbox's latency now
            kill_group(stack, worker)
            kills.append({"at": time.monotonic(), "writes_started_before": writes(stack, site)})
            log(f"worker: kill {n + 1} during a write (sandbox writes now {kills[-1]['writes_started_before']})")
        last_kill = kills[-1]["at"]
        set_latency(stack, 0)
        stack.start_workers(1)
        expected = {pid: price for (_, pid), price in sender.last_price.items()}
        timeline: list[dict[str, Any]] = []
        outcome = wait_converged(stack, site, expected, since=last_kill, timeout=args.timeout, timeline=timeline)
        statuses = api_statuses(stack, site, sorted(expected))
        failed = failed_jobs_by_queue(stack.redis())
        stats = (stack.sandbox_stats().get("keys") or {}).get(site.carzle_key) or {}
    return {
        "scenario": "worker", "cars": args.worker_cars, "latency_ms": args.latency_ms,
        "webhooks": {str(k): v for k, v in sender.statuses.items()}, "accepted_cars": len(expected),
        "kills": len(kills), **outcome, "api_statuses": statuses, "failed_jobs": failed,
        "sandbox_methods": stats.get("methods"), "sandbox_status_codes": stats.get("statusCodes"),
        "timeline": timeline,
    }


# --------------------------------------------------------------------------- report


def fmt(value: float | None) -> str:
    return "never (timed out)" if value is None else f"{value:.1f} s"


def report(results: dict[str, Any]) -> None:
    print()
    print(f"bench/recovery — machine: {machine_summary()}")
    if "redis" in results:
        r = results["redis"]
        check = r["check"]
        figure = r["listed_after"]
        print(f"(a) redis-server SIGKILLed mid-burst, back {r['down_seconds']:.1f} s later (AOF, fsync always); "
              f"{r['cars']} cars × {r['rounds']} rounds at {r['rate']:g}/s, sandbox {r['writes_per_window']} writes / "
              f"{r['window']:g} s")
        print(f"  at the kill: {r['before_kill']['sent']} webhooks sent, {r['before_kill']['listed']} cars listed, "
              f"pending {r['before_kill']['pending']}")
        print(f"  webhook answers {r['webhooks']} {r['outcomes']}; sending ended {r['sending_ended_after_back']:.1f} s "
              f"after Redis returned")
        print(f"  Redis back -> every accepted car ({r['accepted_cars']}) listed exactly once at its last price: "
              f"{fmt(figure)}; -> nothing left queued: {fmt(r['idle_after'])}")
        if figure is not None:
            print(f"  ÷ 60 s goal = {figure / REDIS_GOAL:.2f}  ({'MET' if figure <= REDIS_GOAL else 'NOT MET'}); "
                  f"the {r['writes_after_back']} writes after Redis returned need ≥ {r['ideal_after_back']:.0f} s "
                  f"at the sandbox's limit")
        else:
            print("  goal (60 s) NOT MET")
        print(f"  final check: listed {check.get('listed')}, missing {check.get('missing')}, duplicated "
              f"{check.get('duplicated')}, wrong price {check.get('stale')} {check.get('examples')}; left {r['left']}")
        print(f"  Forecourt API statuses: {r['api_statuses']}; failed jobs "
              f"{ {k: v for k, v in r['failed_jobs'].items() if v} or 0}")
        for item in r["stuck"]:
            print(f"  stuck: RQ RateLimit {item['key']!r} holds {item['held']} job(s) back; its slot is taken by "
                  f"{item['slots'] or 'nothing'}")
    if "worker" in results:
        r = results["worker"]
        check = r["check"]
        figure = r["idle_after"]
        print(f"(b) worker process group SIGKILLed {r['kills']} times mid-write (latency {r['latency_ms']:g} ms, "
              f"set to 0 after the last kill); {r['cars']} cars")
        print(f"  last kill -> every car listed exactly once at its last price: {fmt(r['listed_after'])}; "
              f"-> nothing left queued: {fmt(figure)}")
        if figure is not None:
            print(f"  ÷ 120 s goal = {figure / WORKER_GOAL:.2f}  ({'MET' if figure <= WORKER_GOAL else 'NOT MET'})")
        else:
            print("  goal (120 s) NOT MET")
        print(f"  duplicates {check.get('duplicated')}, missing {check.get('missing')}, wrong price "
              f"{check.get('stale')} "
              f"{check.get('examples')}; left {r['left']}")
        for item in r["stuck"]:
            print(f"  stuck: RQ RateLimit {item['key']!r} holds {item['held']} job(s) back; its slot is taken by "
                  f"{item['slots'] or 'nothing'}")
        print(f"  sandbox calls {r['sandbox_methods']} answers {r['sandbox_status_codes']}")
        print(f"  Forecourt API statuses: {r['api_statuses']}; failed jobs "
              f"{ {k: v for k, v in r['failed_jobs'].items() if v} or 0}")


def summary(results: dict[str, list[dict[str, Any]]]) -> None:
    goals = {"redis": ("listed_after", REDIS_GOAL), "worker": ("idle_after", WORKER_GOAL)}
    print()
    for scenario, runs in results.items():
        key, goal = goals[scenario]
        figures = [r[key] for r in runs]
        shown = ", ".join(fmt(f) for f in figures)
        met = sum(1 for f in figures if f is not None and f <= goal)
        dups = sum(int(r["check"].get("duplicated") or 0) for r in runs)
        lost = sum(int(r["check"].get("missing") or 0) for r in runs)
        worst = None if any(f is None for f in figures) else max(figures)
        ratio = f"{worst / goal:.2f}" if worst is not None else "n/a (a run never converged)"
        print(f"summary {scenario}: {shown}; worst ÷ {goal:.0f} s goal = {ratio}; goal met in {met}/{len(runs)} "
              f"runs; cars missing at the end {lost}, duplicates {dups}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.recovery.run", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--only", choices=("redis", "worker"))
    p.add_argument("--cars", type=int, default=40, help="cars in the Redis scenario")
    p.add_argument("--rounds", type=int, default=2, help="webhooks per car in the Redis scenario")
    p.add_argument("--rate", type=float, default=8.0, help="webhooks/s in the Redis scenario")
    p.add_argument("--window", type=float, default=5.0, help="rate window in the Redis scenario, s")
    p.add_argument("--writes", type=int, default=10, help="writes per window in the Redis scenario")
    p.add_argument("--kill-after", type=int, default=0,
                   help="also wait for this many webhooks sent before the kill (later = more sync jobs in flight)")
    p.add_argument("--down", type=float, default=5.0, help="seconds Redis stays down")
    p.add_argument("--worker-cars", type=int, default=10, help="cars in the worker scenario")
    p.add_argument("--latency-ms", type=float, default=1500.0, help="sandbox latency while workers are killed")
    p.add_argument("--timeout", type=float, default=300.0, help="give up waiting for convergence after this")
    p.add_argument("--repeat", type=int, default=1, help="run each scenario this many times")
    p.add_argument("--keep", action="store_true")
    p.add_argument("--json", metavar="FILE")
    args = p.parse_args(argv)
    results: dict[str, list[dict[str, Any]]] = {}
    for _ in range(args.repeat):
        if args.only in (None, "redis"):
            results.setdefault("redis", []).append(run_redis(args))
        if args.only in (None, "worker"):
            results.setdefault("worker", []).append(run_worker(args))
    for runs in results.values():
        for r in runs:
            report({r["scenario"]: r})
    summary(results)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
