"""A feed destination's pending set and its batch window (see ``app.sync.batches``).

``mark`` puts a car's newest generation in ``fc:feed:<dest>:pending``; the first change opens
a window (one ``send_batch`` job scheduled for its end, never extended); ``ack`` removes a
car only if its generation is still the one sent.
"""

from __future__ import annotations

import time
import uuid

from app.extensions import redis_store
from app.jobs import enqueue
from app.sites.models import Destination
from app.sync import destinations as dest_service

SCHEDULE_SLACK = 60  # a scheduled marker outlives its window by this, then any change re-opens one

# Remove each car whose generation is still the one sent (ARGV: car, generation, car, ...).
_ACK = """
local removed = 0
for i = 1, #ARGV, 2 do
  if redis.call('HGET', KEYS[1], ARGV[i]) == ARGV[i + 1] then
    redis.call('HDEL', KEYS[1], ARGV[i])
    removed = removed + 1
  end
end
return removed
"""


def pending_key(destination_id: int) -> str:
    return f"fc:feed:{destination_id}:pending"


def scheduled_key(destination_id: int) -> str:
    return f"fc:feed:{destination_id}:scheduled"


def window_of(dest: Destination) -> float:
    cls = dest_service.connector_class(dest.marketplace)
    return float((dest.options or {}).get("batch_window", cls.batch_window))


def mark(dest: Destination, car_id: int, *, now: bool = False) -> None:
    """Queue one car's newest data for the destination's next batch; ``now`` (Sync Now)
    closes the window at once instead of waiting for its end."""
    redis_store.client.hincrby(pending_key(dest.id), str(car_id), 1)
    if now:
        send_now(dest)
    else:
        schedule(dest)


def schedule(dest: Destination) -> bool:
    """Open a window for the destination unless one is open; True when this call opened it."""
    window = window_of(dest)
    job_id = f"feed-batch-{dest.id}-{uuid.uuid4().hex}"
    if not redis_store.client.set(scheduled_key(dest.id), job_id, nx=True, ex=int(window + SCHEDULE_SLACK)):
        return False
    enqueue.send_batch(dest.id, site_id=dest.site_id, at=time.time() + window, job_id=job_id)
    return True


def send_now(dest: Destination) -> None:
    """Close the destination's window now: its scheduled batch job is queued at once."""
    job_id = redis_store.client.get(scheduled_key(dest.id))
    if job_id and enqueue.run_now(job_id.decode()):
        return
    job_id = f"feed-batch-{dest.id}-{uuid.uuid4().hex}"
    redis_store.client.set(scheduled_key(dest.id), job_id, ex=SCHEDULE_SLACK)
    enqueue.send_batch(dest.id, site_id=dest.site_id, job_id=job_id)


def pending(destination_id: int) -> dict[int, int]:
    """Cars waiting for the destination's next batch, with their generations."""
    raw = redis_store.client.hgetall(pending_key(destination_id))
    return {int(car): int(gen) for car, gen in raw.items()}


def ack(destination_id: int, generations: dict[int, int]) -> None:
    if generations:
        args = [str(x) for pair in generations.items() for x in pair]
        redis_store.client.eval(_ACK, 1, pending_key(destination_id), *args)


def put_back(at: float, destination_id: int, queue_name: str) -> None:
    enqueue.reschedule_current(at, enqueue.SEND_BATCH, destination_id, queue_name,
                               queue_name=queue_name, rate_limit=enqueue.batch_limit(destination_id))
