"""Chaos on the real services: redis-server SIGKILLed and restarted from its AOF, workers
SIGKILLed mid-POST, a sustained backlog, malformed bodies. Worker and scheduler run as the
Procfile runs them (``python -m workers worker|scheduler``); the marketplace is the sandbox
over HTTP with a short rate window. Each test ends on "nothing lost, nothing duplicated,
nothing stuck": every car listed exactly once and synced, no job failed, queues empty.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from rq import Queue
from rq.rate_limit import RateLimitRegistry
from rq.registry import FailedJobRegistry, ScheduledJobRegistry, StartedJobRegistry

from app.jobs.queues import QUEUES
from app.sync.debounce import DUE
from tests.conftest import ADMIN_TOKEN, CARZLE_KEY, DMS_KEY
from tests.support.services import RedisServer
from tests.support.wordpress import SECRET, encode, inventory_presser_post, standard_headers
from tests.sync.test_sync_workers import kill_tree, worker_env

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
SHOWROOM = "demo-motors"
WINDOW = 3  # seconds: the sandbox's and the budget's rate window
WRITES = 4  # per window


@pytest.fixture
def aof_redis():
    server = RedisServer(appendonly=True).start()
    yield server
    server.close()


@pytest.fixture
def redis_url(aof_redis):
    """This module's app, workers and scheduler share a redis-server the tests may kill."""
    return aof_redis.url


@pytest.fixture
def limited(app, carzle):
    """Site "demo" whose Carzle destination and sandbox share a 3 s window of 4 writes."""
    from app.sites import cache, config_file

    carzle.registry.update_config({"rate_window_seconds": WINDOW, "write_limit": WRITES, "read_limit": 60})
    config_file.apply(config_file.parse(f"""
[[sites]]
id = "demo"
name = "Demo Motors"
webhook_secret = "{SECRET}"
dms_api_key = "{DMS_KEY}"
preset = "inventory-presser"
ref_scheme = "stock_number"

  [[sites.destinations]]
  marketplace = "carzle"
  base_url = "{carzle.api_url}"
  api_key = "{CARZLE_KEY}"
  regional_specs = "GCC"
  rate_window = {WINDOW}
  rate_writes = {WRITES}
  rate_reads = 60
""", {}))
    cache.clear()
    return carzle


@pytest.fixture
def processes(settings, tmp_path):
    """Start ``python -m workers <args>`` as the Procfile does; all killed at the end."""
    started: list[subprocess.Popen] = []
    env = worker_env(settings)
    env.update(DEBOUNCE_SECONDS="0.3", DEBOUNCE_MAX_WAIT_SECONDS="1.5")

    def start(*args: str) -> subprocess.Popen:
        log = open(Path(tmp_path) / f"{args[0]}-{len(started)}.log", "ab")
        proc = subprocess.Popen([sys.executable, "-m", "workers", *args], env=env, stdout=log,
                                stderr=subprocess.STDOUT)
        log.close()
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                kill_tree(proc.pid)
                proc.wait()


def send(client, post_id: int, **kw) -> None:
    body = encode(inventory_presser_post(post_id, vin=f"JTMABABJ8040{post_id:05d}", **kw))
    response = client.post("/hooks/wordpress/demo", data=body, headers=standard_headers(body))
    assert response.status_code == 202, response.get_json()


def wait_for(predicate, timeout: float, what: str, state=None) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting: {what}; {state() if state else ''}")
        time.sleep(0.1)


def work_left(connection) -> dict[str, int]:
    counts = {"due": int(connection.zcard(DUE))}
    for name in QUEUES:
        queue = Queue(name, connection=connection)
        counts[name] = queue.count
        counts[f"{name}:scheduled"] = ScheduledJobRegistry(queue=queue).count
        counts[f"{name}:started"] = StartedJobRegistry(queue=queue).count
    # Jobs parked behind a one-at-a-time slot are work too (a leaked slot would strand them).
    counts["rate_limited"] = sum(r.get_rate_limited_job_count() for r in RateLimitRegistry.all(connection))
    return {key: value for key, value in counts.items() if value}


def idle(connection) -> bool:
    return not work_left(connection)


def assert_converged(client, carzle, connection, post_ids: list[int]) -> None:
    """Nothing lost, nothing duplicated, nothing stuck."""
    listings = carzle.carzle.listings(SHOWROOM)
    refs = sorted(listing["externalRef"] for listing in listings)
    assert len(refs) == len(set(refs)) == len(post_ids), refs
    for post_id in post_ids:
        car = client.get(f"/api/v1/sites/demo/cars/{post_id}", headers=ADMIN).get_json()
        assert [d["status"] for d in car["destinations"]] == ["synced"], car
    failed = {name: FailedJobRegistry(queue=Queue(name, connection=connection)).count for name in QUEUES}
    assert not any(failed.values()), failed
    # A rerun of a job whose worker died may still be on its way (a 1 s retry): it must drain
    # and change nothing.
    wait_for(lambda: idle(connection), 30, "the last jobs drained", lambda: work_left(connection))
    assert len(carzle.carzle.listings(SHOWROOM)) == len(post_ids)


def _statuses(client, post_ids: list[int]) -> dict:
    out = {}
    for post_id in post_ids:
        car = client.get(f"/api/v1/sites/demo/cars/{post_id}", headers=ADMIN).get_json()
        out[post_id] = [(d["status"], d.get("lastError")) for d in car.get("destinations", [])] or car
    return out


def all_listed(carzle, count: int) -> bool:
    return len(carzle.carzle.listings(SHOWROOM)) >= count


def converged(client, carzle, connection, post_ids: list[int]) -> bool:
    """Every car listed and synced with no work left. Statuses are part of it: a job moving
    between RQ's registries (popped, not yet started) looks idle for an instant."""
    return (all_listed(carzle, len(post_ids)) and idle(connection)
            and all(status == [("synced", None)] for status in _statuses(client, post_ids).values()))


def test_redis_killed_and_restarted_while_pushes_wait_for_a_rate_window(
        app, client, limited, redis_client, aof_redis, processes):
    processes("worker")
    processes("scheduler")
    cars = list(range(201, 213))  # 12 cars: three windows' worth of writes
    for post_id in cars:
        send(client, post_id)

    def waiting_pushes() -> int:
        return ScheduledJobRegistry(queue=Queue("push", connection=redis_client)).count

    wait_for(lambda: all_listed(limited, 2) and waiting_pushes() > 0, 30, "pushes waiting for the window")
    aof_redis.process.kill()  # SIGKILL: no shutdown save, the AOF is all that is left
    aof_redis.process.wait()
    time.sleep(2)  # down long enough for every process to hit connection errors
    aof_redis.start()
    wait_for(lambda: converged(client, limited, redis_client, cars), 45, "every car listed after Redis returned",
             lambda: (len(limited.carzle.listings(SHOWROOM)), work_left(redis_client), _statuses(client, cars)))
    assert_converged(client, limited, redis_client, cars)


def test_worker_killed_mid_post_three_times(app, client, limited, redis_client, processes):
    limited.registry.update_config({"latency_ms": 1500})
    processes("scheduler")
    cars = [301, 302, 303]
    for post_id in cars:
        send(client, post_id)
    def writes() -> int:
        stats = limited.carzle.key_stats(CARZLE_KEY)["requests"]
        return sum(count for call, count in stats.items() if call.startswith(("POST", "PATCH")))

    for _ in range(3):
        seen = writes()
        worker = processes("worker")
        wait_for(lambda seen=seen: writes() > seen, 45, "a POST at the marketplace")
        time.sleep(0.5)  # the POST is inside the marketplace's latency now
        kill_tree(worker.pid)
        worker.wait()
    limited.registry.update_config({"latency_ms": 0})
    processes("worker")
    # Heartbeat TTL (20 s) + sweep (5 s) + a 1 s retry backoff: well inside the 2-minute goal.
    wait_for(lambda: converged(client, limited, redis_client, cars), 55, "every car after the last kill",
             lambda: (len(limited.carzle.listings(SHOWROOM)), work_left(redis_client), _statuses(client, cars)))
    assert_converged(client, limited, redis_client, cars)


def test_sustained_backlog_lists_every_car_once(app, client, limited, redis_client, processes):
    processes("worker")
    processes("scheduler")
    cars = list(range(401, 421))  # 20 cars, five windows of writes
    for round_ in range(3):  # every car changes three times while the backlog drains
        for post_id in cars:
            send(client, post_id, price=f"${20000 + round_ * 100 + post_id}")
        time.sleep(0.5)
    wait_for(lambda: converged(client, limited, redis_client, cars), 55, "the backlog drained",
             lambda: (len(limited.carzle.listings(SHOWROOM)), work_left(redis_client), _statuses(client, cars)))
    assert_converged(client, limited, redis_client, cars)
    for listing in limited.carzle.listings(SHOWROOM):  # the latest state won
        post_id = int(listing["externalRef"].rsplit("STK", 1)[-1])
        assert listing["price"] == 20200 + post_id, listing


MALFORMED = [
    b"[" * 1000 + b"]" * 1000,
    encode(inventory_presser_post(501)).decode().encode("utf-16"),
    encode(inventory_presser_post(501)).decode().encode("utf-16-le"),
    encode(inventory_presser_post(501)).decode().encode("utf-32"),
    encode(inventory_presser_post(501)).replace(b"Land Cruiser", b"Land \\ud800Cruiser"),
    encode(inventory_presser_post(501)).replace(b"Toyota", "To\ud800yota".encode("utf-8", "surrogatepass")),
]


def test_malformed_bodies_between_good_ones_change_nothing(app, client, limited, redis_client, processes):
    processes("worker")
    processes("scheduler")
    cars = [601, 602, 603]
    for post_id, bad in zip(cars * 2, MALFORMED, strict=True):
        response = client.post("/hooks/wordpress/demo", data=bad, headers=standard_headers(bad))
        assert response.status_code == 400, response.get_data()[:200]
        send(client, post_id)
    wait_for(lambda: converged(client, limited, redis_client, cars), 45, "the good cars synced",
             lambda: work_left(redis_client))
    assert_converged(client, limited, redis_client, cars)
