"""The scheduler process's loops against a real redis-server that dies and comes back."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
import redis as redis_lib
from rq import Queue
from rq.registry import ScheduledJobRegistry

from app.sync.scheduler import DelayedJobs, _loop
from tests.support.services import RedisServer


@pytest.fixture
def aof_redis():
    server = RedisServer(appendonly=True).start()
    yield server
    server.close()


def _client(server: RedisServer) -> redis_lib.Redis:
    return redis_lib.Redis.from_url(server.url, socket_timeout=1, socket_connect_timeout=1)


def wait_for(predicate, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.05)


def test_delayed_jobs_resume_once_redis_is_back(aof_redis):
    connection = _client(aof_redis)
    queue = Queue("push", connection=connection)
    queue.enqueue_in(timedelta(seconds=1), "builtins.print", "hello")
    delayed = DelayedJobs(connection, ["push"])
    stop = threading.Event()
    thread = threading.Thread(target=_loop, args=("delayed jobs", delayed.tick, 0.2, stop), daemon=True)
    thread.start()
    try:
        aof_redis.process.kill()  # SIGKILL, mid-wait
        aof_redis.process.wait()
        time.sleep(1.5)  # the job falls due while Redis is down
        aof_redis.start()  # same port, same AOF
        wait_for(lambda: queue.count == 1)
        assert ScheduledJobRegistry(queue=queue).count == 0
        assert thread.is_alive()
    finally:
        stop.set()
        thread.join(timeout=5)
        delayed.close()


def test_a_lock_left_by_a_dead_scheduler_is_taken_when_it_lapses(aof_redis):
    connection = _client(aof_redis)
    connection.set("rq:scheduler-lock:push", "dead-scheduler", ex=1)
    queue = Queue("push", connection=connection)
    queue.enqueue_in(timedelta(seconds=0), "builtins.print", "hello")
    delayed = DelayedJobs(connection, ["push"])
    assert delayed.tick() == 0  # someone else's lock: hands off
    time.sleep(1.1)
    assert delayed.tick() == 1  # taken on the next tick, not after RQ's two-minute fallback
    assert queue.count == 1
    delayed.close()
