"""Every enqueue in Forecourt, with the one retry policy and the job metadata they share.

Jobs are named by dotted path; see ``app/jobs/__init__.py`` for why.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from flask import current_app
from rq import Retry, get_current_job
from rq.exceptions import NoSuchJobError
from rq.intermediate_queue import IntermediateQueue
from rq.job import Dependency, Job, JobStatus
from rq.rate_limit import RateLimit, RateLimitRegistry

from app.extensions import db
from app.jobs.queues import DEFAULT, HIGH, IMAGES, LOW, PUSH, queue
from app.listings.models import Car
from app.ops.logging import request_id_var

SYNC_CAR = "workers.jobs.sync_car"
PUSH_CAR = "workers.jobs.push"
SEND_BATCH = "workers.jobs.send_batch"
SEND_FULL = "workers.jobs.send_full"
MARK_FEED = "workers.jobs.mark_feed"
FULL_REPLACE = "workers.jobs.full_replace"
RECONCILE_SITE = "workers.jobs.reconcile_site"
PULL_SOURCE = "workers.jobs.pull_source"
INGEST_IMAGE = "workers.media_jobs.ingest_image"
DELIVER_LEAD = "workers.lead_jobs.deliver_lead"

JOB_TIMEOUT = 300
FAILURE_TTL = 30 * 86400
# Finished syncs, pushes and batches are kept a minute: the attempt log is their record, and
# RQ's default 500 s made Redis grow with job churn under a backlog (bench/soak).
RESULT_TTL = 60


def retry_policy(backoff: Sequence[float] | None = None) -> Retry:
    """RETRY_BACKOFF_SECONDS as an RQ retry: one retry per value, each ±20 % so that many cars
    that failed together (one 5xx burst) don't all come back in the same second."""
    if backoff is None:
        backoff = current_app.config["FORECOURT"].retry_backoff_seconds
    return Retry(max=len(backoff), interval=[max(1, round(s * random.uniform(0.8, 1.2))) for s in backoff])


def job_meta(**extra: Any) -> dict[str, Any]:
    """What every job carries: the request id of the event behind it, plus ``extra``."""
    return {"request_id": request_id_var.get(), **{k: v for k, v in extra.items() if v is not None}}


def car_sync(site_id: str, car_ref: str, *, queue_name: str = DEFAULT, run_id: int | None = None) -> Job | None:
    """Apply a car's pending events, then fan out its pushes. None when a sync of the car is
    already waiting (it reads every pending event when it runs); Sync Now always goes."""
    job_id = f"sync-{uuid.uuid4().hex}"
    key = waiting_sync_key(site_id, car_ref)
    if queue_name == HIGH:
        queue(PUSH).connection.set(key, job_id, ex=WAITING_TTL)
    elif not claim_waiting(key, job_id):
        return None
    return queue(queue_name).enqueue(
        SYNC_CAR,
        site_id,
        car_ref,
        run_id,
        queue_name,
        job_id=job_id,
        job_timeout=JOB_TIMEOUT,
        failure_ttl=FAILURE_TTL,
        result_ttl=RESULT_TTL,
        retry=retry_policy(),
        meta=job_meta(site_id=site_id, car_ref=car_ref, run_id=run_id),
        description=f"sync {site_id}/{car_ref}",
        # RQ holds a car's later jobs until its running one finishes: one at a time, in order.
        rate_limit=RateLimit(f"car:{site_id}:{car_ref}", 1),
    )


def push_limit(car_id: int, destination_id: int) -> RateLimit:
    return RateLimit(f"push:{car_id}:{destination_id}", 1)


def waiting_push_key(car_id: int, destination_id: int) -> str:
    return f"fc:push-waiting:{car_id}:{destination_id}"


def waiting_sync_key(site_id: str, car_ref: str) -> str:
    return f"fc:sync-waiting:{site_id}:{car_ref}"


WAITING = (JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.DEFERRED, JobStatus.RATE_LIMITED)
WAITING_TTL = 7 * 86400  # a marker outliving its job is found stale and replaced


def waiting_job(key: str) -> Job | None:
    """The job a waiting-marker names, if it has not started yet."""
    connection = queue(PUSH).connection
    job_id = connection.get(key)
    if not job_id:
        return None
    try:
        job = Job.fetch(job_id.decode(), connection=connection)
    except NoSuchJobError:
        return None
    return job if _really_waiting(job) else None


def _really_waiting(job: Job) -> bool:
    """A waiting status, and the job where that status says it is. A Redis that died between
    saving a job and queueing it leaves a "queued" job on no queue: trusting the status alone
    would hold that car's changes behind a job that never runs."""
    status = job.get_status()
    if status not in WAITING:
        return False
    q = queue(job.origin)
    connection = q.connection
    if status == JobStatus.QUEUED:
        intermediate = IntermediateQueue.get_intermediate_queue_key(q.key)
        return connection.lpos(q.key, job.id) is not None or connection.lpos(intermediate, job.id) is not None
    if status == JobStatus.SCHEDULED:
        return connection.zscore(q.scheduled_job_registry.key, job.id) is not None
    if status == JobStatus.DEFERRED:
        return connection.zscore(q.deferred_job_registry.key, job.id) is not None
    return connection.zscore(RateLimitRegistry.from_job(job).rate_limited_key, job.id) is not None


def claim_waiting(key: str, job_id: str) -> bool:
    """Make ``job_id`` the one waiting job of ``key`` unless another one already waits. Syncs
    and pushes read the car's latest state when they run, so one waiting job does for all."""
    connection = queue(PUSH).connection
    if connection.set(key, job_id, nx=True, ex=WAITING_TTL):
        return True
    if waiting_job(key) is not None:
        return False
    connection.set(key, job_id, ex=WAITING_TTL)  # the marked job ran or is gone: stale
    return True


def release_waiting(key: str, job_id: str) -> None:
    """Called as the job starts: changes committed from now on need a job of their own."""
    # Compare and delete in one step, so a newer job's claim is never dropped.
    queue(PUSH).connection.eval(
        "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0", 1, key, job_id
    )


def push(
    car_id: int,
    destination_id: int,
    *,
    queue_name: str = PUSH,
    run_id: int | None = None,
    at: float | None = None,
    depends_on: Dependency | None = None,
) -> Job | None:
    """Make one destination match one car, now or at epoch second ``at``. None when a push of
    the car to that destination is already waiting: that one will send the latest state."""
    job_id = f"push-{car_id}-{destination_id}-{uuid.uuid4().hex[:12]}"
    key = waiting_push_key(car_id, destination_id)
    if depends_on is not None or queue_name == HIGH:
        # New photos: the waiting push would not wait for them, so this one does. Sync Now: a
        # dealer is watching, so it goes ahead of a push waiting in a busier queue. Either way
        # this push is the one later syncs find.
        queue(PUSH).connection.set(key, job_id, ex=WAITING_TTL)
    elif not claim_waiting(key, job_id):
        return None
    car = db.session.get(Car, car_id)
    kwargs: dict[str, Any] = dict(
        job_id=job_id,
        job_timeout=JOB_TIMEOUT,
        failure_ttl=FAILURE_TTL,
        result_ttl=RESULT_TTL,
        retry=retry_policy(),
        meta=job_meta(site_id=car.site_id if car else None, car_ref=car.car_ref if car else None,
                      destination_id=destination_id, run_id=run_id),
        description=f"push car {car.site_id + '/' + car.car_ref if car else car_id} to destination {destination_id}",
        rate_limit=push_limit(car_id, destination_id),
    )
    if depends_on is not None:
        kwargs["depends_on"] = depends_on
    return _enqueue(queue_name, at, PUSH_CAR, (car_id, destination_id, run_id, queue_name), kwargs)


def _enqueue(queue_name: str, at: float | None, func: str, args: tuple, kwargs: dict[str, Any]) -> Job:
    """Enqueue now, or at epoch second ``at`` when that is still ahead."""
    q = queue(queue_name)
    if at is not None and at > time.time():
        return q.enqueue_at(datetime.fromtimestamp(at, UTC), func, *args, **kwargs)
    return q.enqueue(func, *args, **kwargs)


def batch_limit(destination_id: int) -> RateLimit:
    return RateLimit(f"feed:{destination_id}", 1)


def send_batch(
    destination_id: int,
    *,
    site_id: str | None = None,
    at: float | None = None,
    queue_name: str = PUSH,
    job_id: str | None = None,
) -> Job:
    """Send a feed destination's gathered changes, at epoch second ``at`` (its window's end).

    One batch job of a destination runs at a time, so two never race for the same cars."""
    kwargs: dict[str, Any] = dict(
        job_id=job_id,
        job_timeout=JOB_TIMEOUT,
        failure_ttl=FAILURE_TTL,
        result_ttl=RESULT_TTL,
        retry=retry_policy(),
        # site_id: a failed batch is listed and replayed with the site's other failed jobs.
        meta=job_meta(site_id=site_id, destination_id=destination_id),
        description=f"send the gathered batch of destination {destination_id}",
        rate_limit=batch_limit(destination_id),
    )
    return _enqueue(queue_name, at, SEND_BATCH, (destination_id, queue_name), kwargs)


def mark_feed(destination_id: int, car_id: int, *, now: bool, depends_on: Dependency) -> Job:
    """Put a car in its feed destination's next batch once its new photos are in (a batch
    sent before would carry none of them, and the remote would skip the car)."""
    return queue(PUSH).enqueue(
        MARK_FEED, destination_id, car_id, now, depends_on=depends_on, job_timeout=60, failure_ttl=FAILURE_TTL,
        result_ttl=RESULT_TTL, retry=retry_policy(), meta=job_meta(destination_id=destination_id),
        description=f"batch car {car_id} for destination {destination_id} after its photos",
    )


def send_full(destination_id: int, *, site_id: str | None = None) -> Job:
    """The dealer's whole stock to one feed destination; shares the batch jobs' one-at-a-time key."""
    return queue(LOW).enqueue(
        SEND_FULL, destination_id, job_timeout=1800, failure_ttl=FAILURE_TTL, retry=retry_policy(),
        meta=job_meta(site_id=site_id, destination_id=destination_id), rate_limit=batch_limit(destination_id),
        description=f"send the whole stock to destination {destination_id}",
    )


def pull_source(
    destination_id: int, *, site_id: str | None = None, at: float | None = None, accept_shrink: bool = False,
    queue_name: str = LOW,
) -> Job:
    """Pull an inventory source now (or at epoch second ``at``); one pull of a source runs at a time."""
    return _enqueue(queue_name, at, PULL_SOURCE, (destination_id, accept_shrink), dict(
        job_timeout=1800, failure_ttl=FAILURE_TTL, result_ttl=RESULT_TTL, retry=retry_policy(),
        meta=job_meta(site_id=site_id, destination_id=destination_id),
        description=f"pull inventory source {destination_id}",
        rate_limit=RateLimit(f"pull:{destination_id}", 1),
    ))


def run_now(job_id: str) -> bool:
    """Move a scheduled job onto its queue now; True when it is queued (or already was)."""
    try:
        job = Job.fetch(job_id, connection=queue(PUSH).connection)
    except NoSuchJobError:
        return False
    status = job.get_status()
    if status == JobStatus.QUEUED:
        return True
    if status != JobStatus.SCHEDULED:
        return False
    q = queue(job.origin)
    # Whoever removes it from the schedule enqueues it: the RQ scheduler or this call, not both.
    if not q.scheduled_job_registry.remove(job):
        return job.get_status() == JobStatus.QUEUED
    q.enqueue_job(job)
    return True


def reschedule_push(at: float, car_id: int, destination_id: int, run_id: int | None, queue_name: str) -> bool:
    """Put a push back for time ``at``, unless another push of the car already waits (it will
    send the latest state). True when this push was put back."""
    job_id = f"push-{car_id}-{destination_id}-{uuid.uuid4().hex[:12]}"
    if not claim_waiting(waiting_push_key(car_id, destination_id), job_id):
        return False
    reschedule_current(at, PUSH_CAR, car_id, destination_id, run_id, queue_name, queue_name=queue_name,
                       rate_limit=push_limit(car_id, destination_id), job_id=job_id)
    return True


def reschedule_current(
    at: float, func: str, *args: Any, queue_name: str, rate_limit: RateLimit | None = None, job_id: str | None = None
) -> None:
    """Put the running job's work back for time ``at`` without spending a retry attempt.

    The new job keeps the retries this one had left and its one-at-a-time rate limit."""
    job = get_current_job()
    retry: Retry | None = retry_policy()
    if job is not None and job.retries_left is not None:
        intervals = list(job.retry_intervals or [])[-job.retries_left:] if job.retries_left else []
        retry = Retry(max=job.retries_left, interval=intervals or 0) if job.retries_left else None
    queue(queue_name).enqueue_at(
        datetime.fromtimestamp(at + random.uniform(0, 0.25), UTC),
        func,
        *args,
        job_id=job_id,
        job_timeout=JOB_TIMEOUT,
        failure_ttl=FAILURE_TTL,
        result_ttl=RESULT_TTL,
        retry=retry,
        meta=dict(job.meta) if job else job_meta(),
        description=job.description if job else None,
        rate_limit=rate_limit,
    )


def full_replace(site_id: str, present_ids: list[str]) -> Job:
    """The missing-car bookkeeping after a DMS full feed."""
    return queue(LOW).enqueue(FULL_REPLACE, site_id, present_ids, job_timeout=600,
                              description=f"full_replace bookkeeping for {site_id}")


def reconcile(site_id: str, adopt: bool = False) -> Job:
    return queue(LOW).enqueue(RECONCILE_SITE, site_id, adopt, job_timeout=1800, description=f"reconcile {site_id}")


def ingest_image(source_url: str, *, job_id: str, job_timeout: int, queue_name: str | None = None) -> Job:
    """One photo's fetch-normalise-store job, under a per-URL job id."""
    return queue(queue_name or IMAGES).enqueue(
        INGEST_IMAGE,
        source_url,
        job_id=job_id,
        job_timeout=job_timeout,
        failure_ttl=7 * 86400,
        result_ttl=3600,
        retry=retry_policy(),
        meta={"request_id": request_id_var.get(), "source_url": source_url[:500]},
        description=f"ingest photo {source_url[:200]}",
    )


def deliver_lead(delivery_id: int, *, site_id: str | None = None, at: float | None = None) -> Job:
    """Deliver one lead to one lead destination (job args are ids only: no personal data in
    Redis, RQ's failed registry or Sentry). Retried with the one retry policy."""
    kwargs: dict[str, Any] = dict(
        job_timeout=60,
        failure_ttl=FAILURE_TTL,
        result_ttl=RESULT_TTL,
        retry=retry_policy(),
        meta=job_meta(site_id=site_id, lead_delivery_id=delivery_id),
        description=f"deliver lead delivery {delivery_id}",
    )
    return _enqueue(PUSH, at, DELIVER_LEAD, (delivery_id,), kwargs)
