"""bench/sources: pulling a Carfluence inventory of N vehicles (issue 12's benchmark).

    python -m bench.sources.run                    # N = 5000, page size 100, 1 % changed
    python -m bench.sources.run --vehicles 2000 --limit 50

Starts redis-server and the sandbox (``python -m sandbox``) as subprocesses, migrates a
SQLite database and loads one site whose only destination is a Carfluence source (a
``cf_live_`` key); generates N vehicles in the sandbox. Then three pulls, each in a fresh
``python -m bench.sources.run --pull`` process so its peak RSS is its own:

1. the first pull (every vehicle is new: N events; setup, reported for scale);
2. the same inventory again: goal 0 events and ⌈N/limit⌉ reads;
3. after the sandbox reprices 1 % of the vehicles: goal N/100 events, ⌈N/limit⌉ reads.

Reads are the sandbox's own count of ``GET /inventory`` for the key. Printed per pull:
events, reads, seconds (wall, inside the pulling process, app start-up excluded) and peak RSS
of that process; an app-only process's peak RSS is printed as the baseline.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import time
from typing import Any

from bench.common import PYTHON, ROOT, Stack, http_json, log, machine_summary

KEY = "cf_live_bench_source"
GROUP = "bench-group"


def app_env(stack: Stack) -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": f"sqlite:///{stack.dir / 'forecourt.db'}", "REDIS_URL": stack.redis_url,
            "FORECOURT_VAR_DIR": str(stack.dir / "var"), "FORECOURT_ENCRYPTION_KEYS": stack.encryption_key,
            "FORECOURT_ENV": "development", "LOG_LEVEL": "WARNING", "FORECOURT_CONFIG": str(stack.dir / "sites.toml")}


def pull_once(destination_id: int, baseline: bool) -> dict[str, Any]:
    """In the child process: pull once (or just start the app, for the baseline)."""
    from app import create_app

    app = create_app()
    with app.app_context():
        result: dict[str, Any] = {}
        started = time.perf_counter()
        if not baseline:
            from app.sources.pull import pull

            result = pull(destination_id)
        result["seconds"] = round(time.perf_counter() - started, 3)
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return result


def child(stack: Stack, destination_id: int, *, baseline: bool = False) -> dict[str, Any]:
    argv = [PYTHON, "-m", "bench.sources.run", "--pull", str(destination_id)] + (["--baseline"] if baseline else [])
    done = subprocess.run(argv, cwd=ROOT, env=app_env(stack), capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def reads(stack: Stack) -> int:
    status, body = http_json("GET", f"{stack.sandbox_root}/_sandbox/carfluence/stats")
    return int(body["principals"].get(KEY, {}).get("GET /inventory", 0))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.sources.run", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--vehicles", type=int, default=5000)
    p.add_argument("--limit", type=int, default=100, help="page size (Carfluence allows up to 100)")
    p.add_argument("--changed", type=float, default=0.01, help="share repriced before the third pull")
    p.add_argument("--pull", type=int, help=argparse.SUPPRESS)
    p.add_argument("--baseline", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.pull is not None:
        print(json.dumps(pull_once(args.pull, args.baseline)))
        return 0

    with Stack("sources") as stack:
        stack.start_redis()
        root = stack.start_sandbox(window=60, read_limit=10_000, write_limit=10_000)
        http_json("POST", f"{root}/_sandbox/carfluence/keys", {"key": KEY, "group": GROUP})
        started = time.perf_counter()
        status, body = http_json("POST", f"{root}/_sandbox/carfluence/vehicles/generate",
                                 {"count": args.vehicles, "seed": 12, "group": GROUP})
        assert status < 300, body
        log(f"generated {args.vehicles} vehicles in {time.perf_counter() - started:.1f}s")
        (stack.dir / "sites.toml").write_text(f"""
[[sites]]
id = "bench"
name = "Bench Motors"
webhook_secret = "whsec_{'A' * 43}="
preset = "inventory-presser"

  [[sites.destinations]]
  marketplace = "carfluence"
  base_url = "{root}/carfluence/api/v1"
  api_key = "{KEY}"
  page_size = {args.limit}
  rate_reads = 10000
""")
        env = app_env(stack)
        subprocess.run([PYTHON, "-m", "flask", "--app", "wsgi", "forecourt", "release"], cwd=ROOT, env=env,
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        import sqlite3

        with sqlite3.connect(stack.dir / "forecourt.db") as conn:
            (dest_id,) = conn.execute("select id from destinations where marketplace = 'carfluence'").fetchone()
        pages = math.ceil(args.vehicles / args.limit)
        rows = [("app only (baseline)", child(stack, dest_id, baseline=True), 0)]
        for name in ("first pull (all new)", "nothing changed", f"{args.changed:.0%} changed"):
            if name.endswith("changed") and name != "nothing changed":
                http_json("POST", f"{root}/_sandbox/carfluence/vehicles/churn",
                          {"change": round(args.vehicles * args.changed), "seed": 3, "group": GROUP})
            before = reads(stack)
            rows.append((name, child(stack, dest_id), reads(stack) - before))
        print(f"\n{machine_summary()}")
        print(f"{args.vehicles} vehicles, page size {args.limit}: ⌈N/limit⌉ = {pages} reads per pull\n")
        print(f"{'pull':<24} {'events':>7} {'reads':>6} {'seconds':>8} {'peak RSS':>9}")
        for name, result, count in rows:
            events = result.get("changed", "")
            print(f"{name:<24} {events!s:>7} {count:>6} {result['seconds']:>8.2f} {result['peak_rss_mb']:>6.1f} MB")
        print(json.dumps({name: {**result, "reads": count} for name, result, count in rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
