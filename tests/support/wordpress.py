"""Realistic WordPress deliveries for tests, signed the three ways senders sign them."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from app.webhooks.signatures import sign_body_hmac, standard_webhook_headers

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def inventory_presser_post(
    post_id: int = 101,
    *,
    price: str = "$28,995",
    status: str = "publish",
    event: str = "save_post",
    modified: datetime | None = None,
    vin: str = "JTMABABJ804012345",
    images: list[str] | None = None,
    **meta_overrides: str,
) -> dict[str, Any]:
    modified = modified or datetime.now(UTC)
    meta = {
        "inventory_presser_make": ["Toyota"],
        "inventory_presser_model": ["Land Cruiser"],
        "inventory_presser_trim": ["GR Sport"],
        "inventory_presser_year": ["2024"],
        "inventory_presser_price": [price],
        "inventory_presser_odometer": ["7,456"],
        "inventory_presser_odometer_units": ["mi"],
        "inventory_presser_vin": [vin],
        "inventory_presser_stock_number": [f"STK{post_id}"],
        "inventory_presser_color": ["Pearl White"],
        "inventory_presser_transmission": ["Automatic"],
        "inventory_presser_fuel": ["Petrol"],
        "inventory_presser_body_style": ["SUV"],
        "inventory_presser_availability": ["For Sale"],
    }
    for key, value in meta_overrides.items():
        meta[f"inventory_presser_{key}"] = [value]
    return {
        "event": event,
        "post_id": post_id,
        "post": {
            "ID": post_id,
            "post_type": "inventory_vehicle",
            "post_status": status,
            "post_title": "2024 Toyota Land Cruiser GR Sport",
            "post_content": "One owner, full dealer service history.",
            "post_modified_gmt": modified.strftime("%Y-%m-%d %H:%M:%S"),
            "post_name": f"toyota-land-cruiser-{post_id}",
        },
        "post_meta": meta,
        "taxonomies": {},
        "images": [{"url": url} for url in (images or [])],
    }


def later(seconds: float) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)


def standard_headers(body: bytes, secret: str = SECRET, *, webhook_id: str | None = None,
                     timestamp: int | None = None) -> dict[str, str]:
    return standard_webhook_headers(secret, body, webhook_id=webhook_id, timestamp=timestamp)


def woocommerce_headers(body: bytes, secret: str = SECRET) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "X-WC-Webhook-Signature": sign_body_hmac(secret, body),
        "X-WC-Webhook-Delivery-ID": uuid.uuid4().hex,
        "X-WC-Webhook-Topic": "product.updated",
    }


def wp_webhooks_headers(body: bytes, secret: str = SECRET) -> dict[str, str]:
    return {"Content-Type": "application/json", "X-WP-Webhook-Signature": sign_body_hmac(secret, body)}


def encode(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload).encode()
