"""bench/feeds/auterio: a full sync of N cars (default 5,000) to the Auterio sandbox.

    python -m bench.feeds.auterio                 # N = 5,000
    python -m bench.feeds.auterio --cars 2500 --latency-ms 50

Starts its own stack (redis-server, the sandbox as a subprocess with an Auterio key,
``flask forecourt release`` with one site whose only destination is Auterio, one RQ worker as
the Procfile runs it, the scheduler). N cars are written to the database as a sync job leaves
them and marked for the destination's next batch (an hour-long window, so nothing goes early);
then the window is closed (``batches.send_now``, what Sync Now does) and the one ``send_batch``
job is timed from being queued to its end, while the worker's resident memory is sampled.

Baseline, same run: a bare client (``requests``, one session) posting the same N vehicles, built
by the same mapping, in ⌈N/1000⌉ requests to the same sandbox under a second key: the floor
for the HTTP and the sandbox's own work.

Printed: requests (goal ⌈N/1000⌉ = 5), seconds (and ÷ the baseline's; also the connector alone, in
this process, to split the connector's share from the engine's), the worker's peak RSS
(goal < 150 MB) and its RSS before the batch.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from bench.common import PYTHON, ROOT, Stack, failed_jobs, http_json, log, machine_summary

KEY, BARE_KEY = "au_bench_forecourt", "au_bench_bare"


def sites_toml(stack: Stack, window: float) -> str:
    return f"""
[[sites]]
id = "bench"
name = "Bench Motors"
webhook_secret = "whsec_{'A' * 32}"
preset = "inventory-presser"

  [[sites.destinations]]
  marketplace = "auterio"
  base_url = "{stack.sandbox_root}/auterio"
  api_key = "{KEY}"
  batch_window = {window}
"""


def vehicles(count: int) -> list[Any]:
    """N canonical cars with every field Auterio takes, in the four statuses."""
    from app.listings.vehicle import Vehicle

    statuses = ("active", "reserved", "sold", "coming_soon")
    return [
        Vehicle(source="wordpress", car_ref=str(n), status=statuses[n % 4], make="SEAT", model="León",
                trim="FR 1.5 eTSI", year=2018 + n % 7, vin=f"VSSZZZKJZPR{n:06d}", registration=f"{n:04d} LMN",
                exterior_color="Rojo", interior_color="Negro", fuel_type=("Petrol", "Diesel", "Hybrid")[n % 3],
                transmission=("Manual", "Automatic")[n % 2], kilometers=1000 + n, engine_cc=1498, horsepower=150,
                doors=5, seats=5, price=20000 + n, description="Un solo propietario. " * 5,
                first_registration="2020-03-01", category="Compacto", location="Madrid")
        for n in range(count)
    ]


# ---- run inside the stack's environment (a subprocess: the app reads its settings from env)


def _seed(count: int) -> None:
    from app.extensions import db
    from app.listings.models import Car
    from app.sites.models import Destination
    from app.sync import batches
    from wsgi import app

    with app.app_context():
        rows = [Car(site_id="bench", car_ref=v.car_ref, source="wordpress", vehicle=v.to_dict(), status=v.status,
                    ever_published=True) for v in vehicles(count)]
        db.session.add_all(rows)
        db.session.commit()
        dest = db.session.query(Destination).one()
        for car in rows:
            batches.mark(dest, car.id)


def _go() -> None:
    from app.extensions import db, redis_store
    from app.sites.models import Destination
    from app.sync import batches
    from wsgi import app

    with app.app_context():
        dest = db.session.query(Destination).one()
        job_id = redis_store.client.get(batches.scheduled_key(dest.id)).decode()
        batches.send_now(dest)
        print(job_id)


def in_stack(stack: Stack, code: str) -> str:
    result = subprocess.run([PYTHON, "-c", code], cwd=ROOT, env=stack.env(), capture_output=True, text=True,
                            timeout=600)
    if result.returncode != 0:
        raise RuntimeError(f"{code} failed:\n{result.stderr[-3000:]}")
    return result.stdout.strip()


# ---- measuring


def rss_kb(pid: int, field: str = "VmRSS") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


class RssSampler(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak, self.stop = pid, 0, threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            self.peak = max(self.peak, rss_kb(self.pid))
            time.sleep(0.02)


def auterio_events(stack: Stack, key: str) -> dict[str, int]:
    status, body = http_json("GET", f"{stack.sandbox_root}/_sandbox/auterio/stats")
    assert status == 200, body
    counters = body["keys"].get(key, {})
    return {"requests": sum((counters.get("requests") or {}).values()), "batches": counters.get("batches", 0),
            "vehicles_created": counters.get("vehicles_created", 0)}


def wait_job(stack: Stack, job_id: str, timeout: float) -> Any:
    from rq.job import Job

    deadline = time.monotonic() + timeout
    while True:
        job = Job.fetch(job_id, connection=stack.redis())
        status = job.get_status(refresh=True)
        if status in ("finished", "failed", "stopped", "canceled"):
            return job, status
        if time.monotonic() > deadline:
            raise RuntimeError(f"batch job still {status} after {timeout}s")
        stack.check_alive()
        time.sleep(0.05)


def bare_baseline(stack: Stack, count: int, cap: int = 1000) -> tuple[float, int]:
    """The same vehicles, mapped the same way, posted by a bare client."""
    import requests

    from app.connectors.auterio import vehicle_payload

    bodies = [vehicle_payload(v, {}) for v in vehicles(count)]
    session = requests.Session()
    session.trust_env = False
    started = time.monotonic()
    for i in range(0, len(bodies), cap):
        response = session.post(f"{stack.sandbox_root}/auterio/api/vehicles/ingest", timeout=120,
                                json={"vehicles": bodies[i:i + cap]}, headers={"Authorization": f"Bearer {BARE_KEY}"})
        response.raise_for_status()
    return time.monotonic() - started, math.ceil(len(bodies) / cap)


def connector_alone(stack: Stack, count: int) -> tuple[float, int]:
    """The connector's own share: mapping + requests for the same cars, no database, no Redis."""
    from app.connectors.auterio import AuterioConnector
    from app.connectors.base import MemoryCache, SimpleTransport
    from app.connectors.kinds import FeedItem

    items = [FeedItem(v.car_ref, v) for v in vehicles(count)]
    connector = AuterioConnector(base_url=f"{stack.sandbox_root}/auterio", credentials={"api_key": BARE_KEY},
                                 transport=SimpleTransport(timeout=(3.05, 120)), cache=MemoryCache())
    cap = connector.batch_cap
    started = time.monotonic()
    for i in range(0, len(items), cap):
        connector.send_batch(items[i:i + cap])
    return time.monotonic() - started, math.ceil(len(items) / cap)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.feeds.auterio", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cars", type=int, default=5000)
    p.add_argument("--latency-ms", type=float, default=0.0, help="added by the sandbox to every request")
    p.add_argument("--keep", action="store_true")
    p.add_argument("--json", metavar="FILE")
    args = p.parse_args(argv)

    started = time.monotonic()
    with Stack("auterio", keep=args.keep, log_level="WARNING") as stack:
        stack.start_redis()
        stack.start_sandbox(window=60, read_limit=100_000, write_limit=100_000, latency_ms=args.latency_ms)
        for key, account in ((KEY, "bench"), (BARE_KEY, "bare")):
            status, body = http_json("POST", f"{stack.sandbox_root}/_sandbox/auterio/keys",
                                     body={"key": key, "account": account, "name": f"Bench {account}"})
            assert status == 201, body
        (stack.dir / "sites.toml").write_text(sites_toml(stack, window=3600))
        # The Procfile's release step (migrations + this site file), as Stack.configure runs it.
        subprocess.run([str(Path(PYTHON).parent / "flask"), "--app", "wsgi", "forecourt", "release"],
                       cwd=ROOT, env=stack.env(), check=True, capture_output=True, timeout=120)
        (worker,) = stack.start_workers(1)
        stack.start_scheduler()
        t_seed = time.monotonic()
        in_stack(stack, f"from bench.feeds.auterio import _seed; _seed({args.cars})")
        log(f"{args.cars} cars seeded and marked in {time.monotonic() - t_seed:.1f}s; closing the window")
        time.sleep(1.0)
        rss_before = rss_kb(worker.pid)
        sampler = RssSampler(worker.pid)
        sampler.start()
        job_id = in_stack(stack, "from bench.feeds.auterio import _go; _go()").splitlines()[-1]
        job, status = wait_job(stack, job_id, timeout=600)
        sampler.stop.set()
        sampler.join()
        peak_kb = max(sampler.peak, rss_kb(worker.pid, "VmHWM"))
        job_seconds = (job.ended_at - job.started_at).total_seconds()
        queued_seconds = (job.ended_at - job.enqueued_at).total_seconds()
        events = auterio_events(stack, KEY)
        bare_seconds, bare_requests = bare_baseline(stack, args.cars)
        alone_seconds, _ = connector_alone(stack, args.cars)
        failed = failed_jobs(stack.redis())
        result = job.return_value()

    goal_requests = math.ceil(args.cars / 1000)
    figures = {
        "cars": args.cars, "requests": events["requests"], "batches": events["batches"], "goal_requests": goal_requests,
        "vehicles_created": events.get("vehicles_created", 0), "job_status": status, "job_result": result,
        "job_seconds": job_seconds, "queued_to_done_seconds": queued_seconds,
        "bare_seconds": bare_seconds,
        "connector_alone_seconds": alone_seconds, "bare_requests": bare_requests, "ratio": job_seconds / bare_seconds,
        "worker_rss_before_mb": rss_before / 1024, "worker_peak_rss_mb": peak_kb / 1024,
        "latency_ms": args.latency_ms, "failed_jobs": failed,
    }
    print()
    print("bench/feeds/auterio — a full sync of N cars to the Auterio sandbox")
    print(f"machine: {machine_summary()}")
    print(f"N = {args.cars} cars, sandbox latency {args.latency_ms:g} ms per request")
    print(f"  requests: {figures['requests']} (goal ⌈N/1000⌉ = {goal_requests}: "
          f"{'MET' if figures['requests'] == goal_requests else 'NOT MET'}); "
          f"vehicles created at Auterio: {figures['vehicles_created']}; job {status}: {result}")
    print(f"  seconds: batch job {job_seconds:.2f} s (queued → done {queued_seconds:.2f} s); "
          f"bare client, same vehicles, {bare_requests} requests: {bare_seconds:.2f} s; ratio {figures['ratio']:.2f}")
    print(f"  the connector alone (mapping + the same requests, no database or Redis): {alone_seconds:.2f} s, "
          f"ratio to bare {alone_seconds / bare_seconds:.2f}; the rest of the job is the engine's bookkeeping")
    print(f"  worker RSS: {rss_before / 1024:.0f} MB before, peak {peak_kb / 1024:.0f} MB "
          f"(goal < 150 MB: {'MET' if peak_kb < 150 * 1024 else 'NOT MET'})")
    print(f"  failed jobs: {failed}")
    print(f"\n(total wall time {time.monotonic() - started:.0f} s)")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
