"""Open-loop sender of signed WordPress webhooks that change each car's price every time.

``Sender(stack, work, rate, threads)`` sends ``work`` (a list of (site, post id), cycled) at
``rate`` per second over ``threads`` keep-alive connections. Each car always goes through the
same thread, so one car's webhooks leave in order; each carries a new price and a
``post_modified_gmt`` later than the car's previous one. ``last_price`` keeps, per (site id,
post id), the price of the last webhook that got a 2xx: what the marketplace must show once
everything has drained.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from bench.common import SiteSpec, Stack, car_post, encode, signed_headers


class Sender:
    def __init__(self, stack: Stack, work: list[tuple[SiteSpec, int]], *, rate: float, threads: int = 4,
                 max_requests: int | None = None, timeout: float = 10.0) -> None:
        assert stack.web_url and stack.web_url.startswith("http://127.0.0.1:")
        self.stack = stack
        self.host, self.port = "127.0.0.1", int(stack.web_url.rsplit(":", 1)[1])
        self.work = work
        self.rate = rate
        self.threads = max(1, min(threads, len(work)))
        self.max_requests = max_requests if max_requests is not None else 10**12
        self.timeout = timeout
        self.stop_event = threading.Event()
        self.sent = 0
        self.statuses: Counter[int | str] = Counter()
        self.outcomes: Counter[str] = Counter()  # the answer's "status": accepted, spooled, ...
        self.count: dict[tuple[str, int], int] = {}
        self.modified: dict[tuple[str, int], int] = {}
        self.last_price: dict[tuple[str, int], int] = {}
        self.first_accept: dict[tuple[str, int], float] = {}
        self.last_accept: dict[tuple[str, int], float] = {}
        self.behind_max = 0.0  # how late the open loop ever was, seconds
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self.started_at = 0.0
        self.stopped_at = 0.0

    # ------------------------------------------------------------------------------ control

    def start(self) -> Sender:
        self.started_at = time.monotonic()
        for index in range(self.threads):
            thread = threading.Thread(target=self._run, args=(index,), name=f"sender{index}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self, timeout: float = 30.0) -> None:
        self.stop_event.set()
        for thread in self._threads:
            thread.join(timeout)
        self.stopped_at = time.monotonic()

    def done(self) -> bool:
        return all(not t.is_alive() for t in self._threads)

    def accepted(self) -> int:
        return sum(n for s, n in self.statuses.items() if isinstance(s, int) and 200 <= s < 300)

    # ------------------------------------------------------------------------------ work

    def _connection(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)

    def _run(self, index: int) -> None:
        mine = self.work[index::self.threads]
        share = self.rate / self.threads
        conn = self._connection()
        n = 0
        try:
            while not self.stop_event.is_set():
                with self._lock:
                    if self.sent >= self.max_requests:
                        return
                    self.sent += 1
                due = self.started_at + n / share
                delay = due - time.monotonic()
                if delay > 0:
                    if self.stop_event.wait(delay):
                        return
                else:
                    self.behind_max = max(self.behind_max, -delay)
                site, post_id = mine[n % len(mine)]
                n += 1
                conn = self._send_one(conn, site, post_id)
        finally:
            conn.close()

    def _send_one(self, conn: http.client.HTTPConnection, site: SiteSpec, post_id: int) -> http.client.HTTPConnection:
        key = (site.id, post_id)
        count = self.count.get(key, 0) + 1
        now = int(time.time())
        modified = max(now, self.modified.get(key, 0) + 1)
        price = 10_000 + 10 * count + post_id % 10
        payload = car_post(post_id, price=price, modified=datetime.fromtimestamp(modified, UTC))
        body = encode(payload)
        headers = signed_headers(site.webhook_secret, body)
        self.count[key] = count
        self.modified[key] = modified
        status: int | str
        answer: Any = None
        try:
            conn.request("POST", f"/hooks/wordpress/{site.id}", body=body, headers=headers)
            response = conn.getresponse()
            raw = response.read()
            status = response.status
            try:
                answer = json.loads(raw) if raw else None
            except ValueError:
                answer = None
        except (OSError, http.client.HTTPException) as exc:
            status = type(exc).__name__
            conn.close()
            conn = self._connection()
        with self._lock:
            self.statuses[status] += 1
            if isinstance(answer, dict) and answer.get("status"):
                self.outcomes[str(answer["status"])] += 1
        if isinstance(status, int) and 200 <= status < 300:
            self.last_price[key] = price
            now_f = time.time()
            self.first_accept.setdefault(key, now_f)
            self.last_accept[key] = now_f
        return conn
