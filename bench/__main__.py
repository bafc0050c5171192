"""Run benchmarks by name: `python -m bench [NAME ...]` (all when none is named)."""

import importlib
import subprocess
import sys

# name -> module with a `main(argv: list[str]) -> int`
BENCHMARKS: dict[str, str] = {
    "flags": "bench.flags",
    "http_clients": "bench.http_clients",
    "ingest": "bench.ingest",
    "dashboard_push": "bench.dashboard_push",
    "health_cost": "bench.health_cost",
    "outage": "bench.outage",
    "http_surface": "bench.http_surface",
    "scale_events": "bench.scale_events",
    "scale_flags": "bench.scale_flags",
    "scale_runs": "bench.scale_runs",
    "scale_workflows": "bench.scale_workflows",
    "propagation": "bench.propagation",
    "workflows": "bench.workflows",
}


def main(argv: list[str]) -> int:
    if {"-h", "--help"} & set(argv):  # an option would otherwise run every benchmark
        print(__doc__)
        print(f"benchmarks: {', '.join(BENCHMARKS)}; options: --quick, and each one's own")
        return 0
    names = [arg for arg in argv if not arg.startswith("-")] or list(BENCHMARKS)
    unknown = [name for name in names if name not in BENCHMARKS]
    if unknown:
        print(f"error: unknown benchmark {unknown[0]!r}; known: {', '.join(BENCHMARKS)}")
        return 2
    options = [arg for arg in argv if arg.startswith("-")]
    if len(names) == 1:
        print(f"== bench {names[0]}", flush=True)
        return importlib.import_module(BENCHMARKS[names[0]]).main(options)
    # Several: each in its own process, since most set Django up against their own database.
    status = 0
    for name in names:
        status |= subprocess.run([sys.executable, "-m", "bench", name, *options]).returncode
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
