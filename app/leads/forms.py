"""Form plugins' field names → Forecourt's canonical lead (the companion plugin's body).

A site picks a preset with the ``lead_form`` option and adds or overrides single fields with
``lead_fields`` (canonical name → the sender's field), because Gravity Forms and WPForms number
their fields per form. A path is tried as one literal key first (Gravity's ``"1.3"`` is a key),
then as dotted steps into objects and lists (``fields.0.first``).

Canonical names: ``submission_id``, ``first_name``, ``last_name``, ``name`` (split into first and
last when those are absent), ``email``, ``phone``, ``message``, ``car.post_id``, ``car.vin``,
``car.stock_number``, ``source_url``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

CANONICAL = (
    "submission_id", "first_name", "last_name", "name", "email", "phone", "message",
    "car.post_id", "car.vin", "car.stock_number", "source_url",
)

FORMS: dict[str, dict[str, str]] = {
    # The companion plugin's [forecourt_enquiry] and forecourt_submit_lead: already canonical.
    "forecourt": {name: name for name in CANONICAL},
    # Contact Form 7's default form (your-name, your-email, ...), as webhook add-ons post it.
    "contact-form-7": {
        "name": "your-name", "first_name": "first-name", "last_name": "last-name", "email": "your-email",
        "phone": "your-tel", "message": "your-message", "car.post_id": "_wpcf7_container_post",
        "submission_id": "submission_id",
    },
    # Gravity Forms' Webhooks add-on, "all fields": the entry keyed by field id; a Name field
    # (id 1) has inputs 1.3 (first) and 1.6 (last).
    "gravity-forms": {
        "submission_id": "id", "first_name": "1.3", "last_name": "1.6", "email": "2", "phone": "3",
        "message": "4", "source_url": "source_url",
    },
    # WPForms' entry fields by id, as its Simple Contact Form numbers them (0 name, 1 email, 2 comment).
    "wpforms": {
        "submission_id": "entry_id", "first_name": "fields.0.first", "last_name": "fields.0.last",
        "email": "fields.1.value", "phone": "fields.3.value", "message": "fields.2.value",
    },
}


def field_map(form: str | None, overrides: Mapping[str, str] | None = None) -> dict[str, str]:
    """The site's mapping: its preset (``forecourt`` by default) plus its own fields."""
    mapping = dict(FORMS.get(form or "forecourt", FORMS["forecourt"]))
    mapping.update({k: v for k, v in (overrides or {}).items() if k in CANONICAL and isinstance(v, str)})
    return mapping


def pick(data: Any, path: str) -> Any:
    """The value at ``path`` (a literal key first, then dotted steps), or None."""
    if isinstance(data, Mapping) and path in data:
        return data[path]
    node = data
    for step in path.split("."):
        if isinstance(node, Mapping):
            node = node.get(step)
        elif isinstance(node, list) and step.isdigit() and int(step) < len(node):
            node = node[int(step)]
        else:
            return None
    return node


def canonical(data: Any, mapping: Mapping[str, str]) -> dict[str, Any]:
    """The sender's body → the canonical lead the schema validates (absent fields left out)."""
    out: dict[str, Any] = {}
    car: dict[str, Any] = {}
    for name, path in mapping.items():
        value = pick(data, path)
        if isinstance(value, Mapping) and "value" in value:
            value = value["value"]  # WPForms-style {"value": ...} field objects
        if value is None or value == "":
            continue
        if name.startswith("car."):
            car[name.removeprefix("car.")] = value
        else:
            out[name] = value
    if car:
        out["car"] = car
    full = out.pop("name", None)
    if isinstance(full, str) and full.strip() and not (out.get("first_name") or out.get("last_name")):
        first, _, last = full.strip().partition(" ")
        out["first_name"], out["last_name"] = first, last.strip()
    return out
