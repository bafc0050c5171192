"""bench/workflows.py's report: the printed lines, the target check and the docs summary."""

import json
import statistics

from bench import stack


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def report_memory(idle: dict, concurrency: dict) -> None:
    idle_roles, peak_roles = stack.by_role(idle), stack.by_role(concurrency["per_process"])
    print("memory (MB): role: processes, idle sum (largest), under load sum of peaks (largest)")
    for name in sorted(set(idle_roles) | set(peak_roles)):
        i, p = idle_roles.get(name, (0, 0, 0)), peak_roles.get(name, (0, 0, 0))
        print(
            f"  {name}: {p[0] or i[0]}, idle {i[1]:.0f} ({i[2]:.0f}), load {p[1]:.0f} ({p[2]:.0f})"
        )
    total_idle = sum(kb for _, kb in idle.values()) / 1024
    print(f"  all: idle {total_idle:.0f}, peak of the sum {concurrency['peak_rss_mb']:.0f} "
          f"over {concurrency['processes']} processes")  # fmt: skip


def line(name: str, values: list[float], rate: int) -> str:
    return (
        f"latency {name}: n={len(values)} at {rate}/s: p50 {pct(values, 50):.1f} ms, "
        f"p95 {pct(values, 95):.1f} ms, p99 {pct(values, 99):.1f} ms, "
        f"max {max(values, default=float('nan')):.1f} ms"
    )


def report(reference, c, latency, mixed, per_step, runs, delay, rate, seconds) -> int:
    print(f"reference: {runs} direct aiohttp calls at {delay:g} s: {reference:.2f} s")
    print(
        f"concurrency: {c['accepted']}/{runs} webhooks accepted in {c['sent_s']:.2f} s; "
        f"{c['succeeded']} runs succeeded; first webhook -> last run finished "
        f"{c['elapsed_s']:.2f} s ({c['elapsed_s'] / reference:.1f}x the reference); "
        f"{c['calls']} calls, {c['duplicates']} made twice; "
        f"peak {c['peak_in_flight']} in flight at the upstream"
    )
    burst_cpu = c["cpu_ms_per_run"]
    print(f"CPU per run of the burst (ms): {json.dumps(burst_cpu)}, "
          f"in all {sum(burst_cpu.values()):.2f}")  # fmt: skip
    print(line(f"alone, {seconds} s", latency["total"], rate))
    cpu = latency["cpu_ms_per_event"]
    print(f"CPU per event alone (ms; Postgres is the whole server): {json.dumps(cpu)}, "
          f"in all {sum(cpu.values()):.2f}")  # fmt: skip
    b = mixed["burst"]
    print(
        f"mixed: burst of {runs} finished {b['elapsed_s']:.2f} s after its first webhook, "
        f"{b['succeeded']} succeeded, {b['duplicates']} made twice"
    )
    print(line("mixed, whole stream", mixed["stream"]["total"], rate))
    print(line("mixed, while the burst was in flight", mixed["during"]["total"], rate))
    print(line("  of which while the burst arrived", mixed["arriving"]["total"], rate))
    print(line("  of which while its steps were in flight", mixed["in_flight"]["total"], rate))
    print(line("  the same window from the webhook sent", mixed["during"]["from_sent"], rate))
    for path, answers in mixed["probes"].items():
        ms = [m for status, m in answers if status]
        bad = sum(status not in (200, 302) for status, _ in answers)
        print(f"probe {path}: {len(answers)} probes, {bad} not answered 200/302, "
              f"p50 {pct(ms, 50):.0f} ms, p95 {pct(ms, 95):.0f} ms, "
              f"max {max(ms, default=0):.0f} ms")  # fmt: skip
    if per_step:
        print(f"alternative, one task per step: {per_step['count']} steps at {delay:g} s in "
              f"{per_step['elapsed_s']:.2f} s = {per_step['per_s']:.1f} steps/s")  # fmt: skip
    met = (
        c["elapsed_s"] <= 10 and c["peak_rss_mb"] < 2048 and c["duplicates"] == 0
        and c["succeeded"] == runs and pct(mixed["during"]["total"], 95) < 100
    )  # fmt: skip
    print(
        f"targets (<=10 s, <2 GB, no call twice, mixed p95 <100 ms): {'met' if met else 'NOT met'}"
    )
    if latency["total"]:
        print(f"latency median alone: {statistics.median(latency['total']):.1f} ms")
    return met


def summary(mode, options, idle, reference, c, latency, mixed, met) -> dict:
    """The figures `manage.py bench` writes into docs/performance.md."""

    def spread(values):
        return {q: round(pct(values, q), 1) for q in (50, 95, 99)}

    peaks = stack.by_role(c["per_process"])
    memory = {
        name: {"processes": n, "idle_mb": round(mb), "load_mb": round(peaks.get(name, (0, 0))[1])}
        for name, (n, mb, _) in stack.by_role(idle).items()
    }
    probes = {
        path: {"answered": sum(st in (200, 302) for st, _ in a), "probes": len(a),
               "p95_ms": round(pct([m for st, m in a if st], 95))}
        for path, a in mixed["probes"].items()
    }  # fmt: skip
    return {
        "mode": mode, "settings": options or "defaults", "met": met,
        "reference_s": round(reference, 2), "elapsed_s": round(c["elapsed_s"], 2),
        "ratio": round(c["elapsed_s"] / reference, 1), "succeeded": c["succeeded"],
        "calls": c["calls"], "duplicates": c["duplicates"], "peak_in_flight": c["peak_in_flight"],
        "peak_rss_mb": round(c["peak_rss_mb"]), "processes": c["processes"],
        "idle_rss_mb": round(sum(kb for _, kb in idle.values()) / 1024), "memory": memory,
        "latency_alone": spread(latency["total"]),
        "cpu_ms_per_event_alone": latency["cpu_ms_per_event"],
        "cpu_ms_per_run_burst": c["cpu_ms_per_run"],
        "mixed_burst_s": round(mixed["burst"]["elapsed_s"], 2),
        "mixed_duplicates": mixed["burst"]["duplicates"],
        "latency_mixed": spread(mixed["during"]["total"]), "probes": probes,
        "latency_arriving": spread(mixed["arriving"]["total"]),
        "latency_in_flight": spread(mixed["in_flight"]["total"]),
        "latency_mixed_from_sent": spread(mixed["during"]["from_sent"]),
        "latency_alone_from_sent": spread(latency["from_sent"]),
    }  # fmt: skip
