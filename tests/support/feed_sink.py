"""A test feed sink over real HTTP: a loopback server that takes batches of cars and answers
with per-car outcomes, and the connector that speaks to it. It exists to prove the engine's
batch path (windows, chunks, per-car outcomes, retries) independently of any real feed."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from werkzeug.wrappers import Request, Response

from app.connectors.base import register
from app.connectors.kinds import BatchResult, CarOutcome, FeedItem, FeedSink


@register
class LoopbackFeed(FeedSink):
    slug = "loopback-feed"
    display_name = "Loopback feed"
    batch_window = 2.0

    def send_batch(self, items: Sequence[FeedItem], *, full: bool = False) -> BatchResult:
        operation = "feed:full" if full else "feed:partial"
        body = {"full": full, "vehicles": [
            {"ref": item.car_ref, "removed": True} if item.removed else
            {"ref": item.car_ref, "price": item.vehicle.price, "title": item.vehicle.title}
            for item in items
        ]}
        with self.operation() as calls:
            data = self.request("write", "POST", "/batches", json_body=body, operation=operation).json()
        outcomes = {ref: CarOutcome(o["status"], o.get("reason")) for ref, o in data["results"].items()}
        return BatchResult(outcomes, operation=operation, remote_id=data["id"], calls=list(calls))


@dataclass
class FeedSinkServer:
    """What the sink received, and switches a test sets to shape its answers."""

    batches: list[dict[str, Any]] = field(default_factory=list)
    skip: dict[str, str] = field(default_factory=dict)  # ref -> reason
    fail_cars: dict[str, int] = field(default_factory=dict)  # ref -> times to answer "failed"
    fail_requests: list[int] = field(default_factory=list)  # request numbers (1-based) answered 503
    on_request: Callable[[dict[str, Any]], None] | None = None  # runs before the answer
    lock: threading.Lock = field(default_factory=threading.Lock)

    def refs(self, index: int) -> list[str]:
        return [v["ref"] for v in self.batches[index]["vehicles"]]

    def __call__(self, environ: dict, start_response: Callable) -> Any:
        request = Request(environ)
        body = json.loads(request.get_data())
        with self.lock:
            self.batches.append(body)
            number = len(self.batches)
        if self.on_request is not None:
            self.on_request(body)
        if number in self.fail_requests:
            busy = Response(json.dumps({"error": "busy"}), 503, content_type="application/json")
            return busy(environ, start_response)
        results = {}
        for vehicle in body["vehicles"]:
            ref = vehicle["ref"]
            if ref in self.skip:
                results[ref] = {"status": "skipped", "reason": self.skip[ref]}
            elif self.fail_cars.get(ref):
                self.fail_cars[ref] -= 1
                results[ref] = {"status": "failed", "reason": "index timeout"}
            else:
                results[ref] = {"status": "accepted"}
        answer = {"id": f"batch-{number}", "results": results}
        return Response(json.dumps(answer), 200, content_type="application/json")(environ, start_response)
