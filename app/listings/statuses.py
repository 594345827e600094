"""The two status vocabularies, each owned here once.

``ListingStatus`` is what a car should be on the marketplaces (decided from WordPress or DMS
data); ``SyncStatus`` is where one car stands at one destination (``SyncState.status`` and
the car-status API). Both are ``StrEnum`` so they store and serialise as their plain values.
"""

from __future__ import annotations

from enum import StrEnum


class ListingStatus(StrEnum):
    ACTIVE = "active"
    INACTIVE = "inactive"
    SOLD = "sold"
    RESERVED = "reserved"
    COMING_SOON = "coming_soon"
    DELETED = "deleted"  # remove from the marketplaces


class SyncStatus(StrEnum):
    PENDING = "pending"  # queued, nothing sent yet for this change
    CREATING = "creating"  # a first create is in flight; its reference is committed
    WAITING = "waiting"  # held for a rate-limit reset or an open circuit
    RETRYING = "retrying"  # a 5xx or timeout; RQ retries with backoff
    FAILED = "failed"  # retries exhausted: in the failed registry, replayable
    PAUSED = "paused"  # the destination refused the credentials
    ERROR = "error"  # the remote refused the data: fix the car
    SYNCED = "synced"
    DELETED = "deleted"
    SKIPPED = "skipped"  # a feed left the car out, with a reason; waits for the car to change
    NOT_LISTED = "not_listed"  # nothing to send (never published, or hidden before first listing)
