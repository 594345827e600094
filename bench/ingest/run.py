"""bench/ingest: signed WordPress webhooks per second through Forecourt's web tier, beside
the ceiling (a bare WSGI app doing the same Redis writes), in the same run.

    python -m bench.ingest.run                       # ~1.5 minutes on 2 cores
    python -m bench.ingest.run --profile             # + a py-spy CPU profile of the Flask path
    python -m bench.ingest.run --workers 2 --threads 4 --connections 32 --duration 10 --rounds 2

What runs (all on 127.0.0.1, all started and stopped here): redis-server as the embedded
default runs it (AOF, appendfsync always, unix socket); ``flask forecourt release`` with a
one-site TOML; Forecourt through the Procfile's ``web:`` gunicorn command line
(``gunicorn wsgi:app --workers $WEB_CONCURRENCY --threads $WEB_THREADS --access-logfile -``,
stdout to a log file); the same command line with ``bench.ingest.bare_wsgi:app`` as the
target; and the load generator (``bench/loadgen.py``) in its own process.

Phases alternate (Forecourt, bare, Forecourt, bare, ...) so drift hits both; Redis is
flushed before each. Closed-loop phases give the maximum rate at ``--connections``
concurrency; an open-loop phase per app at ``--rate`` req/s gives latency at a fixed load
(measured from when each request was due). No RQ worker or scheduler runs: this measures
acceptance only.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from bench.common import (
    PYTHON,
    ROOT,
    Stack,
    busy_cpu_seconds,
    log,
    machine_summary,
    make_sites,
)

PY_SPY_CANDIDATES = ("py-spy", "/tmp/pyspy/bin/py-spy")
# Frames whose direct callees the profile report breaks down.
BREAKDOWN = ("ThreadWorker.handle_request (", "Flask.wsgi_app (", "wordpress (app/webhooks/views",
             "submit (app/webhooks/inbound", "Debouncer.submit (")


def load(port: int, secret: str, site_id: str, *, tag: str, connections: int, duration: float,
         warmup: float, rate: float = 0.0, cars: int = 500, max_requests: int = 400_000,
         requests_per_connection: int = 0) -> dict[str, Any]:
    spec = {
        "port": port, "path": f"/hooks/wordpress/{site_id}", "secret": secret, "tag": tag,
        "connections": connections, "duration": duration, "warmup": warmup, "rate": rate,
        "cars": cars, "max_requests": max_requests, "drain": 10.0,
        "requests_per_connection": requests_per_connection,
    }
    timeout = warmup + duration + 40
    result = subprocess.run([PYTHON, "-m", "bench.loadgen", json.dumps(spec)], cwd=ROOT,
                            capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise RuntimeError(f"load generator failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


WRK_LUA = r"""
-- Pre-signed requests (each with its own webhook-id), NUL-separated, replayed in order.
local reqs, n, idx = {}, 0, 0
init = function(args)
  local f = assert(io.open(args[1], "rb"))
  local data = f:read("*a")
  f:close()
  for r in string.gmatch(data, "(.-)%z") do n = n + 1; reqs[n] = r end
end
request = function()
  idx = idx + 1
  if idx > n then idx = 1 end
  return reqs[idx]
end
"""


def wrk_load(stack: Stack, port: int, secret: str, site_id: str, *, tag: str, connections: int,
             duration: float, warmup: float, cars: int, rate_guess: float = 4000.0) -> dict[str, Any]:
    """The same load from wrk (C, one thread) with pre-signed requests: a cross-check that the
    Python load generator is not what limits the figures. Warm-up is a separate short wrk run."""
    import re
    import shutil

    from bench.loadgen import Generator

    wrk = shutil.which("wrk")
    if wrk is None:
        raise RuntimeError("wrk is not installed (apt-get install -y wrk)")
    count = int(rate_guess * (duration + warmup) * 1.2) + 1000
    gen = Generator({"port": port, "path": f"/hooks/wordpress/{site_id}", "secret": secret, "tag": tag,
                     "cars": cars, "max_requests": count})
    req_file = stack.dir / f"wrk-{tag}.bin"
    with open(req_file, "wb") as fh:
        for _ in range(count):
            fh.write(gen.next() + b"\0")
    lua = stack.dir / "wrk.lua"
    lua.write_text(WRK_LUA)
    url = f"http://127.0.0.1:{port}"
    if warmup > 0:
        subprocess.run([wrk, "-t1", f"-c{connections}", f"-d{max(1, int(warmup))}s", "-s", str(lua), url,
                        "--", str(req_file)], capture_output=True, text=True, timeout=warmup + 30)
    import resource

    def children_cpu() -> float:
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        return usage.ru_utime + usage.ru_stime

    cpu0 = children_cpu()  # wrk is our child: its CPU shows in RUSAGE_CHILDREN once it exits
    res = subprocess.run([wrk, "-t1", f"-c{connections}", f"-d{int(duration)}s", "--latency", "-s", str(lua),
                          url, "--", str(req_file)], capture_output=True, text=True, timeout=duration + 60)
    out = res.stdout
    req_file.unlink(missing_ok=True)

    def ms(label: str) -> float:
        m = re.search(rf"^\s*{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if not m:
            return float("nan")
        value, unit = float(m.group(1)), m.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    total = re.search(r"(\d+) requests in", out)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    n = int(total.group(1)) if total else 0
    return {"client": "wrk", "rps": float(rps.group(1)) if rps else 0.0, "sent": n, "measured": n,
            "p50_ms": ms("50"), "p90_ms": ms("90"), "p99_ms": ms("99"), "max_ms": float("nan"),
            "statuses": {"2xx": n - (int(non2xx.group(1)) if non2xx else 0),
                         "other": int(non2xx.group(1)) if non2xx else 0},
            "client_cpu_s": children_cpu() - cpu0, "error_count": 0, "errors": [],
            "wrk_output": out[-1500:], "wrapped": n > count}


def children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def cpu_seconds(pids: list[int]) -> float:
    """utime + stime of these processes (and, for gunicorn masters, their workers)."""
    import os

    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def tree(pid: int) -> list[int]:
    return [pid, *children(pid)]


def find_py_spy() -> str | None:
    import shutil

    for candidate in PY_SPY_CANDIDATES:
        path = shutil.which(candidate) or (candidate if Path(candidate).exists() else None)
        if path:
            return path
    return None


def summarise_profile(raw_files: list[Path], top: int = 25) -> dict[str, Any]:
    """py-spy ``--format raw`` (collapsed stacks) → inclusive and self sample shares."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for path in raw_files:
        for line in path.read_text(errors="replace").splitlines():
            stack, _, count = line.rpartition(" ")
            if not stack or not count.isdigit():
                continue
            n = int(count)
            total += n
            frames = stack.split(";")
            seen = set()
            for frame in frames:
                name = _frame_name(frame)
                if name not in seen:
                    inclusive[name] += n
                    seen.add(name)
            own[_frame_name(frames[-1])] += n
    share = (lambda c: round(100.0 * c / total, 1)) if total else (lambda c: 0.0)
    breakdown = {}
    for target in BREAKDOWN:
        below: Counter[str] = Counter()
        for path in raw_files:
            for line in path.read_text(errors="replace").splitlines():
                stack, _, count = line.rpartition(" ")
                if not stack or not count.isdigit():
                    continue
                frames = [_frame_name(f) for f in stack.split(";")]
                for i, frame in enumerate(frames):
                    if frame.startswith(target):
                        below[frames[i + 1] if i + 1 < len(frames) else "(itself)"] += int(count)
                        break
        if below:
            breakdown[target] = [(name, share(c)) for name, c in below.most_common(8)]
    return {
        "samples": total,
        "breakdown": breakdown,
        "inclusive": [(name, share(c)) for name, c in inclusive.most_common(top * 3)],
        "self": [(name, share(c)) for name, c in own.most_common(top)],
    }


def _frame_name(frame: str) -> str:
    # "function (path/to/file.py:123)" → "function (file.py)": lines differ per call site.
    name, _, where = frame.partition(" (")
    file = where.rstrip(")").rsplit(":", 1)[0]
    parts = Path(file).parts
    for anchor in ("site-packages", "main", "lib"):
        if anchor in parts:
            file = "/".join(parts[parts.index(anchor) + 1:])
    return f"{name} ({file})"


def profile_forecourt(stack: Stack, web, py_spy: str, port: int, secret: str, site_id: str,
                      args: argparse.Namespace) -> dict[str, Any]:
    workers = children(web.pid)
    out_dir = stack.dir / "profile"
    out_dir.mkdir(exist_ok=True)
    spies = []
    seconds = max(3, int(args.duration))
    for pid in workers:
        out = out_dir / f"worker-{pid}.txt"
        spies.append((out, subprocess.Popen(
            [py_spy, "record", "--pid", str(pid), "--format", "raw", "--output", str(out),
             "--duration", str(seconds + 1), "--rate", "200", "--gil"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
        )))
    time.sleep(0.5)
    result = load(port, secret, site_id, tag="prof", connections=args.connections,
                  duration=seconds, warmup=0.5, cars=args.cars)
    files = []
    for out, spy in spies:
        try:
            spy.wait(timeout=seconds + 30)
        except subprocess.TimeoutExpired:
            spy.kill()
            spy.wait()
        if out.exists():
            files.append(out)
        elif spy.stderr is not None:
            log(f"py-spy: {spy.stderr.read().decode(errors='replace')[-500:]}")
    summary = summarise_profile(files)
    summary["rps_while_profiling"] = result["rps"]
    if args.keep_profile:
        target = Path(args.keep_profile)
        target.mkdir(parents=True, exist_ok=True)
        for f in files:
            (target / f.name).write_text(f.read_text())
    return summary


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.ingest.run", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--workers", type=int, default=2, help="WEB_CONCURRENCY (gunicorn workers)")
    p.add_argument("--threads", type=int, default=4, help="WEB_THREADS (gthread threads per worker)")
    p.add_argument("--connections", type=int, default=32, help="keep-alive connections (closed loop)")
    p.add_argument("--duration", type=float, default=10.0, help="measured seconds per phase")
    p.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds before each phase")
    p.add_argument("--rounds", type=int, default=2, help="alternating Forecourt/bare rounds")
    p.add_argument("--rate", default="500,1000",
                   help="open-loop rates (req/s, comma list) for latency at a fixed load; 0 = none")
    p.add_argument("--new-connections", action="store_true",
                   help="also a closed-loop round with a new TCP connection per webhook (as WordPress sends)")
    p.add_argument("--client", choices=("auto", "python", "wrk"), default="auto",
                   help="closed-loop load generator: wrk (C, pre-signed requests) when installed "
                        "(auto), else bench/loadgen.py; open-loop phases always use bench/loadgen.py")
    p.add_argument("--cars", type=int, default=500, help="distinct cars the webhooks are about")
    p.add_argument("--fsync", choices=("always", "everysec", "off"), default="always",
                   help="redis appendfsync (always = the embedded default)")
    p.add_argument("--log-level", default="INFO", help="Forecourt LOG_LEVEL (production default INFO)")
    p.add_argument("--profile", action="store_true", help="py-spy the Forecourt workers in an extra phase")
    p.add_argument("--keep-profile", metavar="DIR", help="copy py-spy's raw stacks here")
    p.add_argument("--keep", action="store_true", help="keep the temp dir (logs, database)")
    p.add_argument("--json", metavar="FILE", help="also write every figure as JSON")
    args = p.parse_args(argv)

    started = time.monotonic()
    if args.client == "auto":
        import shutil

        args.client = "wrk" if shutil.which("wrk") else "python"
    (site,) = make_sites(1, window=None, writes=None, reads=None, prefix="ingest")
    results: dict[str, list[dict[str, Any]]] = defaultdict(list)
    with Stack("ingest", keep=args.keep, log_level=args.log_level) as stack:
        stack.start_redis(fsync=args.fsync)
        stack.configure([site])
        forecourt_url = stack.start_web(workers=args.workers, threads=args.threads, name="web")
        bare_url = stack.start_web(workers=args.workers, threads=args.threads, name="bare",
                                   app="bench.ingest.bare_wsgi:app")
        web_proc = next(proc for proc in stack.procs if proc.name == "web")
        targets = {"forecourt": int(forecourt_url.rsplit(":", 1)[1]), "bare": int(bare_url.rsplit(":", 1)[1])}
        redis = stack.redis()

        # Smoke: one signed delivery each, answered 202, really in Redis.
        for name, port in targets.items():
            smoke = load(port, site.webhook_secret, site.id, tag=f"smoke{name}", connections=1,
                         duration=0.5, warmup=0.0, max_requests=3)
            if smoke["ok"] != smoke["measured"] or not smoke["ok"]:
                raise RuntimeError(f"{name} did not accept the smoke deliveries: {smoke}")
        if not redis.zcard("fc:debounce:due"):
            raise RuntimeError("smoke deliveries left nothing in the debouncer")
        log(f"gunicorn: {args.workers} workers × {args.threads} threads (gthread); "
            f"{args.connections} connections; redis appendfsync={args.fsync}")

        procs = {proc.name: proc for proc in stack.procs}
        server_pids = {"forecourt": tree(procs["web"].pid), "bare": tree(procs["bare"].pid)}
        redis_pid = procs["redis"].pid
        def measured(name: str, tag: str, **kw: Any) -> dict[str, Any]:
            redis.flushdb()
            cpu0 = (cpu_seconds(server_pids[name]), cpu_seconds([redis_pid]), time.monotonic(),
                    busy_cpu_seconds())
            if kw.pop("client", "python") == "wrk":
                t_w = time.monotonic()
                r = wrk_load(stack, targets[name], site.webhook_secret, site.id, tag=tag, cars=args.cars, **kw)
                r["wall"] = time.monotonic() - t_w
            else:
                r = load(targets[name], site.webhook_secret, site.id, tag=tag, cars=args.cars, **kw)
            answered = r["sent"] or 1
            r["server_cpu_ms"] = 1000 * (cpu_seconds(server_pids[name]) - cpu0[0]) / answered
            r["redis_cpu_ms"] = 1000 * (cpu_seconds([redis_pid]) - cpu0[1]) / answered
            r["client_cpu_ms"] = 1000 * r["client_cpu_s"] / answered
            ours = (cpu_seconds(server_pids[name]) - cpu0[0]) + (cpu_seconds([redis_pid]) - cpu0[1]) \
                + r["client_cpu_s"]
            # Cores other processes on the machine kept busy meanwhile (other people's tests...).
            r["foreign_cores"] = max(0.0, (busy_cpu_seconds() - cpu0[3] - ours) / (time.monotonic() - cpu0[2]))
            stack.check_alive()
            return r

        for rnd in range(1, args.rounds + 1):
            for name in ("forecourt", "bare"):
                r = measured(name, f"r{rnd}{name}", connections=args.connections, duration=args.duration,
                             warmup=args.warmup, client=args.client)
                # Over the whole phase (warm-up included): CPU per answered request.
                results[name].append(r)
                log(f"round {rnd} {name:9}: {r['rps']:7.0f} req/s  p50 {r['p50_ms']:.2f} ms  "
                    f"p99 {r['p99_ms']:.2f} ms  statuses {r['statuses']}  CPU ms/req: server "
                    f"{r['server_cpu_ms']:.2f}, redis {r['redis_cpu_ms']:.2f}, client {r['client_cpu_ms']:.2f}; "
                    f"other load {r['foreign_cores']:.2f} cores")

        fixed: dict[str, dict[str, Any]] = {}
        for rate in [float(x) for x in args.rate.split(",") if x.strip() and float(x) > 0]:
            for name in ("forecourt", "bare"):
                r = measured(name, f"rate{rate:.0f}{name}", connections=args.connections,
                             duration=max(4.0, args.duration * 0.6), warmup=1.0, rate=rate)
                fixed[f"{name} @{rate:.0f}/s"] = r
                log(f"open loop {rate:.0f}/s {name:9}: achieved {r['rps']:7.0f} req/s  "
                    f"p50 {r['p50_ms']:.2f} ms  p90 {r['p90_ms']:.2f} ms  p99 {r['p99_ms']:.2f} ms")

        fresh: dict[str, dict[str, Any]] = {}
        if args.new_connections:
            for name in ("forecourt", "bare"):
                r = measured(name, f"conn{name}", connections=args.connections, duration=args.duration,
                             warmup=args.warmup, requests_per_connection=1)
                fresh[f"{name} (conn/req)"] = r
                log(f"one connection per request {name:9}: {r['rps']:7.0f} req/s  p50 {r['p50_ms']:.2f} ms  "
                    f"p99 {r['p99_ms']:.2f} ms  CPU ms/req {r['server_cpu_ms']:.2f}")

        profile = None
        if args.profile:
            py_spy = find_py_spy()
            if py_spy is None:
                log("py-spy not found (pip install --target /tmp/pyspy py-spy); skipping the profile")
            else:
                redis.flushdb()
                profile = profile_forecourt(stack, web_proc, py_spy, targets["forecourt"],
                                            site.webhook_secret, site.id, args)
        web_log = (stack.dir / "logs" / "web.log").stat().st_size
        stack.check_alive()

    report(args, results, fixed, fresh, profile, time.monotonic() - started, web_log)
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "closed": results, "open": fixed,
                                               "new_connections": fresh, "profile": profile}, indent=2))
    return 0


def report(args, results, fixed, fresh, profile, elapsed: float, web_log_bytes: int) -> None:
    def mean(values):
        values = list(values)
        return sum(values) / len(values) if values else float("nan")

    f_rps = mean(r["rps"] for r in results["forecourt"])
    b_rps = mean(r["rps"] for r in results["bare"])
    ratio = f_rps / b_rps if b_rps else float("nan")
    errors = sum(r["error_count"] for rs in results.values() for r in rs)
    non_2xx = sum(v for rs in results.values() for r in rs for k, v in r["statuses"].items() if not k.startswith("2"))
    print()
    print("bench/ingest — signed WordPress webhooks (Standard Webhooks, companion format, ~1.2 kB)")
    print(f"machine: {machine_summary()}")
    print(f"gunicorn (Procfile web line): --workers {args.workers} --threads {args.threads} (gthread), "
          f"no gunicorn access log (the app logs); LOG_LEVEL={args.log_level}; redis appendfsync={args.fsync}, "
          "unix socket")
    print(f"load: {args.client} client, {args.connections} keep-alive connections, closed loop, {args.rounds} × "
          f"{args.duration:.0f} s per app after {args.warmup:.0f} s warm-up, alternating; {args.cars} cars, "
          "every webhook-id new")
    print()
    print(f"{'':22}{'req/s':>8}{'p50 ms':>8}{'p90 ms':>8}{'p99 ms':>8}{'CPU ms/req':>12}{'redis':>7}  rounds (req/s)")
    for name in ("forecourt", "bare"):
        rs = results[name]
        print(f"{name + ' (closed)':22}{mean(r['rps'] for r in rs):8.0f}{mean(r['p50_ms'] for r in rs):8.2f}"
              f"{mean(r['p90_ms'] for r in rs):8.2f}{mean(r['p99_ms'] for r in rs):8.2f}"
              f"{mean(r['server_cpu_ms'] for r in rs):12.2f}{mean(r['redis_cpu_ms'] for r in rs):7.2f}  "
              + ", ".join(f"{r['rps']:.0f}" for r in rs))
    for name, r in fresh.items():
        print(f"{name:22}{r['rps']:8.0f}{r['p50_ms']:8.2f}{r['p90_ms']:8.2f}{r['p99_ms']:8.2f}"
              f"{r['server_cpu_ms']:12.2f}{r['redis_cpu_ms']:7.2f}  (closed loop, a new TCP connection per webhook)")
    for name, r in fixed.items():
        print(f"{name:22}{r['rps']:8.0f}{r['p50_ms']:8.2f}{r['p90_ms']:8.2f}{r['p99_ms']:8.2f}"
              f"{r['server_cpu_ms']:12.2f}{r['redis_cpu_ms']:7.2f}  (open loop, latency from due time)")
    print("CPU ms/req = CPU time of the gunicorn master + workers per request (all of the phase);"
          " redis = redis-server's.")
    foreign = [r["foreign_cores"] for rs in results.values() for r in rs]
    print(f"other processes on the machine kept {min(foreign):.2f}–{max(foreign):.2f} of the 2 cores busy "
          "during the closed-loop phases (not ours: e.g. someone's test suite)")
    f_cpu = mean(r["server_cpu_ms"] for r in results["forecourt"])
    b_cpu = mean(r["server_cpu_ms"] for r in results["bare"])
    print()
    print(f"throughput: forecourt {f_rps:.0f} req/s (goal ≥ 2000: {'MET' if f_rps >= 2000 else 'NOT MET'})")
    print(f"ratio forecourt / bare ceiling: {ratio:.2f} (goal ≥ 0.75: {'MET' if ratio >= 0.75 else 'NOT MET'})")
    print(f"web-tier CPU per request: forecourt {f_cpu:.2f} ms, bare {b_cpu:.2f} ms "
          f"(ratio {b_cpu / f_cpu:.2f}; with 2 cores shared by server, redis and the load generator, "
          "throughput follows this)")
    for name, r in fixed.items():
        if name.startswith("forecourt"):
            print(f"p99 {name}: {r['p99_ms']:.1f} ms (issue 3 item 6 target < 15 ms: "
                  f"{'MET' if r['p99_ms'] < 15 else 'NOT MET'})")
    print(f"non-2xx answers: {non_2xx}; client errors: {errors}; web log written: {web_log_bytes / 1e6:.1f} MB")
    if profile:
        print()
        print(f"py-spy CPU profile of the Forecourt gunicorn workers ({profile['samples']} samples, "
              f"{profile['rps_while_profiling']:.0f} req/s while sampling): share of CPU samples")
        for target, rows in profile["breakdown"].items():
            print(f"  under {target.strip(' (')}:")
            for name, pct in rows:
                print(f"    {pct:5.1f}%  {name}")
        print("  self (the frame itself), top 12:")
        for name, pct in profile["self"][:12]:
            print(f"    {pct:5.1f}%  {name}")
    print(f"\n(total wall time {elapsed:.0f} s)")


if __name__ == "__main__":
    sys.exit(main())
