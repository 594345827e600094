"""Real worker processes: crashes mid-job and concurrency, as production runs them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from rq import Queue
from rq.job import Job
from rq.registry import FinishedJobRegistry, StartedJobRegistry

from app.extensions import redis_store
from app.sync.scheduler import flush_due
from tests.conftest import ADMIN_TOKEN
from tests.support.jobs import drain
from tests.support.wordpress import encode, inventory_presser_post, standard_headers

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def worker_env(settings) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        FORECOURT_ENV="test",
        DATABASE_URL=settings.database_url,
        REDIS_URL=settings.redis_url,
        FORECOURT_ENCRYPTION_KEYS=",".join(settings.encryption_keys),
        FORECOURT_VAR_DIR=str(settings.var_dir),
        SECRET_KEY="test",
        FORECOURT_ADMIN_TOKEN=ADMIN_TOKEN,
        RETRY_BACKOFF_SECONDS="1,1,1",
        LOG_LEVEL="WARNING",
    )
    return env


@pytest.fixture
def start_worker(settings):
    started: list[subprocess.Popen] = []

    def start() -> subprocess.Popen:
        proc = subprocess.Popen(
            [sys.executable, "-m", "workers", "worker", "high", "push", "default"],
            env=worker_env(settings),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
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


def children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    ppid = int(handle.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if ppid == pid:
                found.append(int(entry))
    return found


def kill_tree(pid: int) -> None:
    """kill -9 a worker and its work horse (RQ puts the horse in its own process group)."""
    for child in children(pid):
        kill_tree(child)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def wait_for(predicate, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.05)


def send(client, post_id=101, **kw):
    body = encode(inventory_presser_post(post_id, **kw))
    assert client.post("/hooks/wordpress/demo", data=body, headers=standard_headers(body)).status_code == 202


def test_kill_9_mid_request_reruns_the_job_without_a_duplicate_listing(app, client, site, carzle, start_worker):
    carzle.registry.update_config({"latency_ms": 1500})
    send(client)
    time.sleep(0.4)
    flush_due(app)
    worker = start_worker()
    started = StartedJobRegistry(queue=Queue("push", connection=redis_store.client))

    def push_in_flight() -> bool:
        return any("push" in (Job.fetch(i, connection=redis_store.client).func_name or "")
                   for i in started.get_job_ids(cleanup=False))

    wait_for(push_in_flight)
    wait_for(lambda: carzle.carzle.key_stats(carzle.key)["requests"].get("GET /metadata"))
    time.sleep(0.5)  # the POST is at the marketplace now, waiting out its latency
    kill_tree(worker.pid)
    worker.wait()
    wait_for(lambda: len(carzle.carzle.listings("demo-motors")) == 1)  # it landed; we never heard back

    # RQ notices a dead worker's job when its heartbeat lapses; jump the clock past it.
    carzle.registry.update_config({"latency_ms": 0})
    started.cleanup(timestamp=time.time() + 3600)
    for key in redis_store.client.scan_iter("rq:scheduler-lock:*"):  # the dead worker's, ~61 s TTL
        redis_store.client.delete(key)
    drain(app)
    (listing,) = carzle.carzle.listings("demo-motors")
    car = client.get("/api/v1/sites/demo/cars/101", headers=ADMIN).get_json()
    assert car["destinations"][0]["status"] == "synced"
    assert car["destinations"][0]["remoteId"] == listing["id"]
    s = carzle.carzle.key_stats(carzle.key)
    assert s["requests"]["POST /listings"] == 2, s  # the rerun's POST met the first one (409)
    assert s["statusCodes"].get("409") == 1, s


def test_two_workers_never_sync_the_same_car_at_once(app, client, site, carzle, start_worker):
    carzle.registry.update_config({"latency_ms": 200})
    send(client)
    for _ in range(4):
        assert client.post("/api/v1/sites/demo/cars/101/sync", headers=ADMIN).status_code == 202
    time.sleep(0.4)
    flush_due(app)
    start_worker()
    start_worker()
    connection = redis_store.client
    queues = [Queue(name, connection=connection) for name in ("high", "push", "default")]

    def idle() -> bool:
        return all(q.count == 0 for q in queues) and all(
            StartedJobRegistry(queue=q).count == 0 for q in queues
        ) and connection.zcard("fc:debounce:due") == 0

    wait_for(idle, timeout=60)
    time.sleep(0.5)
    wait_for(idle, timeout=60)
    jobs = [
        Job.fetch(job_id, connection=connection)
        for q in queues
        for job_id in FinishedJobRegistry(queue=q).get_job_ids()
    ]
    for name in ("sync_car", "push"):
        spans = sorted((j.started_at, j.ended_at) for j in jobs if j.func_name.endswith(name))
        assert len(spans) >= 2, name
        for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
            assert start >= end, f"two {name} jobs for one car overlapped"
    assert carzle.carzle.key_stats(carzle.key)["posts"] == 1
    assert len(carzle.carzle.listings("demo-motors")) == 1
