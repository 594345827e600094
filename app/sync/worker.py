"""The worker class the ``worker`` process runs: RQ's SimpleWorker with a live heartbeat.

RQ's SimpleWorker registers a running job for ``job_timeout + 60`` s and never renews it, so
a job whose worker was killed counted as abandoned only after 360 s. Here a thread beats
every HEARTBEAT_SECONDS while the job runs, with a TTL of HEARTBEAT_TTL: a dead worker's job
lapses within HEARTBEAT_TTL and the scheduler's abandonment sweep requeues it. ``job_timeout``
still bounds how long a job may run (RQ's death penalty in the main thread).
"""

from __future__ import annotations

import logging
import threading

from redis import RedisError
from rq import SimpleWorker
from rq.job import Job
from rq.queue import Queue
from rq.worker import WorkerStatus

log = logging.getLogger("forecourt.worker")

HEARTBEAT_SECONDS = 5.0
HEARTBEAT_TTL = 20  # four missed beats: a busy or briefly stalled worker is not declared dead


class HeartbeatWorker(SimpleWorker):
    def get_heartbeat_ttl(self, job: Job, working_time: float = 0.0) -> int:
        return HEARTBEAT_TTL

    def execute_job(self, job: Job, queue: Queue) -> None:
        execution = self.prepare_execution(job)
        stop = threading.Event()
        beat = threading.Thread(target=self._beat, args=(job, execution, stop), name="job-heartbeat", daemon=True)
        beat.start()
        try:
            self.perform_job(job, queue, execution)
        finally:
            stop.set()
            beat.join(timeout=HEARTBEAT_SECONDS + 1)
        self.set_state(WorkerStatus.IDLE)

    def _beat(self, job: Job, execution, stop: threading.Event) -> None:
        while not stop.wait(HEARTBEAT_SECONDS):
            try:
                self.maintain_heartbeats(job, execution)
            except RedisError:  # Redis restarting: the next beat tries again
                log.warning("job heartbeat failed", exc_info=True)
