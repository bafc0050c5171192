"""Benchmark results: each benchmark `emit`s one JSON result, and `render` turns a result into
the Markdown table `manage.py bench` writes into docs/performance.md.

A benchmark run by `manage.py bench` gets BENCH_RESULTS, a folder; `emit` saves
`<folder>/<name>.json` there. Run alone (`python -m bench NAME`) it only prints.
"""

import json
import os
from pathlib import Path


def emit(name: str, result: dict) -> None:
    # The machine is shared: the load when the figures were taken goes beside them.
    result = {**result, "load_average": [round(load, 1) for load in os.getloadavg()]}
    print(json.dumps({"bench": name, **result}), flush=True)
    folder = os.environ.get("BENCH_RESULTS")
    if folder:
        Path(folder, f"{name}.json").write_text(json.dumps(result, indent=1))


def table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def ms(value: float) -> str:
    return f"{value:,.1f} ms"


def cpu(figures: dict) -> str:
    """The bench process's CPU per call (older results have none)."""
    return ms(figures["cpu_p50_ms"]) if "cpu_p50_ms" in figures else "—"


def replay_cell(replay: dict) -> str:
    return (
        f"{replay['events']:,} in {replay['seconds']} s ({replay['doorbell_tasks']:,} doorbells,"
        f" {replay['progress_lines']} progress lines)"
    )


def render_scale_events(result: dict) -> str:
    rows = [
        [
            f"{p['events']:,}", ms(p["api_filtered"]["p50_ms"]), ms(p["api_filtered"]["p95_ms"]),
            cpu(p["api_filtered"]), ms(p["api_dead"]["p95_ms"]), ms(p["admin"]["p50_ms"]),
            ms(p["admin"]["max_ms"]), ms(p["admin_dead"]["max_ms"]),
            replay_cell(p["replay"]),
        ]
        for p in result["curve"]
    ]  # fmt: skip
    header = [
        "stored events", "API filtered p50", "API filtered p95 (< 100 ms)", "its CPU p50",
        "API dead p95",
        "admin p50", "admin max (< 1 s)", "admin ?status=dead max", "replay a tenth",
    ]  # fmt: skip
    prune = result["prune"]
    note = (
        f"\n\nRetention prune at the largest size: {prune['deleted']:,} rows in"
        f" {prune['prune_s']} s. Four threads storing deliveries meanwhile:"
        f" {prune['ingest_during_per_s']:,}/s during the prune against"
        f" {prune['ingest_before_per_s']:,}/s just before it (**{prune['ratio']}x**)."
    )
    return table(header, rows) + note


def render_scale_runs(result: dict) -> str:
    rows = [
        [f"{p['steps']:,}", f"{p['runs']:,}", ms(p["api_failed"]["p50_ms"]),
         ms(p["api_failed"]["p95_ms"]), cpu(p["api_failed"]), ms(p["api_succeeded"]["p50_ms"]),
         ms(p["api_succeeded"]["p95_ms"]), cpu(p["api_succeeded"])]
        for p in result["curve"]
    ]  # fmt: skip
    header = [
        "step rows", "runs", "?workflow=&status=failed p50", "p95 (< 100 ms)", "CPU p50",
        "?workflow=&status=succeeded p50", "p95 (< 100 ms)", "CPU p50",
    ]  # fmt: skip
    prune = result["prune"]
    note = (
        f"\n\nRetention (`workflows.prune`) at the largest size: {prune['runs']:,} runs and"
        f" {prune['steps']:,} steps past 30 days deleted in {prune['seconds']} s."
    )
    return table(header, rows) + note


def render_scale_workflows(result: dict) -> str:
    base = result["curve"][0]["stored_to_ready"]["p95_ms"]
    rows = [
        [f"{p['workflows']:,}", ms(p["stored_to_ready"]["p50_ms"]),
         ms(p["stored_to_ready"]["p95_ms"]), f"{p['stored_to_ready']['p95_ms'] / base:.2f}x",
         f"{p['match_indexed_us']:.1f} µs", f"{p['match_scan_us']:.1f} µs"]
        for p in result["curve"]
    ]  # fmt: skip
    header = [
        "workflows", "stored → step ready p50", "p95", "p95 vs the first row (≤ 2x)",
        "matching, indexed", "matching, every trigger (reference)",
    ]  # fmt: skip
    return table(header, rows)


def render_ingest(result: dict) -> str:
    header = ["web processes", "pgbench inserts/s", "webhook requests/s", "ratio (≥ 0.64)",
              "webhook p50", "webhook p99 (< 250 ms)", "errors", "per-round ratios"]  # fmt: skip
    row = [
        result["web_processes"], f"{result['pgbench_per_s']:,.0f}",
        f"{result['webhook_per_s']:,.0f}", f"**{result['ratio']:.2f}**",
        ms(result["p50_ms"]), ms(result["p99_ms"]), result["errors"],
        ", ".join(f"{r:.2f}" for r in result["ratios"]),
    ]  # fmt: skip
    return table(header, [row])


def render_workflows(result: dict) -> str:
    """bench/workflows.py: 1,000 slow core.http_request steps, latency, mixed load, memory."""
    r, alone, mixed = result, result["latency_alone"], result["latency_mixed"]
    rows = [
        ["1,000 direct aiohttp calls to the 1 s upstream (reference)", f"{r['reference_s']} s"],
        ["**first webhook → last of 1,000 runs finished** (≤ 10 s, target 3 s)",
         f"**{r['elapsed_s']} s** ({r['ratio']}x the reference)"],
        ["calls made twice (the upstream counts Idempotency-Key)",
         f"{r['duplicates']} of {r['calls']}"],
        ["peak requests in flight at the upstream", r["peak_in_flight"]],
        *[["  CPU per run of that burst, by role (batched: compare the stream's below)",
           ", ".join(f"{name} {ms}" for name, ms in cpu.items())
           + f"; **{sum(cpu.values()):.2f} ms** in all"]
          for cpu in [r.get("cpu_ms_per_run_burst")] if cpu],
        ["RSS, all processes: idle / peak under the burst (< 2 GB)",
         f"{r['idle_rss_mb']:,} / **{r['peak_rss_mb']:,} MB** ({r['processes']} processes)"],
        ["event stored → first step started at 200/s, alone: p50 / p95 / p99",
         f"{alone['50']} / {alone['95']} / {alone['99']} ms"],
        *[["  CPU per event of that stream, by role (Postgres: the whole server)",
           ", ".join(f"{name} {ms}" for name, ms in cpu.items())
           + f"; **{sum(cpu.values()):.2f} ms** in all"]
          for cpu in [r.get("cpu_ms_per_event_alone")] if cpu],
        ["the same from the burst's first webhook to its last run (p95 < 100 ms, target 30 ms)",
         f"{mixed['50']} / **{mixed['95']}** / {mixed['99']} ms"],
        *[[f"  of which {what}", f"{q['50']} / {q['95']} / {q['99']} ms"]
          for what, q in (("while the burst arrives (to its last step started)",
                           r.get("latency_arriving")),
                          ("while its 1,000 steps are all in flight", r.get("latency_in_flight")))
          if q],
        *[["  the same window from each webhook's send, not its storing (what a platform sees)",
           f"{q['50']} / {q['95']} / {q['99']} ms"]
          for q in [r.get("latency_mixed_from_sent")] if q],
        ["the burst during the stream: finished after / made twice",
         f"{r['mixed_burst_s']} s / {r['mixed_duplicates']}"],
    ] + [
        [f"`{path}` during the mixed load: answered / probes, p95",
         f"{p['answered']} / {p['probes']}, {p['p95_ms']} ms"]
        for path, p in r["probes"].items()
    ]  # fmt: skip
    memory = [
        [name, m["processes"], f"{m['idle_mb']:,} MB", f"{m['load_mb']:,} MB"]
        for name, m in r["memory"].items()
    ]
    return (
        f"Mode `{r['mode']}`, settings: {r['settings']}.\n\n"
        + table(["measure", "figure"], rows)
        + "\n\nRSS per role (summed over its processes; under load, each process's peak):\n\n"
        + table(["role", "processes", "idle", "under load"], memory)
    )


RENDERERS = {
    "ingest": render_ingest,
    "scale_events": render_scale_events,
    "scale_runs": render_scale_runs,
    "scale_workflows": render_scale_workflows,
    "workflows": render_workflows,
}


def render(name: str, result: dict) -> str | None:
    """The Markdown for a result, or None for a benchmark whose tables are written by hand."""
    renderer = RENDERERS.get(name)
    return renderer(result) if renderer else None


def render_http_surface(result: dict) -> str:
    reference = result["endpoints"]["trivial Django view (reference)"]
    rows = [
        [name, f"{r['per_s']:,.0f}", ms(r["p50_ms"]), ms(r["p99_ms"]),
         f"{r['p99_ms'] / reference['p99_ms']:.2f}x", r["errors"]]
        for name, r in result["endpoints"].items()
    ]  # fmt: skip
    header = ["endpoint", "requests/s (OFREP ≥ 2,000)", "p50", "p99", "p99 vs the trivial view",
              "errors"]  # fmt: skip
    return table(header, rows) + (
        f"\n\nOne uvicorn process, `wrk` at {result['connections']} connections,"
        f" {result['rounds']} rounds of {result['seconds']} s, medians."
    )


def render_scale_flags(result: dict) -> str:
    rows = [
        [f"{p['flags']:,}", ms(p["compile_ms"]), f"{p['single_us']['p50_us']:.1f} µs",
         f"{p['single_us']['p95_us']:.1f} µs", ms(p["bulk"]["p50_ms"]), ms(p["bulk"]["p95_ms"]),
         f"{p['bulk_bytes']:,} B"]
        for p in result["curve"]
    ]  # fmt: skip
    header = ["flags (10 rules each)", "compile all", "OFREP single p50", "p95",
              "OFREP bulk p50", "p95", "bulk body"]  # fmt: skip
    return table(header, rows)


RENDERERS.update(http_surface=render_http_surface, scale_flags=render_scale_flags)
