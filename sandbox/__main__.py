"""``python -m sandbox``: run the marketplace sandbox on werkzeug's threaded dev server."""

from __future__ import annotations

import argparse
import os
import sys

from werkzeug.serving import make_server

from sandbox.app import create_sandbox_app, get_registry
from sandbox.common import KeySpec, SandboxSettings, parse_key_specs

DEMO_KEY = "cz_test_demo"
# Dev defaults for the other emulations, used when their flags are absent.
DEMO_ROADSTER_DEALER = "demo-motors:51101:Zm9yZWNvdXJ0LXNhbmRib3gtZGVtby1rZXktMzJieSE="  # a 32-byte key
DEMO_ROADSTER_KEY = "rd_test_demo:demo-motors"
DEMO_CARFLUENCE_USER = "demo@carfluence.sandbox:demo-password:demo-group"
DEMO_CARFLUENCE_KEY = "cf_live_demo:demo-group:inventory:read,inventory:history"
CARSLINK_DEMO_KEY = "cl_test_demo"
AUTERIO_DEMO_KEY = "au_test_demo"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8100)
    p.add_argument("--window", type=float, default=60.0, help="rate-limit window in seconds")
    p.add_argument("--read-limit", type=int, default=60, help="reads per window per key")
    p.add_argument("--write-limit", type=int, default=30, help="writes per window per key")
    p.add_argument("--latency-ms", type=float, default=0.0, help="added latency per API call")
    p.add_argument("--fault-rate", type=float, default=0.0, help="0..1 chance of a 500/502/503")
    p.add_argument("--seed", type=int, default=None, help="seed for faults and generated ids")
    p.add_argument(
        "--key",
        action="append",
        default=[],
        metavar="KEY:SHOWROOM:scope1,scope2",
        help="seed an API key (repeatable; scopes default to all). Also read from $SANDBOX_KEYS.",
    )
    p.add_argument(
        "--roadster-dealer",
        action="append",
        default=[],
        metavar="SLUG[:PARTNER_ID[:BASE64_KEY]]",
        help="seed a Roadster dealer with its Express encryption key (repeatable)",
    )
    p.add_argument(
        "--roadster-key", action="append", default=[], metavar="KEY[:DEALER]", help="seed a Roadster API key"
    )
    p.add_argument(
        "--carfluence-user",
        action="append",
        default=[],
        metavar="EMAIL:PASSWORD[:GROUP]",
        help="seed a Carfluence login (repeatable)",
    )
    p.add_argument(
        "--carfluence-key",
        action="append",
        default=[],
        metavar="cf_live_KEY[:GROUP[:scope1,scope2]]",
        help="seed a scoped Carfluence API key (repeatable)",
    )
    p.add_argument(
        "--carslink-key",
        action="append",
        default=[],
        metavar="KEY[:PARTNER]",
        help=f"seed a Carslink partner key (repeatable; default {CARSLINK_DEMO_KEY})",
    )
    p.add_argument(
        "--auterio-key",
        action="append",
        default=[],
        metavar="KEY[:ACCOUNT[:SOURCE]]",
        help=f"seed an Auterio key; SOURCE is the response's 'source' (repeatable; default {AUTERIO_DEMO_KEY})",
    )
    p.add_argument(
        "--auterio-atomic",
        action="store_true",
        help="Auterio refuses a whole batch when any vehicle is invalid (default: skips invalid ones)",
    )
    p.add_argument(
        "--insecure-images",
        action="store_true",
        help="allow http:// and private/loopback image sources (local image servers)",
    )
    p.add_argument("--no-fetch-images", action="store_true", help="accept image URLs without downloading")
    return p


def settings_from_args(args: argparse.Namespace, environ: dict[str, str]) -> SandboxSettings:
    keys: list[KeySpec] = [KeySpec.parse(k) for k in args.key]
    keys += parse_key_specs(environ.get("SANDBOX_KEYS", ""))
    if not keys:
        keys = [KeySpec(DEMO_KEY, "demo-motors", name="demo key")]
    return SandboxSettings(
        rate_window_seconds=args.window,
        read_limit=args.read_limit,
        write_limit=args.write_limit,
        latency_ms=args.latency_ms,
        fault_rate=args.fault_rate,
        seed=args.seed,
        require_https_images=not args.insecure_images,
        allow_private_image_hosts=args.insecure_images,
        fetch_images=not args.no_fetch_images,
        carzle_keys=keys,
        roadster_dealers=args.roadster_dealer or [DEMO_ROADSTER_DEALER],
        roadster_keys=args.roadster_key or [DEMO_ROADSTER_KEY],
        carfluence_users=args.carfluence_user or [DEMO_CARFLUENCE_USER],
        carfluence_keys=args.carfluence_key or [DEMO_CARFLUENCE_KEY],
        carslink_keys=args.carslink_key or [CARSLINK_DEMO_KEY],
        auterio_keys=args.auterio_key or [AUTERIO_DEMO_KEY],
        auterio_atomic_batches=args.auterio_atomic,
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = settings_from_args(args, dict(os.environ))
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    app = create_sandbox_app(settings)
    server = make_server(args.host, args.port, app, threaded=True)
    root = f"http://{args.host}:{server.server_port}"
    print(f"Forecourt marketplace sandbox on {root}")
    print(f"  Carzle base URL: {root}/carzle/api/v1")
    print(f"  Roadster API:    {root}/roadster/v1/customers")
    print(f"  Carfluence base: {root}/carfluence/api/v1")
    print(f"  Control API:     {root}/_sandbox")
    registry = get_registry(app)
    for key in registry.carzle.key_snapshot():
        print(f"  key {key['key']}  showroom={key['showroom']}  scopes={','.join(key['scopes'])}")
    for spec in (*settings.roadster_dealers, *settings.roadster_keys, *settings.carfluence_keys):
        print(f"  seeded {spec}")
    for spec in settings.carfluence_users:
        print(f"  carfluence login {spec.split(':')[0]}")
    print(f"  Carslink base URL: {root}/carslink  (POST /api/v1/stock, X-Dealer-Api-Key)")
    for record in registry.carslink.keys.values():
        print(f"  key {record.key}  partner={record.account}")
    print(f"  Auterio base URL:  {root}/auterio  (POST /api/vehicles/ingest, Bearer)")
    for record in registry.auterio.keys.values():
        print(f"  key {record.key}  account={record.account}  source={record.name}")
    sys.stdout.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
