"""The HTTP surface's throughput: OFREP, the API and the probe beside a trivial Django view.

`python -m bench http_surface [--seconds=8] [--rounds=3] [--connections=64] [--quick]`

One uvicorn process (the per-process figure; DEBUG off, the embedded SQLite default), with
`bench.flags_settings` adding `POST /bench/trivial`, a Django view that returns a constant
through the full middleware chain: the reference, measured in the same run. Each round `wrk`
drives every endpoint in turn at 64 connections: the trivial view, `GET /health/live`,
`GET /api/flags/` (DRF, token auth), OFREP single and OFREP bulk (10 flags). Figures are the
medians of the rounds. Targets: OFREP at least 2,000 req/s per process, with p99 at most 1.2x
the trivial view's.
"""

import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench import flags_http
from bench.ingest import parse_wrk
from bench.results import emit
from bench.scale import options_from

SETUP_FLAGS = """
from orchestrator.flags.services import Actor, save_flag
from bench.flags import RULES_DOC
for n in range(9):
    save_flag({**RULES_DOC, "key": f"extra-{n}"}, actor=Actor("bench"))
"""
CONTEXT = '{"context": {"targetingKey": "user-42", "email": "x@example.com", "country": "NL"}}'
WRK_SCRIPT = """
wrk.method = os.getenv("BENCH_METHOD")
wrk.headers["Authorization"] = os.getenv("BENCH_AUTH")
wrk.headers["Content-Type"] = "application/json"
if wrk.method == "POST" then wrk.body = os.getenv("BENCH_BODY") end
"""
ENDPOINTS = {
    "trivial Django view (reference)": ("POST", "/bench/trivial"),
    "GET /health/live": ("GET", "/health/live"),
    "GET /api/flags/": ("GET", "/api/flags/"),
    "OFREP single": ("POST", "/ofrep/v1/evaluate/flags/new-checkout"),
    "OFREP bulk (10 flags)": ("POST", "/ofrep/v1/evaluate/flags"),
}


def main(argv: list[str]) -> int:
    options = options_from(argv)
    quick = "quick" in options
    seconds = int(options.get("seconds", 4 if quick else 8))
    rounds = int(options.get("rounds", 1 if quick else 3))
    connections = int(options.get("connections", 64))
    flags_http.DB_PATH = Path(tempfile.gettempdir()) / f"bench_http_surface_{os.getpid()}.sqlite3"
    env = {**flags_http.server_env(), "WEB_CONCURRENCY": "1"}
    token = flags_http.prepare(env)
    subprocess.run(
        [*manage(), "shell", "-c", SETUP_FLAGS], env=env, check=True, cwd=flags_http.BASE_DIR
    )
    port = flags_http.free_port()
    server = flags_http.start(env, port)
    rows: dict[str, list] = {name: [] for name in ENDPOINTS}
    try:
        for method, path in ENDPOINTS.values():  # warm-up: caches, imports
            drive(port, method, path, token, 1, connections)
        for _ in range(rounds):
            for name, (method, path) in ENDPOINTS.items():
                rows[name].append(drive(port, method, path, token, seconds, connections))
    finally:
        server.terminate()
        server.wait(timeout=30)
    return report(rows, connections, seconds, rounds)


def manage() -> list[str]:
    return [sys.executable, str(flags_http.BASE_DIR / "manage.py")]


def drive(port, method, path, token, seconds, connections):
    with tempfile.TemporaryDirectory() as folder:
        script = Path(folder, "request.lua")
        script.write_text(WRK_SCRIPT)
        # DRF's token scheme is `Token`; OFREP providers send `Bearer` (both are accepted there).
        scheme = "Token" if path.startswith("/api/") else "Bearer"
        env = {**os.environ, "BENCH_METHOD": method, "BENCH_AUTH": f"{scheme} {token}",
               "BENCH_BODY": CONTEXT}  # fmt: skip
        command = [
            "wrk", "-t", "2", "-c", str(connections), "-d", f"{seconds}s", "--latency",
            "--timeout", "10s", "-s", str(script), f"http://127.0.0.1:{port}{path}",
        ]  # fmt: skip
        output = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
    return parse_wrk(output.stdout)


def report(rows: dict, connections: int, seconds: int, rounds: int) -> int:
    print(
        f"http surface: 1 uvicorn process, wrk at {connections} connections, {rounds} x {seconds} s"
    )
    results = {}
    for name, phases in rows.items():
        results[name] = {
            "per_s": statistics.median(p.rate for p in phases),
            "p50_ms": statistics.median(p.p50_ms for p in phases),
            "p99_ms": statistics.median(p.p99_ms for p in phases),
            "errors": sum(p.errors for p in phases),
        }
        r = results[name]
        print(
            f"  {name:<34}{r['per_s']:>9,.0f}/s  p50 {r['p50_ms']:>7.1f} ms"
            f"  p99 {r['p99_ms']:>7.1f} ms  errors {r['errors']}"
        )
    reference = results["trivial Django view (reference)"]
    single = results["OFREP single"]
    ratio = single["p99_ms"] / reference["p99_ms"]
    met = single["per_s"] >= 2000 and ratio <= 1.2 and single["errors"] == 0
    emit("http_surface", {"endpoints": results, "connections": connections, "seconds": seconds,
                          "rounds": rounds, "ofrep_p99_vs_trivial": ratio})  # fmt: skip
    print(f"  target {'met' if met else 'NOT met'}: OFREP >= 2,000/s ({single['per_s']:,.0f}),"
          f" p99 <= 1.2x the trivial view ({ratio:.2f}x)")  # fmt: skip
    return 0 if met else 1
