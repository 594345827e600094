"""bench/leads: the lead endpoint's latency against Roadster with 300 ms of latency, and
Express-link generation per second.

    python -m bench.leads.run                     # 60 leads, 300 ms Roadster latency, 3 s of links
                                                  # + 20 leads with Roadster down, 10 with it hanging
    python -m bench.leads.run --leads 100 --latency-ms 300 --link-seconds 5

The stack is the Procfile's gunicorn web tier (2 workers × 4 threads, as in production), one
RQ worker and redis-server, against the sandbox's Roadster emulation with ``latencyMs`` set.
Each lead is a new shopper (no duplicates), sent one at a time, signed like the plugin's.

Baselines, measured in the same run:

* lead latency ÷ a direct ``POST /v1/customers`` to the same sandbox (the floor of any endpoint
  that waits for Roadster's answer): what Forecourt adds is the difference;
* Express links per second (``app.connectors.roadster.express_url``: key derivation, query
  encoding, random IV, AES-256-CBC, Base64, escaping) ÷ the bare ``cryptography`` AES-256-CBC
  encryption + Base64 of the same plaintext with a ready key; also through the admin API.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import time
import uuid
from dataclasses import dataclass

from bench.common import (
    SiteSpec,
    Stack,
    encode,
    http_json,
    log,
    machine_summary,
    percentile,
    raw_post,
    signed_headers,
)

KEY = "rd_bench_" + uuid.uuid4().hex[:12]
CIPHER = base64.b64encode(os.urandom(32)).decode()
DEALER = "bench-motors"
VIN = "JM1NDAM77K0306400"


@dataclass
class LeadSite(SiteSpec):
    roadster_url: str = ""

    def toml(self, carzle_url: str | None) -> str:
        return "\n".join([
            "[[sites]]", f'id = "{self.id}"', f'name = "Bench {self.id}"',
            f'webhook_secret = "{self.webhook_secret}"', 'preset = "inventory-presser"', "",
            "  [[sites.destinations]]", '  marketplace = "roadster"', f'  base_url = "{self.roadster_url}/roadster"',
            f'  api_key = "{KEY}"', f'  encryption_key = "{CIPHER}"', '  dealer_partner_id = "51101"',
            f'  storefront_url = "{self.roadster_url}/roadster/stores/{DEALER}"',
        ]) + "\n"


def lead(n: int) -> dict:
    return {"submission_id": f"bench-{uuid.uuid4().hex}", "first_name": "Bench", "last_name": f"Shopper{n}",
            "email": f"shopper{n}.{uuid.uuid4().hex[:6]}@example.test", "phone": "+14155552671",
            "car": {"post_id": None, "vin": VIN}}


def summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {"p50": percentile(ordered, 50), "p90": percentile(ordered, 90), "p99": percentile(ordered, 99),
            "max": ordered[-1]}


def per_second(fn, seconds: float) -> float:
    count, end = 0, time.perf_counter() + seconds
    while time.perf_counter() < end:
        for _ in range(50):
            fn()
        count += 50
    return count / seconds


def links_in_process(seconds: float) -> tuple[float, float]:
    from cryptography.hazmat.primitives import padding
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    from app.connectors.roadster import cipher_key, express_url, mem_plaintext

    customer = {"fname": "Bench", "lname": "Shopper", "email": "bench.shopper@example.test",
                "phone": "+14155552671", "custid": "12345"}
    key, plaintext = cipher_key(CIPHER), mem_plaintext(customer)

    def bare() -> None:
        padder = padding.PKCS7(128).padder()
        data = padder.update(plaintext) + padder.finalize()
        iv = os.urandom(16)
        enc = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
        base64.b64encode(iv + enc.update(data) + enc.finalize())

    def full() -> None:
        express_url("https://bench-motors.roadster.com", VIN, customer, CIPHER)

    return per_second(full, seconds), per_second(bare, seconds)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.leads.run")
    parser.add_argument("--leads", type=int, default=60, help="leads sent, one at a time")
    parser.add_argument("--latency-ms", type=float, default=300.0, help="Roadster sandbox latency")
    parser.add_argument("--link-seconds", type=float, default=3.0, help="seconds per Express-link measurement")
    parser.add_argument("--fallback-leads", type=int, default=20,
                        help="leads sent with Roadster down (and half as many with it hanging for 5 s)")
    parser.add_argument("--keep", action="store_true", help="keep the stack's directory")
    parser.add_argument("--json", help="write every figure to this file")
    args = parser.parse_args(argv)

    figures: dict = {"leads": args.leads, "latency_ms": args.latency_ms}
    with Stack("leads", keep=args.keep) as stack:
        stack.start_redis()
        root = stack.start_sandbox(window=60, read_limit=100_000, write_limit=100_000)
        control = f"{root}/_sandbox/roadster"
        for path, body in (("/dealers", {"slug": DEALER, "partnerId": "51101", "encryptionKey": CIPHER}),
                           ("/keys", {"key": KEY, "dealer": DEALER}),
                           ("/switches", {"latencyMs": args.latency_ms})):
            status, answer = http_json("POST", control + path, body)
            assert status < 300, (path, status, answer)
        site = LeadSite(id="leads", carzle_key="", showroom="", roadster_url=root)
        stack.configure([site])
        stack.start_web(workers=2, threads=4)
        stack.start_workers(1)
        time.sleep(1.0)

        log(f"leads: warm-up, then {args.leads} leads one at a time, Roadster latency {args.latency_ms:g} ms")
        direct, through, statuses = [], [], []
        for n in range(args.leads + 3):
            body = {"customer": {"first_name": "Bench", "last_name": f"Direct{n}",
                                 "email": f"direct{n}.{uuid.uuid4().hex[:6]}@example.test"},
                    "vehicle": {"vin": VIN}, "dealer": {"partner_id": "51101"}}
            started = time.perf_counter()
            status, _ = raw_post(f"{root}/roadster/v1/customers", json.dumps(body).encode(),
                                 {"Authorization": KEY, "Content-Type": "application/json"})
            took = (time.perf_counter() - started) * 1000
            assert status == 200, status
            payload = lead(n)
            raw = encode(payload)
            headers = signed_headers(site.webhook_secret, raw, webhook_id=f"lead_{payload['submission_id']}")
            started = time.perf_counter()
            status, answer = raw_post(f"{stack.web_url}/hooks/leads/{site.id}", raw, headers)
            took_lead = (time.perf_counter() - started) * 1000
            if n < 3:
                continue  # warm-up: first connections, first imports in each gunicorn worker
            direct.append(took)
            through.append(took_lead)
            statuses.append(status)
            if status != 200 or not (isinstance(answer, dict) and "ucid=" in str(answer.get("redirect_url"))):
                log(f"lead {n}: {status} {answer}")

        # Roadster down (503 at once), then hanging past the wait: the shopper gets a 202 and an
        # Express link; the wait (LEAD_WAIT_SECONDS, 2 s) bounds the second case.
        fallback: dict[str, list[float]] = {}
        for name, switches, count in (("down", {"outage": True, "latencyMs": 0}, args.fallback_leads),
                                      ("hanging", {"outage": False, "latencyMs": 5000}, args.fallback_leads // 2)):
            http_json("POST", control + "/switches", switches)
            fallback[name] = []
            for n in range(count):
                payload = lead(1000 + n)
                raw = encode(payload)
                headers = signed_headers(site.webhook_secret, raw, webhook_id=f"lead_{payload['submission_id']}")
                started = time.perf_counter()
                status, answer = raw_post(f"{stack.web_url}/hooks/leads/{site.id}", raw, headers)
                fallback[name].append((time.perf_counter() - started) * 1000)
                if status != 202 or "?mem=" not in str((answer or {}).get("redirect_url")):
                    log(f"{name} lead {n}: {status} {answer}")
        http_json("POST", control + "/switches", {"outage": False, "latencyMs": args.latency_ms})

        status, answer = http_json("POST", f"{stack.web_url}/api/v1/sites/{site.id}/express-links",
                                   {"email": "a@example.test", "vin": VIN}, headers=stack.admin_headers())
        assert status == 200, answer
        count, end = 0, time.perf_counter() + args.link_seconds
        while time.perf_counter() < end:
            status, _ = http_json("POST", f"{stack.web_url}/api/v1/sites/{site.id}/express-links",
                                  {"email": f"a{count}@example.test", "first_name": "Bench", "vin": VIN},
                                  headers=stack.admin_headers())
            assert status == 200
            count += 1
        api_links = count / args.link_seconds

    full, bare = links_in_process(args.link_seconds)
    d, t = summary(direct), summary(through)
    figures.update(direct_ms=d, lead_ms=t, lead_200=statuses.count(200), lead_other=len(statuses) - statuses.count(200),
                   links_per_s=full, bare_aes_per_s=bare, api_links_per_s=api_links)
    print(f"\nbench/leads — {machine_summary()}")
    print(f"Roadster sandbox latency {args.latency_ms:g} ms; {len(through)} leads, one at a time (after 3 warm-up)")
    print(f"  direct POST /v1/customers       p50 {d['p50']:7.1f} ms  p90 {d['p90']:7.1f}  p99 {d['p99']:7.1f}")
    print(f"  POST /hooks/leads (gunicorn)    p50 {t['p50']:7.1f} ms  p90 {t['p90']:7.1f}  p99 {t['p99']:7.1f}  "
          f"max {t['max']:.1f}")
    print(f"  ratio lead ÷ direct             p50 {t['p50'] / d['p50']:.3f}  p99 {t['p99'] / d['p99']:.3f}; "
          f"Forecourt adds {t['p50'] - d['p50']:.1f} ms at p50")
    print(f"  answered 200 with redirect_url  {statuses.count(200)}/{len(statuses)}")
    for name, values in fallback.items():
        if values:
            f = summary(values)
            figures[f"{name}_ms"] = f
            print(f"  Roadster {name:8s} → 202 + Express link  p50 {f['p50']:7.1f} ms  p99 {f['p99']:7.1f}  "
                  f"max {f['max']:.1f} ({len(values)} leads)")
    print(f"Express links: {full:,.0f}/s in-process vs bare AES-256-CBC + Base64 {bare:,.0f}/s "
          f"(ratio {full / bare:.3f}); admin API, one client: {api_links:,.0f}/s")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(figures, handle, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
