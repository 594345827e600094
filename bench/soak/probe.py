"""What bench/soak and bench/recovery read from the running stack (read-only).

* ``tree_rss``: resident memory of a process and all its descendants (psutil when the venv
  has it, else ``/proc/<pid>/status`` VmRSS over the tree read from ``/proc/*/stat``);
* ``queue_counts``: RQ's queued / scheduled / deferred / started counts per queue, plus the
  jobs RQ's own ``RateLimit`` holds back (``rq:rl:<key>:rate_limited``), by key kind;
* ``waiting_pushes``: every push job not started yet (queued, scheduled, deferred, or held by
  its one-at-a-time rate limit), grouped by car and destination from the job's description
  (``push car <site>/<ref> to destination <id>``);
* ``listing_check``: the sandbox's listings (deleted ones included) against the price each car
  was last sent with: missing, duplicated, stale.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from bench.common import http_json

try:  # psutil is in the venv today; /proc is the fallback
    import psutil
except ImportError:  # pragma: no cover
    psutil = None

PUSH_DESCRIPTION = re.compile(r"push car (\S+) to destination (\d+)")


# --------------------------------------------------------------------------- memory


def _children_from_proc() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may contain spaces and parentheses
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    return children


def _vmrss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_rss(pid: int) -> tuple[int, int]:
    """(bytes resident summed over ``pid`` and its descendants, number of processes)."""
    if psutil is not None:
        try:
            root = psutil.Process(pid)
            procs = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return 0, 0
        total = 0
        alive = 0
        for proc in procs:
            try:
                total += proc.memory_info().rss
                alive += 1
            except psutil.NoSuchProcess:
                pass
        return total, alive
    if not os.path.exists(f"/proc/{pid}"):
        return 0, 0
    children = _children_from_proc()
    stack, seen = [pid], []
    while stack:
        current = stack.pop()
        seen.append(current)
        stack.extend(children.get(current, []))
    return sum(_vmrss_kb(p) for p in seen) * 1024, len(seen)


# --------------------------------------------------------------------------- RQ


def _rate_limit_keys(client) -> list[str]:
    from rq.rate_limit import RateLimitRegistry

    return sorted(k.decode() if isinstance(k, bytes) else k for k in client.smembers(RateLimitRegistry.rl_keys_key))


def _held_ids(client, keys: Iterable[str]) -> dict[str, list[str]]:
    from rq.rate_limit import RateLimitRegistry

    keys = list(keys)
    pipe = client.pipeline(transaction=False)
    for key in keys:
        pipe.zrange(RateLimitRegistry(key, client).rate_limited_key, 0, -1)
    out = {}
    for key, ids in zip(keys, pipe.execute(), strict=True):
        out[key] = [i.decode() for i in ids]
    return out


def queue_counts(client) -> dict[str, int]:
    """Per queue: ``<q>`` queued, ``<q>:sched``, ``<q>:defer``, ``<q>:started``; ``held:<kind>``
    = jobs RQ's RateLimit holds (kind = the key's prefix: car, push, feed); ``due`` = cars
    waiting in the debouncer."""
    from rq import Queue
    from rq.registry import DeferredJobRegistry, ScheduledJobRegistry, StartedJobRegistry

    from app.jobs.queues import QUEUES

    counts: dict[str, int] = {"due": int(client.zcard("fc:debounce:due"))}
    for name in QUEUES:
        queue = Queue(name, connection=client)
        counts[name] = queue.count
        counts[f"{name}:sched"] = ScheduledJobRegistry(queue=queue).count
        counts[f"{name}:defer"] = DeferredJobRegistry(queue=queue).count
        counts[f"{name}:started"] = StartedJobRegistry(queue=queue).count
    held: Counter[str] = Counter()
    for key, ids in _held_ids(client, _rate_limit_keys(client)).items():
        held[f"held:{key.split(':', 1)[0]}"] += len(ids)
    counts.update(held)
    return counts


def waiting_pushes(client) -> dict[str, Any]:
    """Push jobs not started yet, per (car, destination): the most for any one, how many
    cars have one, the total. A push job is found on the push/high queues, in their
    scheduled and deferred registries, or held by its RateLimit."""
    from rq import Queue
    from rq.job import Job
    from rq.registry import DeferredJobRegistry, ScheduledJobRegistry

    ids: set[str] = set()
    for name in ("push", "high"):
        queue = Queue(name, connection=client)
        ids.update(queue.get_job_ids())
        ids.update(ScheduledJobRegistry(queue=queue).get_job_ids())
        ids.update(DeferredJobRegistry(queue=queue).get_job_ids())
    for held in _held_ids(client, [k for k in _rate_limit_keys(client) if k.startswith("push:")]).values():
        ids.update(held)
    ordered = sorted(ids)
    pipe = client.pipeline(transaction=False)
    for job_id in ordered:
        pipe.hmget(Job.key_for(job_id), "description", "status")
    per_car: Counter[tuple[str, str]] = Counter()
    by_status: Counter[str] = Counter()
    for fields in pipe.execute():
        description, status = (f.decode() if isinstance(f, bytes) else f for f in fields)
        match = PUSH_DESCRIPTION.match(description or "")
        if not match or status in ("started", "finished", "failed", "canceled", "stopped"):
            continue
        per_car[(match.group(1), match.group(2))] += 1
        by_status[status or "?"] += 1
    worst = per_car.most_common(1)
    return {
        "max_per_car": worst[0][1] if worst else 0,
        "worst_car": f"{worst[0][0][0]} -> destination {worst[0][0][1]}" if worst else None,
        "cars": len(per_car),
        "total": sum(per_car.values()),
        "cars_with_more_than_one": sum(1 for n in per_car.values() if n > 1),
        "by_status": dict(by_status),
    }


def redis_memory(client) -> dict[str, int]:
    info = client.info("memory")
    return {"used_memory": int(info["used_memory"]), "used_memory_rss": int(info.get("used_memory_rss", 0)),
            "keys": int(client.dbsize())}


def failed_jobs_by_queue(client) -> dict[str, int]:
    from rq import Queue
    from rq.registry import FailedJobRegistry

    from app.jobs.queues import QUEUES

    return {n: FailedJobRegistry(queue=Queue(n, connection=client)).count for n in QUEUES}


def pending(counts: Mapping[str, int]) -> dict[str, int]:
    """The non-zero entries of ``queue_counts``: anything queued, scheduled, deferred,
    started, held or due."""
    return {k: v for k, v in counts.items() if v}


# --------------------------------------------------------------------------- sandbox


def sandbox_listings(sandbox_root: str, showroom: str) -> list[dict[str, Any]]:
    status, body = http_json("GET", f"{sandbox_root}/_sandbox/carzle/listings?showroom={showroom}"
                                    "&includeDeleted=true", timeout=60)
    if status != 200:
        raise RuntimeError(f"sandbox listings: {status} {body}")
    return body if isinstance(body, list) else (body.get("listings") or body.get("data") or [])


def post_id_of(listing: Mapping[str, Any]) -> int | None:
    ref = str(listing.get("externalRef") or "")
    tail = ref.rsplit("STK", 1)[-1]
    return int(tail) if "STK" in ref and tail.isdigit() else None


def listing_check(listings: list[dict[str, Any]], expected: Mapping[int, int | None]) -> dict[str, Any]:
    """``expected``: post id -> the price last accepted for it (None: any price).

    Returns counts and a few examples of missing (no live listing), duplicated (more than one
    listing for one externalRef, deleted ones included), stale (live price differs) and
    unexpected (a listing for a car never sent) cars."""
    refs: Counter[str] = Counter(str(item.get("externalRef")) for item in listings)
    live: dict[int, dict[str, Any]] = {}
    unexpected = []
    for item in listings:
        post_id = post_id_of(item)
        if post_id is None or post_id not in expected:
            unexpected.append(item.get("externalRef"))
            continue
        if not item.get("deletedAt"):
            live[post_id] = item
    missing = sorted(set(expected) - set(live))
    stale = sorted(p for p, item in live.items()
                   if expected[p] is not None and int(float(item.get("price") or 0)) != expected[p])
    duplicated = sorted(r for r, n in refs.items() if n > 1)
    return {
        "expected": len(expected), "listed": len(live), "listings_total": len(listings),
        "missing": len(missing), "duplicated": len(duplicated), "stale": len(stale),
        "unexpected": len(unexpected),
        "examples": {"missing": missing[:5], "duplicated": duplicated[:5], "stale": stale[:5]},
        "converged": not missing and not duplicated and not stale and not unexpected,
    }


_ID_TAIL = re.compile(r"(:[^:]*\d[^:]*)+$")


def key_group(key: str) -> str:
    """``rq:job:<id>`` -> ``rq:job:*``, ``fc:seen:<site>:<id>`` -> ``fc:seen:*``: the key with
    its trailing segments that carry a digit (ids, car refs, timestamps) folded."""
    parts = key.split(":")
    head = [parts[0]]
    for part in parts[1:]:
        if any(ch.isdigit() for ch in part) or len(head) >= 3:
            return ":".join(head) + ":*"
        head.append(part)
    return ":".join(head)


def keyspace(client, *, sample_per_group: int = 30) -> dict[str, dict[str, int]]:
    """Keys by group, with an estimate of their bytes (``MEMORY USAGE`` of up to
    ``sample_per_group`` keys of each group, scaled to the group's count)."""
    groups: dict[str, list[bytes]] = {}
    counts: Counter[str] = Counter()
    for raw in client.scan_iter(count=1000):
        key = raw.decode(errors="replace")
        group = key_group(key)
        counts[group] += 1
        members = groups.setdefault(group, [])
        if len(members) < sample_per_group:
            members.append(raw)
    out = {}
    for group, count in counts.most_common():
        sample = groups[group]
        pipe = client.pipeline(transaction=False)
        for raw in sample:
            pipe.memory_usage(raw)
        sizes = [s or 0 for s in pipe.execute()]
        mean = sum(sizes) / len(sizes) if sizes else 0
        out[group] = {"keys": count, "approx_bytes": int(mean * count)}
    return out


def stuck_rate_limits(client, *, limit: int = 10) -> list[dict[str, Any]]:
    """RQ RateLimit keys that hold jobs back, with what occupies their slots: the job ids in
    ``allowed`` and each one's status (``no job hash`` when the job is gone). A slot held by a
    job that is neither queued nor running never frees itself."""
    from rq.job import Job
    from rq.rate_limit import RateLimitRegistry

    out = []
    for key in _rate_limit_keys(client):
        registry = RateLimitRegistry(key, client)
        held = client.zcard(registry.rate_limited_key)
        if not held:
            continue
        allowed = [i.decode() for i in client.zrange(registry.allowed_key, 0, -1)]
        slots = {}
        for job_id in allowed:
            status = client.hget(Job.key_for(job_id), "status")
            slots[job_id] = status.decode() if status else "no job hash"
        out.append({"key": key, "held": held, "slots": slots})
        if len(out) >= limit:
            break
    return out
