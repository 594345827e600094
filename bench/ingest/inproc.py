"""bench/ingest, in-process: CPU per webhook of the WSGI apps themselves, without gunicorn or
HTTP, so the cost of the Flask path can be compared (and profiled) without the noise of a
shared 2-core machine.

    python -m bench.ingest.inproc                    # 4000 signed webhooks per app
    python -m bench.ingest.inproc --cprofile 25      # + cProfile of Forecourt's path (top 25)

Starts its own redis-server (as the embedded default runs it) and SQLite (one site via
``flask forecourt release``), then calls, in this process, Forecourt's WSGI app
(``create_app()``, the same object ``wsgi:app`` serves) and the bare ceiling app
(``bench/ingest/bare_wsgi.py``) with the same pre-built signed requests, alternating in
blocks. Prints CPU µs (process time) and wall µs per request for each, and the ratio.
Log lines go to a file, as under gunicorn.
"""

from __future__ import annotations

import argparse
import base64
import cProfile
import hashlib
import hmac
import io
import os
import pstats
import sys
import time
from typing import Any

from bench.common import Stack, car_post, encode, machine_summary, make_sites


def environs(site_id: str, secret: str, count: int, tag: str, cars: int = 500) -> list[dict[str, Any]]:
    from werkzeug.test import EnvironBuilder

    key = base64.b64decode(secret[len("whsec_"):])
    ts = str(int(time.time()))
    bodies = [encode(car_post(1000 + i)) for i in range(cars)]
    out = []
    for n in range(count):
        body = bodies[n % cars]
        wid = f"msg_{tag}_{n:08d}"
        sig = "v1," + base64.b64encode(hmac.digest(key, f"{wid}.{ts}.".encode() + body, hashlib.sha256)).decode()
        builder = EnvironBuilder(path=f"/hooks/wordpress/{site_id}", method="POST", data=body, headers={
            "Content-Type": "application/json", "webhook-id": wid, "webhook-timestamp": ts,
            "webhook-signature": sig, "Host": "127.0.0.1:8000",
        })
        out.append(builder.get_environ())
    return out


def drive(app, envs: list[dict[str, Any]]) -> tuple[float, float, dict[str, int]]:
    statuses: dict[str, int] = {}

    def start_response(status, headers, exc_info=None):
        statuses[status[:3]] = statuses.get(status[:3], 0) + 1

    cpu, wall = time.process_time(), time.perf_counter()
    for environ in envs:
        result = app(environ, start_response)
        for _ in result:
            pass
        close = getattr(result, "close", None)
        if close:
            close()
    return time.process_time() - cpu, time.perf_counter() - wall, statuses


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.ingest.inproc", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--requests", type=int, default=4000, help="measured requests per app")
    p.add_argument("--blocks", type=int, default=4, help="alternating blocks per app")
    p.add_argument("--log-level", default="INFO")
    p.add_argument("--fsync", choices=("always", "everysec", "off"), default="always")
    p.add_argument("--cprofile", type=int, default=0, metavar="TOP", help="profile Forecourt; print TOP rows")
    args = p.parse_args(argv)

    (site,) = make_sites(1, window=None, writes=None, reads=None, prefix="inproc")
    with Stack("inproc", log_level=args.log_level) as stack:
        stack.start_redis(fsync=args.fsync)
        stack.configure([site])
        os.environ.update(stack.env())
        log_file = open(stack.dir / "app.log", "w")
        real_stderr = sys.stderr
        sys.stderr = log_file  # the app's JSON log handler binds sys.stderr when created
        try:
            from app import create_app

            forecourt = create_app()
            from bench.ingest import bare_wsgi

            apps = {"forecourt": forecourt, "bare": bare_wsgi.app}
        finally:
            sys.stderr = real_stderr
        per_block = max(1, args.requests // args.blocks)
        totals = {name: [0.0, 0.0, 0] for name in apps}
        statuses: dict[str, dict[str, int]] = {name: {} for name in apps}
        for name, application in apps.items():  # warm-up: imports, caches, connections
            drive(application, environs(site.id, site.webhook_secret, 300, f"warm{name}"))
        for block in range(args.blocks):
            for name, application in apps.items():
                envs = environs(site.id, site.webhook_secret, per_block, f"b{block}{name}")
                stack.redis().flushdb()
                cpu, wall, st = drive(application, envs)
                totals[name][0] += cpu
                totals[name][1] += wall
                totals[name][2] += len(envs)
                for k, v in st.items():
                    statuses[name][k] = statuses[name].get(k, 0) + v
        profile_text = ""
        if args.cprofile:
            envs = environs(site.id, site.webhook_secret, per_block, "prof")
            profiler = cProfile.Profile()
            profiler.enable()
            drive(forecourt, envs)
            profiler.disable()
            buf = io.StringIO()
            stats = pstats.Stats(profiler, stream=buf)
            stats.sort_stats("cumulative").print_stats(args.cprofile)
            buf.write("\n--- by own time ---\n")
            stats.sort_stats("tottime").print_stats(args.cprofile)
            profile_text = buf.getvalue()
        log_file.close()

    print()
    print("bench/ingest (in-process) — the WSGI apps called directly, no HTTP server")
    print(f"machine: {machine_summary()}")
    print(f"LOG_LEVEL={args.log_level}; redis appendfsync={args.fsync}; {args.blocks} alternating blocks")
    cpu_us = {}
    for name, (cpu, wall, n) in totals.items():
        cpu_us[name] = cpu / n * 1e6
        print(f"  {name:10} {cpu / n * 1e6:7.0f} µs CPU / request   {wall / n * 1e6:7.0f} µs wall / request   "
              f"({n} requests, statuses {statuses[name]})")
    print(f"  bare ÷ forecourt CPU per request: {cpu_us['bare'] / cpu_us['forecourt']:.2f} "
          f"(Forecourt spends {cpu_us['forecourt'] - cpu_us['bare']:.0f} µs more per webhook)")
    if profile_text:
        print()
        print(profile_text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
