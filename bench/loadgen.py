"""A small HTTP/1.1 keep-alive load generator for signed WordPress webhooks (asyncio, no deps).

Run as its own process (``python -m bench.loadgen '<json spec>'``) so its CPU use and GIL are
separate from the process that orchestrates the benchmark; prints one JSON result line.

Each request is a Standard Webhooks delivery of one of ``cars`` pre-encoded Inventory Presser
bodies, with its own ``webhook-id`` (``msg_<tag>_<seq>``), so every request is new to the
server's replay dedupe. Signing one request is one HMAC-SHA256 (a few microseconds).

Modes:

* closed loop (default): ``connections`` connections, each sends its next request as soon as
  the previous response is read (like wrk). Gives the maximum throughput at that concurrency.
* open loop (``rate`` > 0): requests are due at a fixed total rate spread over the
  connections; latency is measured from the time a request was *due*, so a stalled server is
  not hidden by the client waiting for it (like wrk2; avoids coordinated omission).

Bounded: stops sending at ``warmup + duration`` seconds or after ``max_requests`` requests,
whichever comes first, then waits at most ``drain`` seconds for answers in flight.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import math
import sys
import time
from typing import Any

from bench.common import car_post, encode


class Generator:
    def __init__(self, spec: dict[str, Any]) -> None:
        secret = spec["secret"]
        assert secret.startswith("whsec_")
        self.key = base64.b64decode(secret[len("whsec_"):])
        self.tag = spec.get("tag", "x")
        self.seq = 0
        self.max_requests = int(spec.get("max_requests", 10**9))
        host = f"127.0.0.1:{spec['port']}"
        path = spec["path"]
        first = int(spec.get("first_car", 1))
        self.cars: list[tuple[bytes, bytes]] = []
        for post_id in range(first, first + int(spec.get("cars", 500))):
            body = encode(car_post(post_id))
            head = (
                f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
                f"User-Agent: forecourt-bench\r\nContent-Length: {len(body)}\r\n"
            ).encode()
            self.cars.append((head, body))
        self.timestamp = str(int(time.time())).encode()

    def next(self) -> bytes | None:
        if self.seq >= self.max_requests:
            return None
        n = self.seq
        self.seq += 1
        head, body = self.cars[n % len(self.cars)]
        wid = f"msg_{self.tag}_{n:09d}".encode()
        digest = hmac.digest(self.key, wid + b"." + self.timestamp + b"." + body, hashlib.sha256)
        sig = b"v1," + base64.b64encode(digest)
        return b"".join((head, b"webhook-id: ", wid, b"\r\nwebhook-timestamp: ", self.timestamp,
                         b"\r\nwebhook-signature: ", sig, b"\r\n\r\n", body))


class Run:
    def __init__(self, spec: dict[str, Any]) -> None:
        self.gen = Generator(spec)
        self.port = int(spec["port"])
        self.connections = int(spec.get("connections", 32))
        self.warmup = float(spec.get("warmup", 2.0))
        self.duration = float(spec.get("duration", 10.0))
        self.drain = float(spec.get("drain", 10.0))
        self.rate = float(spec.get("rate", 0.0))
        # 0 = keep-alive for the whole phase; K = a new TCP connection every K requests
        # (1 = one connection per webhook, as WooCommerce / WP Webhooks deliver).
        self.per_connection = int(spec.get("requests_per_connection", 0))
        self.connects = 0
        self.pending_connects = 0
        self.server_closes = 0
        self.loop = asyncio.get_running_loop()
        now = time.perf_counter()
        self.started = now
        self.measure_from = now + self.warmup
        self.stop_at = now + self.warmup + self.duration
        self.latencies: list[float] = []
        self.statuses: dict[int, int] = {}
        self.measured = 0
        self.sent = 0
        self.errors: list[str] = []
        self.in_flight = 0
        self.closed = asyncio.Event()
        self.open = 0
        self.samples: list[dict[str, Any]] = []

    def allow_send(self) -> bytes | None:
        if time.perf_counter() >= self.stop_at:
            return None
        request = self.gen.next()
        if request is not None:
            self.sent += 1
        return request

    def record(self, due: float, done: float, status: int, body: bytes) -> None:
        if due >= self.measure_from and done <= self.stop_at + self.drain:
            self.latencies.append(done - due)
            self.statuses[status] = self.statuses.get(status, 0) + 1
            if done <= self.stop_at:
                self.measured += 1
            if status >= 300 and len(self.samples) < 3:
                self.samples.append({"status": status, "body": body[:300].decode(errors="replace")})


class Connection(asyncio.Protocol):
    def __init__(self, run: Run, index: int, next_due: float | None = None) -> None:
        self.run = run
        self.index = index
        self.served = 0
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None
        self.due = 0.0
        self.waiting = False
        self.interval = (run.connections / run.rate) if run.rate > 0 else 0.0
        # Spread open-loop connections evenly over one interval.
        self.next_due = run.started + (index * self.interval / run.connections if self.interval else 0)
        if next_due is not None:
            self.next_due = next_due

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.run.open += 1
        self.run.connects += 1
        self.schedule()

    def schedule(self) -> None:
        if self.interval:
            delay = self.next_due - time.perf_counter()
            if delay > 0:
                self.run.loop.call_later(delay, self.send)
                return
        self.send()

    def send(self) -> None:
        request = self.run.allow_send()
        if request is None:
            self.finish()
            return
        self.due = self.next_due if self.interval else time.perf_counter()
        if self.interval:
            self.next_due += self.interval
        self.waiting = True
        self.run.in_flight += 1
        assert self.transport is not None
        self.transport.write(request)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while self.waiting:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buffer[:end]).decode("latin-1")
            lines = head.split("\r\n")
            status = int(lines[0].split(" ", 2)[1])
            length = 0
            close = False
            for line in lines[1:]:
                name, _, value = line.partition(":")
                lname = name.strip().lower()
                if lname == "content-length":
                    length = int(value.strip())
                elif lname == "connection" and value.strip().lower() == "close":
                    close = True
            total = end + 4 + length
            if len(self.buffer) < total:
                return
            body = bytes(self.buffer[end + 4:total])
            del self.buffer[:total]
            done = time.perf_counter()
            self.waiting = False
            self.run.in_flight -= 1
            self.run.record(self.due, done, status, body)
            self.served += 1
            if self.run.per_connection and self.served >= self.run.per_connection:
                self.reconnect()
                return
            if close:
                # e.g. gunicorn's sync worker (threads = 1) closes after every response.
                self.run.server_closes += 1
                self.reconnect()
                return
            self.schedule()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.waiting:
            self.run.in_flight -= 1
            self.waiting = False
            self.run.errors.append(f"connection lost mid-request: {exc!r}")
        self.finish()

    def reconnect(self) -> None:
        """Close this connection and carry on with a fresh one (same slot, same schedule)."""
        run = self.run
        run.pending_connects += 1
        next_due = self.next_due

        async def again() -> None:
            try:
                if time.perf_counter() < run.stop_at:
                    await run.loop.create_connection(lambda: Connection(run, self.index, next_due),
                                                     "127.0.0.1", run.port)
            except OSError as exc:
                run.errors.append(f"connect: {exc!r}")
            finally:
                run.pending_connects -= 1
                if run.open == 0 and run.pending_connects == 0:
                    run.closed.set()

        self.finish()
        run.loop.create_task(again())

    def finish(self) -> None:
        if self.transport is not None:
            self.transport.close()
            self.transport = None
            self.run.open -= 1
            if self.run.open == 0 and self.run.pending_connects == 0:
                self.run.closed.set()


async def main(spec: dict[str, Any]) -> dict[str, Any]:
    run = Run(spec)
    cpu0 = time.process_time()
    for index in range(run.connections):
        try:
            await run.loop.create_connection(lambda i=index: Connection(run, i), "127.0.0.1", run.port)
        except OSError as exc:
            run.errors.append(f"connect: {exc!r}")
    if run.open:
        limit = run.warmup + run.duration + run.drain + 5
        try:
            await asyncio.wait_for(run.closed.wait(), timeout=max(0.1, run.started + limit - time.perf_counter()))
        except TimeoutError:
            run.errors.append(f"{run.in_flight} requests unanswered after the drain period")
    latencies = sorted(run.latencies)

    def pct(q: float) -> float:
        if not latencies:
            return float("nan")
        return latencies[min(len(latencies) - 1, max(0, math.ceil(q / 100 * len(latencies)) - 1))] * 1000

    ok = sum(v for k, v in run.statuses.items() if 200 <= k < 300)
    return {
        "mode": "open" if run.rate else "closed",
        "connections": run.connections,
        "requests_per_connection": run.per_connection,
        "tcp_connects": run.connects,
        "server_closes": run.server_closes,
        "target_rate": run.rate or None,
        "duration": run.duration,
        "sent": run.sent,
        "measured": run.measured,
        "rps": run.measured / run.duration,
        "ok": ok,
        "statuses": {str(k): v for k, v in sorted(run.statuses.items())},
        "p50_ms": pct(50),
        "p90_ms": pct(90),
        "p99_ms": pct(99),
        "max_ms": latencies[-1] * 1000 if latencies else float("nan"),
        "client_cpu_s": time.process_time() - cpu0,
        "errors": run.errors[:5],
        "error_count": len(run.errors),
        "samples": run.samples,
    }


if __name__ == "__main__":
    result = asyncio.run(main(json.loads(sys.argv[1])))
    print(json.dumps(result))
