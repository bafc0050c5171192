"""Flag evaluation at 1, 100 and 10,000 flags of 10 rules each (`python -m bench scale_flags`).

In one run, against a fresh database (bench/scale.py): flags are bulk-created in three steps
(`--quick`: 1, 10, 100), each with ten targeting rules (string, list, regex and semver
operators) that the measured context misses, then a 25 % split, so every evaluation walks all
ten rules and hashes. At each size, in process, through the same functions both OFREP doors
call (`ofrep.answer_flag`, `ofrep.answer_flags`) with the token cached:
- compiling every flag (what a process does after any change);
- OFREP single: one flag, p50/p95 in microseconds over 2,000 calls;
- OFREP bulk: every flag for one context, p50/p95 in milliseconds over 20 calls.
The bulk answer is not precomputed per context shape: it depends on the targeting key through
the split and on attribute values through the rules, so a shape does not determine it; the
ETag lets a polling provider skip the body instead (304).
"""

import json
import time

from bench.results import emit
from bench.scale import fresh_database, options_from, summary, timed

SIZES = (1, 100, 10_000)
QUICK_SIZES = (1, 10, 100)
RULES = [
    {"variant": "on", "when": {"attribute": "email", "op": "ends_with", "value": "@acme.io"}},
    {"variant": "on", "when": {"attribute": "country", "op": "in", "value": ["NL", "DE", "FR"]}},
    {"variant": "on", "when": {"attribute": "plan", "op": "equals", "value": "enterprise"}},
    {"variant": "on", "when": {"attribute": "email", "op": "regex", "value": "^admin@"}},
    {"variant": "on", "when": {"attribute": "app_version", "op": "semver_gte", "value": "9.0.0"}},
    {"variant": "on", "when": {"attribute": "team", "op": "starts_with", "value": "core-"}},
    {"variant": "on", "when": {"attribute": "region", "op": "in", "value": ["eu-1", "eu-2"]}},
    {"variant": "on", "when": {"attribute": "beta", "op": "equals", "value": "yes"}},
    {"variant": "on", "when": {"attribute": "email", "op": "contains", "value": "+test"}},
    {"variant": "on", "when": {"attribute": "org", "op": "not_in", "value": ["acme", "globex"]}},
]
CONTEXT = {
    "targetingKey": "user-42", "email": "x@example.com", "country": "US", "plan": "free",
    "app_version": "2.3.1", "team": "web", "region": "us-1", "beta": "no", "org": "acme",
}  # fmt: skip


def main(argv: list[str]) -> int:
    options = options_from(argv)
    sizes = QUICK_SIZES if "quick" in options else SIZES
    fresh_database()
    token = make_token()
    curve, made = [], 0
    for size in sizes:
        make_flags(made, size - made)
        made = size
        point = {"flags": size, **measure(size, token)}
        print(json.dumps(point), flush=True)
        curve.append(point)
    emit("scale_flags", {"curve": curve, "quick": "quick" in options})
    return report(curve)


def make_token() -> str:
    from django.contrib.auth.models import User
    from rest_framework.authtoken.models import Token

    user = User.objects.create_user("bench", is_staff=True)
    return Token.objects.create(user=user).key


def make_flags(first: int, count: int) -> None:
    from orchestrator.flags.cache import announce_change
    from orchestrator.flags.models import Flag

    Flag.objects.bulk_create(
        Flag(key=f"flag-{n}", enabled=True, variants={"on": True, "off": False},
             default_variant="off", rules=RULES, rollout_variant="on", rollout_percentage=25,
             version=1)
        for n in range(first, first + count)
    )  # fmt: skip
    announce_change()


def measure(size: int, token: str) -> dict:
    from orchestrator.flags import ofrep
    from orchestrator.flags.cache import load_compiled, store

    started = time.perf_counter()
    compiled, _ = load_compiled()
    compile_ms = (time.perf_counter() - started) * 1000
    if len(compiled) != size:
        raise SystemExit(f"error: {len(compiled)} of {size} flags compiled")
    store.invalidate()
    headers = {"authorization": f"Bearer {token}"}
    body = json.dumps({"context": CONTEXT}).encode()
    ofrep.answer_flag("flag-0", headers, body)  # loads the store and caches the token
    single = timed(lambda: ofrep.answer_flag(f"flag-{size - 1}", headers, body), 2000, 50)
    bulk = timed(lambda: ofrep.answer_flags(headers, body), 20)
    answer = ofrep.answer_flags(headers, body)
    if answer.status != 200 or len(json.loads(answer.body)["flags"]) != size:
        raise SystemExit("error: the bulk answer does not hold every flag")
    return {
        "compile_ms": round(compile_ms, 1),
        "single_us": microseconds(single),  # summary() rounds ms to 10 µs steps
        "bulk": summary(bulk),
        "bulk_bytes": len(answer.body),
    }


def microseconds(samples_ms: list[float]) -> dict:
    return {k.replace("_ms", "_us"): v for k, v in summary([s * 1000 for s in samples_ms]).items()}


def report(curve: list[dict]) -> int:
    print(f"{'flags':>7} {'compile':>10} {'single p50':>11} {'p95':>9} {'bulk p50':>10} {'p95':>9}")
    for p in curve:
        print(
            f"{p['flags']:>7,} {p['compile_ms']:>8.1f}ms {p['single_us']['p50_us']:>9.1f}us"
            f" {p['single_us']['p95_us']:>7.1f}us {p['bulk']['p50_ms']:>8.2f}ms"
            f" {p['bulk']['p95_ms']:>7.2f}ms"
        )
    base, top = curve[0]["single_us"]["p95_us"], curve[-1]["single_us"]["p95_us"]
    met = top <= 2 * base
    verdict = "flat" if met else "NOT flat"
    print(f"single evaluation {verdict}: p95 {top} us at the top, {base} us at 1 flag")
    return 0 if met else 1
