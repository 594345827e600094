#!/usr/bin/env python3
"""Post a signed sample WordPress webhook to a running Forecourt (the README's "try it").

    python scripts/send_webhook.py --car 101                 # publish a sample car
    python scripts/send_webhook.py --car 101 --price 27995   # change its price
    python scripts/send_webhook.py --car 101 --event trash   # take it off the marketplace

It signs like Forecourt's companion plugin (Standard Webhooks). The secret comes from
--secret or DEMO_WEBHOOK_SECRET (./bin/up keeps it in var/demo.env).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.webhooks.signatures import standard_webhook_headers  # noqa: E402


def demo_env() -> dict[str, str]:
    path = Path(__file__).resolve().parents[1] / "var" / "demo.env"
    if not path.exists():
        return {}
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)


def sample_post(car: str, price: int, status: str, event: str, image_base: str | None) -> dict:
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")
    meta = {
        "inventory_presser_make": ["Toyota"],
        "inventory_presser_model": ["Land Cruiser"],
        "inventory_presser_trim": ["GR Sport"],
        "inventory_presser_year": ["2024"],
        "inventory_presser_price": [f"${price:,}"],
        "inventory_presser_odometer": ["7,456"],
        "inventory_presser_odometer_units": ["mi"],
        "inventory_presser_vin": ["JTMABABJ804012345"],
        "inventory_presser_stock_number": [f"STK{car}"],
        "inventory_presser_color": ["Pearl White"],
        "inventory_presser_transmission": ["Automatic"],
        "inventory_presser_fuel": ["Petrol"],
        "inventory_presser_body_style": ["SUV"],
        "inventory_presser_options_array": ["Sunroof, Adaptive cruise control, 22-inch alloys, JBL sound"],
        "inventory_presser_availability": ["For Sale"],
    }
    body = {
        "event": event,
        "post_id": int(car),
        "post": {
            "ID": int(car),
            "post_type": "inventory_vehicle",
            "post_status": status,
            "post_title": "2024 Toyota Land Cruiser GR Sport",
            "post_content": "One owner, full dealer service history.",
            "post_modified_gmt": now,
            "post_name": f"toyota-land-cruiser-{car}",
        },
        "post_meta": meta,
        "taxonomies": {},
        "images": [],
    }
    if image_base:
        body["images"] = [{"url": f"{image_base}/photos/{car}-{n}.jpg"} for n in range(1, 5)]
    return body


def main() -> int:
    env = {**demo_env(), **os.environ}
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default=f"http://127.0.0.1:{env.get('PORT', '8000')}")
    parser.add_argument("--site", default="demo")
    parser.add_argument("--secret", default=env.get("DEMO_WEBHOOK_SECRET"))
    parser.add_argument("--car", default="101", help="WordPress post ID")
    parser.add_argument("--price", type=int, default=28995)
    parser.add_argument("--status", default="publish", help="post_status (publish, draft, ...)")
    parser.add_argument("--event", default="save_post", choices=["save_post", "trash", "untrash", "delete"])
    parser.add_argument("--images", default=None, help="base URL serving /photos/<car>-<n>.jpg")
    parser.add_argument("--body", help="send this JSON file instead of the sample post")
    args = parser.parse_args()
    if not args.secret:
        parser.error("no secret: pass --secret or run ./bin/up once (it writes var/demo.env)")
    payload = json.loads(Path(args.body).read_text()) if args.body else sample_post(
        args.car, args.price, "trash" if args.event == "trash" else args.status, args.event, args.images)
    body = json.dumps(payload).encode()
    headers = standard_webhook_headers(args.secret, body)
    response = requests.post(f"{args.url}/hooks/wordpress/{args.site}", data=body, headers=headers, timeout=10)
    print(response.status_code, response.text.strip())
    return 0 if response.ok else 1


if __name__ == "__main__":
    sys.exit(main())
