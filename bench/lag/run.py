"""bench/lag: how long a dealer's save takes to reach the marketplace, Forecourt's own part.

    python -m bench.lag.run                       # 10 webhooks/s for 30 s, debounce 1 s
    python -m bench.lag.run --rate 10 --seconds 60 --debounce 1

The stack is the Procfile's (gunicorn web, one worker, the scheduler, redis-server) against the
Carzle sandbox with a write limit far above the load, so the marketplace's rate limit does not
decide the figure (bench/throttle measures that). Each webhook is one new car, sent open-loop
at ``--rate`` per second. Lag = the sandbox's ``createdAt`` for the car − the moment its 202
arrived − the debounce window, i.e. what Forecourt adds after the quiet period the dealer asked
for. Printed: p50, p99 and max, and the ratio of p99 to the 1 s goal.
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from bench.common import Stack, car_post, http_json, log, machine_summary, make_sites, percentile, rq_pending


def parse_ts(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.lag.run")
    parser.add_argument("--rate", type=float, default=10.0, help="webhooks per second (open loop)")
    parser.add_argument("--seconds", type=float, default=30.0, help="how long to send")
    parser.add_argument("--debounce", type=float, default=1.0, help="DEBOUNCE_SECONDS (subtracted)")
    parser.add_argument("--keep", action="store_true", help="keep the stack's directory")
    args = parser.parse_args(argv)

    (site,) = make_sites(1, window=60, writes=100_000, reads=100_000, prefix="lag")
    count = int(args.rate * args.seconds)
    accepted: dict[int, float] = {}
    with Stack("lag", keep=args.keep) as stack:
        stack.start_redis()
        stack.start_sandbox(window=60, read_limit=100_000, write_limit=100_000, keys=[(site.carzle_key, site.showroom)])
        stack.configure([site], DEBOUNCE_SECONDS=str(args.debounce),
                        DEBOUNCE_MAX_WAIT_SECONDS=str(max(args.debounce * 5, 5.0)))
        stack.start_web(workers=2, threads=4)
        stack.start_workers(1)
        stack.start_scheduler()
        time.sleep(1.0)
        log(f"lag: {count} new cars at {args.rate:g}/s, debounce {args.debounce:g} s")

        def send(post_id: int) -> None:
            status, body = stack.post_webhook(site, car_post(post_id))
            if status != 202:
                raise RuntimeError(f"webhook {post_id}: {status} {body}")
            accepted[post_id] = time.time()

        start = time.monotonic()
        with ThreadPoolExecutor(8) as pool:
            futures = []
            for n in range(count):
                delay = start + n / args.rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                futures.append(pool.submit(send, 5000 + n))
            for future in futures:
                future.result()
        deadline = time.monotonic() + 120
        while True:
            status, body = http_json("GET", f"{stack.sandbox_root}/_sandbox/carzle/listings?showroom={site.showroom}")
            items = body if isinstance(body, list) else (body.get("listings") or body.get("data") or [])
            if len(items) >= count or time.monotonic() > deadline:
                break
            stack.check_alive()
            time.sleep(0.5)
        left = rq_pending(stack.redis())

    lags = []
    for item in items:
        ref = str(item.get("externalRef") or "")
        post_id = int(ref.rsplit("STK", 1)[-1]) if "STK" in ref else None
        if post_id in accepted and item.get("createdAt"):
            lags.append(parse_ts(item["createdAt"]) - accepted[post_id] - args.debounce)
    lags.sort()
    if not lags:
        print("no listings were created; nothing to report")
        return 1
    p50, p99 = percentile(lags, 50), percentile(lags, 99)
    print(machine_summary())
    print(f"lag: {len(lags)}/{count} cars listed at {args.rate:g} webhooks/s (debounce {args.debounce:g} s "
          f"subtracted); pending afterwards: { {k: v for k, v in left.items() if v} }")
    print(f"  webhook 202 -> Carzle create done: p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, "
          f"max {lags[-1] * 1000:.0f} ms")
    print(f"  p99 / 1 s goal = {p99:.2f}  ({'MET' if p99 < 1.0 else 'NOT MET'})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
