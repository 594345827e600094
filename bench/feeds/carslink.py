"""bench/feeds/carslink: Carslink's batch window and a 2,000-car full_replace.

    python -m bench.feeds.carslink                 # both parts
    python -m bench.feeds.carslink --only window   # or: --only full

Starts its own stack (redis-server, the sandbox with a Carslink partner key, a loopback photo
server, ``flask forecourt release`` with one dealer site whose Carslink destination has the
default 30 s batch window, gunicorn as the Procfile runs it, one RQ worker and the scheduler).
Cars arrive as Carslink-format DMS feeds on ``/hooks/dms/<site>`` and share four photos, so
seeding costs four photo downloads.

**window**: 500 cars are listed, then 50 of them change, one every 1.2 s over 60 s. Printed:
the partial requests Carslink received for those changes ÷ the batch windows that had changes
(the windows a 30 s window opened by the first change, and by the first change after each
window closed, yields for the times the changes were accepted, shifted by the debounce).
Goal: exactly 1.00 (one request per window, whatever the number of changes in it).

**full**: 2,000 cars are listed, then one full_replace runs in a fresh child process (the job
itself, ``batches.send_full``, as a worker runs it). Printed: seconds, payload bytes and the
child's peak RSS (goal < 150 MB), against a baseline measured in the same run by another
child: the same app loaded, the same feed body built by hand from the database rows, and
POSTed once with ``requests`` (the floor any full_replace pays: JSON + HTTP + Carslink).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time
from typing import Any

from bench.common import PYTHON, ROOT, Stack, code_version, failed_jobs, http_json, log, machine_summary, rq_pending

SITE = "bench"
PARTNER_KEY = "cl_bench_partner"
DMS_KEY = "dms_bench_key_0123456789abcdef"
WINDOW = 30.0
DEBOUNCE = 1.0


# --------------------------------------------------------------------------- stack


def start_photos() -> tuple[Any, str]:
    from werkzeug.serving import make_server

    from tests.support.photos import PhotoServer

    server = make_server("127.0.0.1", 0, PhotoServer(), threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}"


def sites_toml(sandbox_root: str) -> str:
    return f"""
[[sites]]
id = "{SITE}"
name = "Bench Motors"
webhook_secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
dms_api_key = "{DMS_KEY}"
preset = "inventory-presser"
currency = "GBP"

  [sites.dealer]
  partner_dealer_id = "BENCH-001"
  name = "Bench Motors Ltd"
  postcode = "M1 2AB"

  [[sites.destinations]]
  marketplace = "carslink"
  base_url = "{sandbox_root}/carslink"
  api_key = "{PARTNER_KEY}"
  batch_window = {WINDOW}
  rate_writes = 1000
"""


def start(stack: Stack) -> str:
    stack.start_redis()
    port_root = stack.start_sandbox(window=60, read_limit=100000, write_limit=100000)
    # start_sandbox seeds only Carzle keys; Carslink's partner key is added over the control API.
    status, body = http_json("POST", f"{port_root}/_sandbox/carslink/keys", {"key": PARTNER_KEY, "account": "bench"})
    assert status == 201, body
    (stack.dir / "sites.toml").write_text(sites_toml(port_root))
    stack.extra_env.update(MEDIA_ALLOW_PRIVATE_HOSTS="127.0.0.1", MAX_BODY_BYTES=str(64 * 1024 * 1024),
                           DEBOUNCE_SECONDS=str(DEBOUNCE), DEBOUNCE_MAX_WAIT_SECONDS="10")
    result = subprocess.run([PYTHON, "-m", "flask", "--app", "wsgi", "forecourt", "release"], cwd=ROOT,
                            env=stack.env(), capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise RuntimeError(f"release failed:\n{result.stdout}\n{result.stderr}")
    stack.start_web(workers=1, threads=4)
    stack.start_workers(1)
    stack.start_scheduler()
    return port_root


def listing(n: int, photos: str, price: int = 20000) -> dict[str, Any]:
    return {"source_id": f"C{n:05d}", "make": "Ford", "model": "Focus", "variant": "ST-Line", "year": 2021,
            "price": price, "mileage": 20000 + n, "registration": f"AB{21 + n % 50:02d} {chr(65 + n % 26)}XY",
            "body_type": "Hatchback", "fuel": "Petrol", "transmission": "Manual", "colour": "Blue",
            "images": [f"{photos}/p/{i}.jpg" for i in range(1, 5)],
            "description": f"Car {n}: one owner, full service history, two keys."}


def post_feed(stack: Stack, listings: list[dict[str, Any]]) -> float:
    body = {"mode": "partial", "dealer": {"partner_dealer_id": "DMS"}, "listings": listings}
    status, answer = http_json("POST", f"{stack.web_url}/hooks/dms/{SITE}", body,
                               headers={"X-Dealer-Api-Key": DMS_KEY}, timeout=120)
    assert status == 202, (status, answer)
    return time.monotonic()


def carslink_state(root: str) -> dict[str, Any]:
    status, body = http_json("GET", f"{root}/_sandbox/carslink/state", timeout=60)
    assert status == 200, body
    return body


def partial_feeds(root: str) -> int:
    status, body = http_json("GET", f"{root}/_sandbox/carslink/stats")
    return sum(k.get("feeds_partial", 0) for k in body["keys"].values())


def wait_listed(stack: Stack, root: str, count: int, *, timeout: float, price: int | None = None) -> None:
    deadline = time.monotonic() + timeout
    while True:
        listings = carslink_state(root)["listings"]
        done = [x for x in listings if price is None or x["price"] == price]
        if len(done) >= count and not any(rq_pending(stack.redis()).values()):
            return
        if time.monotonic() > deadline:
            failed = failed_jobs(stack.redis())
            raise RuntimeError(f"{len(done)}/{count} listed after {timeout}s; failed jobs: {failed}")
        stack.check_alive()
        time.sleep(1.0)


def ideal_windows(times: list[float], window: float) -> int:
    """Windows opened by the first change and by the first change after each window closed."""
    count, closes = 0, float("-inf")
    for t in sorted(times):
        if t >= closes:
            count, closes = count + 1, t + window
    return count


# --------------------------------------------------------------------------- parts


def window_part(stack: Stack, root: str, photos: str) -> dict[str, Any]:
    log("window: listing 500 cars")
    post_feed(stack, [listing(n, photos) for n in range(500)])
    wait_listed(stack, root, 500, timeout=300)
    before = partial_feeds(root)
    log("window: 50 cars change over 60 s")
    times = []
    started = time.monotonic()
    for i in range(50):
        time.sleep(max(0.0, started + i * 1.2 - time.monotonic()))
        times.append(post_feed(stack, [listing(i * 10, photos, price=21000 + i)]) - started)
    deadline = time.monotonic() + WINDOW + 60
    while time.monotonic() < deadline:
        live = {x["source_id"]: x["price"] for x in carslink_state(root)["listings"]}
        if all(live.get(f"C{i * 10:05d}") == 21000 + i for i in range(50)):
            break
        time.sleep(1.0)
    else:
        raise RuntimeError("the 50 changes did not all arrive")
    time.sleep(2.0)
    requests_ = partial_feeds(root) - before
    windows = ideal_windows([t + DEBOUNCE for t in times], WINDOW)
    return {"changes": 50, "requests": requests_, "windows_with_changes": windows,
            "ratio": round(requests_ / windows, 2), "spread_s": round(times[-1] - times[0], 1)}


CHILD = r"""
import json, resource, sys, time
from app import create_app
from app.extensions import db
from app.sites.models import Destination
mode = sys.argv[1]
app = create_app()
with app.app_context():
    dest = db.session.query(Destination).filter_by(marketplace="carslink").one()
    idle = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started = time.perf_counter()
    if mode == "pipeline":
        from app.sync import batches
        result = batches.send_full(dest.id)
        seconds = time.perf_counter() - started
        from app.feeds.service import carslink_feed_bytes
        size = len(carslink_feed_bytes(dest)[0])
    else:  # the floor: rows -> the same JSON by hand -> one POST
        import requests
        from app.listings.models import Car
        from app.media.models import MediaAsset
        assets = {a.source_url: a.media_sha256 for a in db.session.query(MediaAsset)}
        listings = []
        for car in db.session.query(Car).filter_by(site_id=dest.site_id):
            v = car.vehicle or {}
            listings.append({"source_id": car.car_ref, "vehicle_type": "car", "make": v.get("make"),
                "model": v.get("model"), "variant": v.get("trim"), "year": v.get("year"), "price": v.get("price"),
                "mileage": round((v.get("kilometers") or 0) / 1.609344), "registration": v.get("registration"),
                "images": [f"https://127.0.0.1/media/{assets[i['url']]}.webp" for i in v.get("images") or []],
                "fuel": v.get("fuel_type"), "transmission": v.get("transmission"), "colour": v.get("exterior_color"),
                "body_type": v.get("body_type"), "description": v.get("description")})
        body = json.dumps({"mode": "full_replace", "dealer": {"partner_dealer_id": "BENCH-001"},
                           "listings": listings}).encode()
        response = requests.post(dest.base_url + "/api/v1/stock", data=body, timeout=120, headers={
            "X-Dealer-Api-Key": dest.credentials["api_key"], "Content-Type": "application/json"})
        assert response.status_code == 202, response.text
        result = {"outcome": "sent", "accepted": response.json()["feed"]["accepted"]}
        seconds = time.perf_counter() - started
        size = len(body)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "bytes": size, "peak_mb": peak, "idle_mb": idle, "result": result},
                     default=str))
"""


def run_child(stack: Stack, mode: str) -> dict[str, Any]:
    result = subprocess.run([PYTHON, "-c", CHILD, mode], cwd=ROOT, env=stack.env(), capture_output=True, text=True,
                            timeout=600)
    if result.returncode != 0:
        raise RuntimeError(f"{mode} child failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def full_part(stack: Stack, root: str, photos: str) -> dict[str, Any]:
    log("full: listing 2,000 cars")
    post_feed(stack, [listing(n, photos) for n in range(2000)])
    wait_listed(stack, root, 2000, timeout=600)
    floor = run_child(stack, "floor")  # also refreshes all 2,000: the pipeline's run then removes nothing
    pipeline = run_child(stack, "pipeline")
    assert pipeline["result"]["outcome"] == "sent", pipeline
    assert len(carslink_state(root)["listings"]) == 2000
    return {"cars": 2000, "seconds": round(pipeline["seconds"], 2), "floor_seconds": round(floor["seconds"], 2),
            "ratio_to_floor": round(pipeline["seconds"] / floor["seconds"], 2), "payload_bytes": pipeline["bytes"],
            "floor_payload_bytes": floor["bytes"], "peak_rss_mb": round(pipeline["peak_mb"], 1),
            "floor_peak_rss_mb": round(floor["peak_mb"], 1), "app_loaded_rss_mb": round(pipeline["idle_mb"], 1)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.feeds.carslink", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--only", choices=("window", "full"))
    p.add_argument("--keep", action="store_true", help="keep the stack's directory (logs, database)")
    args = p.parse_args(argv)
    report: dict[str, Any] = {"machine": machine_summary(), "code": code_version()}
    server, photos = start_photos()
    try:
        with Stack("feeds", keep=args.keep, log_level="WARNING") as stack:
            root = start(stack)
            if args.only in (None, "window"):
                report["window"] = window_part(stack, root, photos)
                log(f"window: {report['window']}")
            if args.only in (None, "full"):
                report["full"] = full_part(stack, root, photos)
                log(f"full: {report['full']}")
    finally:
        server.shutdown()
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
