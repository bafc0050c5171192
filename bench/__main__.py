"""Run benchmarks by name: `python -m bench [NAME ...]` (all when none is named)."""

import importlib
import sys

# name -> module with a `main(argv: list[str]) -> int`
BENCHMARKS: dict[str, str] = {
    "flags": "bench.flags",
    "http_clients": "bench.http_clients",
    "ingest": "bench.ingest",
    "propagation": "bench.propagation",
    "workflows": "bench.workflows",
}


def main(argv: list[str]) -> int:
    names = [arg for arg in argv if not arg.startswith("-")] or list(BENCHMARKS)
    unknown = [name for name in names if name not in BENCHMARKS]
    if unknown:
        print(f"error: unknown benchmark {unknown[0]!r}; known: {', '.join(BENCHMARKS)}")
        return 2
    options = [arg for arg in argv if arg.startswith("-")]
    status = 0
    for name in names:
        print(f"== bench {name}", flush=True)
        status |= importlib.import_module(BENCHMARKS[name]).main(options)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
