"""bench/soak: steady webhooks for minutes under Carzle's real limits; is anything growing?

    python -m bench.soak.run                          # 10 min, 100 webhooks/s over 500 cars
    python -m bench.soak.run --minutes 2 --cars 60    # a short try
    python -m bench.soak.run --json soak.json --keep

The Procfile's processes (gunicorn web with its default 2 workers × 4 threads, one ``python -m
workers worker``, ``python -m workers scheduler``), redis-server with AOF (``appendfsync
always``) and the Carzle sandbox with its published limits (60 s window, 30 writes and 60
reads per key), Forecourt's debounce settings left at their defaults. Signed webhooks go out
open-loop at ``--rate`` per second, round-robin over ``--cars`` cars (split over
``--dealers`` sites, one Carzle key each), each webhook a new price for its car. Writes are
far scarcer than changes, so a backlog builds and stays.

Every ``--sample`` seconds: resident memory of web (gunicorn master + workers), worker(s),
scheduler and redis-server, each summed over its process tree; Redis ``used_memory``; RQ's
queued / scheduled / deferred jobs per queue and the jobs RQ's RateLimit holds; and the most
push jobs waiting for any one car and destination.

Then the drain: sending stops, and the run waits (``--drain-timeout``) until every car is
listed exactly once at the price it was last sent with and nothing is left queued.

Printed: the samples as a table; growth of each process's memory after the warm-up
(``--warmup``, first 2 minutes excluded) as a % and ÷ the 10 % goal; Redis memory against
the number of distinct cars and of events; the most waiting pushes per car ÷ the goal of 1;
the drain's outcome (lost, duplicated, stale cars).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import threading
import time
from pathlib import Path
from typing import Any

from bench.common import Proc, Stack, log, machine_summary, make_sites
from bench.soak.probe import (
    failed_jobs_by_queue,
    keyspace,
    listing_check,
    pending,
    queue_counts,
    redis_memory,
    sandbox_listings,
    tree_rss,
    waiting_pushes,
)
from bench.soak.sender import Sender

MB = 1024 * 1024
GROWTH_GOAL = 0.10
WAITING_GOAL = 1


class Sampler:
    """A thread taking one sample every ``interval`` seconds until stopped."""

    def __init__(self, stack: Stack, roles: dict[str, list[Proc]], sender: Sender | None, interval: float,
                 t0: float) -> None:
        self.stack = stack
        self.roles = roles
        self.sender = sender
        self.interval = interval
        self.t0 = t0
        self.phase = "load"
        self.samples: list[dict[str, Any]] = []
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sampler", daemon=True)
        self.client = stack.redis()

    def start(self) -> Sampler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(60)

    def _run(self) -> None:
        next_at = time.monotonic()
        while not self._stop.is_set():
            try:
                self.samples.append(self.sample())
            except Exception as exc:  # a sample lost is reported, not fatal
                self.errors.append(f"{time.monotonic() - self.t0:.0f}s: {type(exc).__name__}: {exc}")
            next_at += self.interval
            self._stop.wait(max(0.0, next_at - time.monotonic()))

    def sample(self) -> dict[str, Any]:
        started = time.monotonic()
        row: dict[str, Any] = {"t": started - self.t0, "phase": self.phase}
        for role, procs in self.roles.items():
            total = count = 0
            for proc in procs:
                rss, n = tree_rss(proc.pid)
                total += rss
                count += n
            row[f"rss:{role}"] = total
            row[f"procs:{role}"] = count
        row.update(redis_memory(self.client))
        row["queues"] = queue_counts(self.client)
        row["waiting"] = waiting_pushes(self.client)
        row["failed"] = sum(failed_jobs_by_queue(self.client).values())
        if self.sender is not None:
            row["sent"] = self.sender.sent
            row["accepted"] = self.sender.accepted()
            row["cars_seen"] = len(self.sender.last_price)
        try:
            stats = self.stack.sandbox_stats()
            row["live"] = int(stats["listings"]["live"]) if "listings" in stats else None
        except Exception:
            row["live"] = None
        row["sample_seconds"] = time.monotonic() - started
        return row


def fmt_table(samples: list[dict[str, Any]], roles: list[str]) -> str:
    head = (["t s", "phase"] + [f"{r} MB" for r in roles]
            + ["used_mem MB", "keys", "push q/sch/held", "sync q/sch/held", "low q/sch", "due",
               "wait/car max", "cars waiting", "pushes waiting", "sent", "listed", "failed"])
    rows = [head]
    for s in samples:
        q = s["queues"]
        rows.append([
            f"{s['t']:.0f}", s["phase"],
            *(f"{s[f'rss:{r}'] / MB:.1f}" for r in roles),
            f"{s['used_memory'] / MB:.1f}", str(s["keys"]),
            f"{q.get('push', 0)}/{q.get('push:sched', 0)}/{q.get('held:push', 0)}",
            f"{q.get('default', 0)}/{q.get('default:sched', 0)}/{q.get('held:car', 0)}",
            f"{q.get('low', 0)}/{q.get('low:sched', 0)}",
            str(q.get("due", 0)),
            str(s["waiting"]["max_per_car"]), str(s["waiting"]["cars"]), str(s["waiting"]["total"]),
            str(s.get("sent", "")), str(s.get("live", "")), str(s["failed"]),
        ])
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def growth(samples: list[dict[str, Any]], key: str, warmup: float) -> dict[str, Any]:
    """Memory after the warm-up: first sample at or after ``warmup`` vs the last one (and
    the highest) of the load phase. Averages of up to 3 samples at each end damp one-off
    spikes (a gunicorn worker mid-request, a big job)."""
    after = [s for s in samples if s["t"] >= warmup and s["phase"] == "load"]
    if len(after) < 2:
        return {"first": None, "last": None, "max": None, "growth": None}
    k = min(3, len(after) // 2)
    first = sum(s[key] for s in after[:k]) / k
    last = sum(s[key] for s in after[-k:]) / k
    peak = max(s[key] for s in after)
    return {"first": first, "last": last, "max": peak, "growth": (last - first) / first if first else None,
            "peak_growth": (peak - first) / first if first else None,
            "from_t": after[0]["t"], "to_t": after[-1]["t"]}


def merge_checks(checks: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {"converged": all(c["converged"] for c in checks), "examples": {}}
    for c in checks:
        for k, v in c.items():
            if k in ("converged", "examples"):
                continue
            out[k] = out.get(k, 0) + v
        for k, v in c["examples"].items():
            out["examples"].setdefault(k, []).extend(v)
    out["examples"] = {k: v[:5] for k, v in out["examples"].items() if v}
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.soak.run", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=float, default=10.0, help="how long to send webhooks")
    p.add_argument("--rate", type=float, default=100.0, help="webhooks per second (open loop)")
    p.add_argument("--cars", type=int, default=500, help="distinct cars, round-robin")
    p.add_argument("--dealers", type=int, default=1, help="sites (one Carzle key each) the cars are split over")
    p.add_argument("--workers", type=int, default=1, help="RQ worker processes (the Procfile runs one)")
    p.add_argument("--window", type=float, default=60.0, help="sandbox rate window, s (Carzle: 60)")
    p.add_argument("--writes", type=int, default=30, help="writes per window per key (Carzle: 30)")
    p.add_argument("--reads", type=int, default=60, help="reads per window per key (Carzle: 60)")
    p.add_argument("--debounce", type=float, default=None, help="DEBOUNCE_SECONDS (default: Forecourt's, 12)")
    p.add_argument("--max-wait", type=float, default=None, help="DEBOUNCE_MAX_WAIT_SECONDS (default: Forecourt's, 60)")
    p.add_argument("--warmup", type=float, default=120.0, help="seconds excluded from the growth figures")
    p.add_argument("--sample", type=float, default=10.0, help="seconds between samples")
    p.add_argument("--drain-timeout", type=float, default=None,
                   help="seconds to wait for convergence after sending stops (default: 1.5 × the "
                        "windows the writes need + 180 s)")
    p.add_argument("--senders", type=int, default=4, help="sender threads (keep-alive connections)")
    p.add_argument("--keep", action="store_true", help="keep the temporary directory (logs, database, AOF)")
    p.add_argument("--json", metavar="FILE", help="write every figure and sample here")
    p.add_argument("--report", metavar="FILE", help="print the report of an earlier run's --json file; run nothing")
    args = p.parse_args(argv)
    if args.report:
        saved = json.loads(Path(args.report).read_text())
        report(saved, saved["samples"], argparse.Namespace(**{**vars(args), **saved["args"]}))
        return 0

    sites = make_sites(args.dealers, window=args.window, writes=args.writes, reads=args.reads, prefix="soak")
    work = [(sites[i % len(sites)], 1000 + i) for i in range(args.cars)]
    per_key = math.ceil(args.cars / len(sites))
    drain_timeout = args.drain_timeout or 1.5 * math.ceil(per_key / args.writes) * args.window + 180
    seconds = args.minutes * 60
    env: dict[str, str] = {}
    if args.debounce is not None:
        env["DEBOUNCE_SECONDS"] = str(args.debounce)
    if args.max_wait is not None:
        env["DEBOUNCE_MAX_WAIT_SECONDS"] = str(args.max_wait)
    result: dict[str, Any] = {"args": vars(args), "machine": machine_summary()}
    with Stack("soak", keep=args.keep) as stack:
        redis_proc_url = stack.start_redis()
        stack.start_sandbox(window=args.window, read_limit=args.reads, write_limit=args.writes,
                            keys=[(s.carzle_key, s.showroom) for s in sites])
        stack.configure(sites, **env)
        stack.start_web(workers=2, threads=4)
        workers = stack.start_workers(args.workers)
        scheduler = stack.start_scheduler()
        roles = {"web": [p for p in stack.procs if p.name == "web"], "worker": workers,
                 "scheduler": [scheduler], "redis": [p for p in stack.procs if p.name == "redis"]}
        time.sleep(2.0)
        client = stack.redis()
        baseline = redis_memory(client)
        log(f"soak: {args.rate:g} webhooks/s over {args.cars} cars ({len(sites)} key(s)) for {args.minutes:g} min; "
            f"sandbox {args.writes} writes / {args.window:g} s per key; redis {redis_proc_url}")
        t0 = time.monotonic()
        sender = Sender(stack, work, rate=args.rate, threads=args.senders)
        sampler = Sampler(stack, roles, sender, args.sample, t0).start()
        sender.start()
        last_log = 0.0
        try:
            while time.monotonic() - t0 < seconds:
                time.sleep(1.0)
                stack.check_alive()
                if sampler.samples and sampler.samples[-1]["t"] > last_log + 59:
                    s = sampler.samples[-1]
                    last_log = s["t"]
                    log(f"t={s['t']:.0f}s sent {s['sent']} web {s['rss:web'] / MB:.0f} MB worker "
                        f"{s['rss:worker'] / MB:.0f} MB sched {s['rss:scheduler'] / MB:.0f} MB redis used "
                        f"{s['used_memory'] / MB:.1f} MB; waiting pushes {s['waiting']['total']} for "
                        f"{s['waiting']['cars']} cars, max {s['waiting']['max_per_car']}/car; listed {s['live']}")
        finally:
            sender.stop()
        sent_seconds = sender.stopped_at - t0
        log(f"soak: sending stopped after {sent_seconds:.0f}s: {sender.sent} sent, statuses {dict(sender.statuses)}; "
            f"draining (timeout {drain_timeout:.0f}s)")
        sampler.phase = "drain"
        keys_at_stop = keyspace(client)
        drain_start = time.monotonic()
        expected = {post_id: price for (site_id, post_id), price in sender.last_price.items()}
        check: dict[str, Any] = {}
        converged_at = None
        while time.monotonic() - drain_start < drain_timeout:
            stack.check_alive()
            check = merge_checks([
                listing_check(sandbox_listings(stack.sandbox_root, site.showroom),
                              {pid: price for (sid, pid), price in sender.last_price.items() if sid == site.id})
                for site in sites])
            left = pending(queue_counts(client))
            if check["converged"] and not left:
                converged_at = time.monotonic()
                break
            time.sleep(5.0)
        sampler.stop()
        keys_at_end = keyspace(client)
        left = pending(queue_counts(client))
        failed = failed_jobs_by_queue(client)
        key_stats = stack.sandbox_stats().get("keys", {})
        writes = {s.id: key_stats.get(s.carzle_key, {}) for s in sites}
        aof = sum(f.stat().st_size for f in (stack.dir / "redis").rglob("*.aof*") if f.is_file())
        result.update({
            "sent": sender.sent, "statuses": {str(k): v for k, v in sender.statuses.items()},
            "outcomes": dict(sender.outcomes), "send_seconds": sent_seconds,
            "achieved_rate": sender.sent / sent_seconds if sent_seconds else None,
            "sender_behind_max_s": sender.behind_max,
            "cars": len(expected), "dealers": len(sites),
            "redis_baseline": baseline, "drain_timeout": drain_timeout,
            "drain_seconds": (converged_at - drain_start) if converged_at else None,
            "drain_check": check, "left_pending": left, "failed_jobs": failed,
            "sandbox_key_stats": writes, "aof_bytes": aof,
            "sampler_errors": sampler.errors,
            "keyspace_at_stop": keys_at_stop, "keyspace_after_drain": keys_at_end,
        })
        samples = sampler.samples
    result["samples"] = samples
    report(result, samples, args)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2, default=str))
    return 0


def report(result: dict[str, Any], samples: list[dict[str, Any]], args: argparse.Namespace) -> None:
    roles = ["web", "worker", "scheduler", "redis"]
    print()
    print("bench/soak — steady webhooks under Carzle's limits")
    print(f"machine: {result['machine']}")
    print(f"load: {result['sent']} webhooks in {result['send_seconds']:.0f} s = {result['achieved_rate']:.1f}/s "
          f"(asked {args.rate:g}/s; open loop at most {result['sender_behind_max_s']:.1f} s behind) over "
          f"{result['cars']} cars, {result['dealers']} Carzle key(s) at {args.writes} writes / {args.window:g} s; "
          f"answers {result['statuses']} {result['outcomes']}")
    print()
    print(fmt_table(samples, roles))
    print("(MB = resident memory summed over each process tree; push q/sch/held = push jobs queued / in the "
          "scheduled registry / held by their RateLimit; sync = the same for "
          "sync_car jobs (default queue); wait/car = most push jobs waiting for one car)")
    if result["sampler_errors"]:
        print(f"sampler errors: {result['sampler_errors'][:5]}")
    print()
    figures: dict[str, Any] = {}
    print(f"memory growth after the warm-up ({args.warmup:.0f} s excluded; mean of the first 3 samples after it "
          f"vs the last 3 of the load phase; goal < {GROWTH_GOAL:.0%}):")
    for role in roles:
        g = growth(samples, f"rss:{role}", args.warmup)
        figures[role] = g
        if g["growth"] is None:
            print(f"  {role:9s}: not enough samples after the warm-up")
            continue
        ratio = g["growth"] / GROWTH_GOAL
        verdict = "MET" if g["growth"] < GROWTH_GOAL else "NOT MET"
        print(f"  {role:9s}: {g['first'] / MB:7.1f} MB -> {g['last'] / MB:7.1f} MB (peak {g['max'] / MB:.1f}): "
              f"{g['growth']:+.1%}, ÷ 10 % = {ratio:.2f}  {verdict}")
    used = growth(samples, "used_memory", args.warmup)
    figures["redis_used_memory"] = used
    load = [s for s in samples if s["phase"] == "load"]
    base = result["redis_baseline"]["used_memory"]
    if load and used["growth"] is not None:
        end = load[-1]
        cars = result["cars"]
        print(f"Redis used_memory: {base / MB:.1f} MB before the load, {used['first'] / MB:.1f} MB after the "
              f"warm-up, {used['last'] / MB:.1f} MB at the end of the load (peak {used['max'] / MB:.1f}): "
              f"{used['growth']:+.1%} after the warm-up, ÷ 10 % = {used['growth'] / GROWTH_GOAL:.2f}")
        per_car = (end["used_memory"] - base) / cars if cars else math.nan
        per_event = (end["used_memory"] - base) / max(1, end.get("sent") or 1)
        print(f"  over the empty stack: {per_car / 1024:.1f} kB per distinct car ({cars} cars) vs "
              f"{per_event:.0f} B per event ({end.get('sent')} events); Redis keys {end['keys']}")
        figures["redis_bytes_per_car"] = per_car
        figures["redis_bytes_per_event"] = per_event
    for label, name in (("when sending stopped", "keyspace_at_stop"), ("after the drain", "keyspace_after_drain")):
        groups = result[name]
        top = sorted(groups.items(), key=lambda kv: -kv[1]["approx_bytes"])[:6]
        print(f"  Redis keys {label}: " + ", ".join(
            f"{g} {v['keys']} (~{v['approx_bytes'] / MB:.1f} MB)" for g, v in top))
    peak = max(samples, key=lambda s: s["waiting"]["max_per_car"]) if samples else None
    if peak:
        w = peak["waiting"]
        verdict = "MET" if w["max_per_car"] <= WAITING_GOAL else "NOT MET"
        print(f"most push jobs waiting for one car and destination: {w['max_per_car']} at t={peak['t']:.0f}s "
              f"({w['worst_car']}), ÷ goal {WAITING_GOAL} = {w['max_per_car'] / WAITING_GOAL:.2f}  {verdict}")
        most = max(samples, key=lambda s: s["waiting"]["total"])
        mw = most["waiting"]
        print(f"  most pushes waiting at once: {mw['total']} for {mw['cars']} cars "
              f"({mw['cars_with_more_than_one']} cars with more than one) at t={most['t']:.0f}s; by status "
              f"{mw['by_status']}")
        figures["max_waiting_per_car"] = w["max_per_car"]
        figures["max_waiting_total"] = mw["total"]
        figures["cars_waiting_at_max_total"] = mw["cars"]
    check = result["drain_check"]
    drained = result["drain_seconds"]
    outcome = (f"converged in {drained:.0f} s" if drained is not None
               else f"NOT converged within {result['drain_timeout']:.0f} s")
    print(f"drain: {outcome} after sending stopped; listed {check.get('listed')}/{check.get('expected')}, missing "
          f"{check.get('missing')}, duplicated {check.get('duplicated')}, wrong price {check.get('stale')}, "
          f"unexpected {check.get('unexpected')} {check.get('examples')}")
    print(f"  left queued afterwards: {result['left_pending'] or 'nothing'}; failed jobs: "
          f"{ {k: v for k, v in result['failed_jobs'].items() if v} or 0}; AOF {result['aof_bytes'] / MB:.0f} MB")
    for site_id, st in result["sandbox_key_stats"].items():
        print(f"  sandbox key of {site_id}: {st.get('writes')} writes ({st.get('methods')}), {st.get('reads')} reads, "
              f"{st.get('rateLimited')} × 429")
    result["figures"] = figures


if __name__ == "__main__":
    sys.exit(main())
