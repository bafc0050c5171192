"""`manage.py bench`: run the benchmarks (all, or some by name), print the table, and write
each result into docs/performance.md beside its reference from the same run (SPEC §10).

Each benchmark runs as its own process (`python -m bench NAME`), because each sets Django up
against its own fresh database, and is stopped after `--timeout` seconds. Its figures come
back as JSON (`bench/results.py`); those with a renderer replace the block between
`<!-- bench:NAME -->` and `<!-- /bench:NAME -->` in docs/performance.md.
"""

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from bench.__main__ import BENCHMARKS
from bench.results import render

DOCS = Path(settings.BASE_DIR) / "docs" / "performance.md"


class Command(BaseCommand):
    help = "Run benchmarks (all, or the named ones) and write their figures into the docs."

    def add_arguments(self, parser):
        parser.add_argument("names", nargs="*", help=f"any of: {', '.join(BENCHMARKS)}")
        parser.add_argument("--quick", action="store_true", help="smaller sizes, fewer rounds")
        parser.add_argument("--timeout", type=int, default=900, help="seconds per benchmark")
        parser.add_argument("--dry-run", action="store_true", help="run, but leave the docs")
        parser.add_argument("--json", action="store_true", help="print the results as JSON")

    def handle(self, *args, **options):
        names = options["names"] or list(BENCHMARKS)
        unknown = [name for name in names if name not in BENCHMARKS]
        if unknown:
            raise CommandError(f"unknown benchmark {unknown[0]!r}; known: {', '.join(BENCHMARKS)}")
        with tempfile.TemporaryDirectory() as folder:
            outcomes = [self.run_one(name, folder, options) for name in names]
        self.print_table(outcomes, options)
        if not options["dry_run"]:
            written = write_docs(DOCS, outcomes)
            self.stderr.write(f"docs/performance.md: {written} block(s) rewritten")
        failed = [o["name"] for o in outcomes if o["status"] != "met"]
        if failed:
            raise CommandError(f"target not met or benchmark failed: {', '.join(failed)}")

    def run_one(self, name: str, folder: str, options) -> dict:
        """Run one benchmark in its own process, its output passed through as progress."""
        command = [sys.executable, "-m", "bench", name] + (["--quick"] if options["quick"] else [])
        self.stderr.write(f"== {name} (at most {options['timeout']} s)")
        started = time.monotonic()
        env = {**os.environ, "BENCH_RESULTS": folder}
        try:
            code = subprocess.run(  # noqa: S603 - our own fixed argv
                command, cwd=settings.BASE_DIR, env=env, timeout=options["timeout"], check=False
            ).returncode
            status = "met" if code == 0 else "not met"
        except subprocess.TimeoutExpired:
            status = "timed out"
        result_file = Path(folder, f"{name}.json")
        result = json.loads(result_file.read_text()) if result_file.exists() else None
        return {"name": name, "status": status, "seconds": round(time.monotonic() - started),
                "result": result}  # fmt: skip

    def print_table(self, outcomes: list[dict], options) -> None:
        if options["json"]:
            self.stdout.write(json.dumps(outcomes, indent=1))
            return
        self.stdout.write(f"{'benchmark':<18} {'target':<10} {'seconds':>7}")
        for outcome in outcomes:
            self.stdout.write(
                f"{outcome['name']:<18} {outcome['status']:<10} {outcome['seconds']:>7}"
            )


def write_docs(path: Path, outcomes: list[dict]) -> int:
    """Replace each rendered benchmark's block in the doc; answer how many were replaced."""
    text, written = path.read_text(), 0
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    for outcome in outcomes:
        markdown = render(outcome["name"], outcome["result"]) if outcome["result"] else None
        if markdown is None:
            continue
        load = outcome["result"].get("load_average")
        at_load = f", load average {' / '.join(map(str, load))} (1/5/15 min)" if load else ""
        body = f"_Measured by `manage.py bench {outcome['name']}`, {stamp}{at_load}._\n\n{markdown}"
        text, count = block_pattern(outcome["name"]).subn(
            lambda match, body=body: match.group(1) + body + "\n" + match.group(2), text
        )
        written += count
    path.write_text(text)
    return written


def block_pattern(name: str) -> re.Pattern:
    name = re.escape(name)
    # The block may be empty (a fresh doc): the body between the markers is optional.
    return re.compile(rf"(<!-- bench:{name} -->\n)(?:.*?\n)?(<!-- /bench:{name} -->)", re.S)
