"""Flags benchmark: our engine against Unleash's, GrowthBook's and Flagsmith's, then OFREP.

`python -m bench flags [--keys=100000] [--rounds=5] [--http-seconds=5] [--no-http]`

1. In-process: one rule set (email ends with @acme.io -> on; country in NL/DE -> on; else a
   sticky 25 % rollout) evaluated for the same 100,000 targeting keys by each engine, in one
   run, alternating engines each round. Unleash appears twice: its engine (yggdrasil, what
   UnleashClient evaluates with) and the whole UnleashClient.is_enabled path. Contexts are
   built before timing, in each engine's own shape. Reported: median evaluations/s per
   engine and the ratio to the fastest of the others (target: >= 5x). The share of keys each
   engine turns on is printed as a sanity check: all must agree (about 47.5 % here).
2. Over HTTP (bench/flags_http.py): OFREP single-flag p99 against a trivial Django view on the
   same uvicorn server (target: <= 2x).
"""

import json
import statistics
import time
from collections.abc import Callable

RULES_DOC = {
    "key": "new-checkout",
    "enabled": True,
    "rules": [
        {"variant": "on", "when": {"attribute": "email", "op": "ends_with", "value": "@acme.io"}},
        {"variant": "on", "when": {"attribute": "country", "op": "in", "value": ["NL", "DE"]}},
    ],
    "rollout": {"percentage": 25},
}
COUNTRIES = ["US", "NL", "GB", "DE", "FR", "JP", "BR", "IN"]


def people(n: int) -> list[tuple[str, str, str]]:
    """(targeting key, email, country): 1 in 20 at acme.io, 2 in 8 in NL/DE."""
    return [
        (f"user-{i}", f"user{i}@{'acme.io' if i % 20 == 0 else 'example.com'}", COUNTRIES[i % 8])
        for i in range(n)
    ]


def ours(population) -> tuple[Callable, list]:
    from orchestrator.flags.engine import compile_flag
    from orchestrator.flags.schema import parse_flag

    evaluate = compile_flag(parse_flag(RULES_DOC), salt="bench-salt", version=1).evaluate
    contexts = [{"targetingKey": k, "email": e, "country": c} for k, e, c in population]
    return (lambda ctx: evaluate(ctx).value), contexts


def growthbook(population) -> tuple[Callable, list]:
    from growthbook import GrowthBook

    features = {
        "new-checkout": {
            "defaultValue": False,
            "rules": [
                {"condition": {"email": {"$regex": "@acme\\.io$"}}, "force": True},
                {"condition": {"country": {"$in": ["NL", "DE"]}}, "force": True},
                {"force": True, "coverage": 0.25, "hashAttribute": "id"},
            ],
        }
    }
    gb = GrowthBook(features=features)

    def evaluate(attributes):
        gb.set_attributes(attributes)
        return gb.is_on("new-checkout")

    return evaluate, [{"id": k, "email": e, "country": c} for k, e, c in population]


def unleash(population) -> tuple[Callable, list]:
    """UnleashClient evaluates through its engine (yggdrasil); we call that engine directly."""
    from yggdrasil_engine.engine import UnleashEngine

    engine = UnleashEngine()
    engine.take_state(json.dumps(unleash_state()))

    def evaluate(context):
        return engine.is_enabled("new-checkout", context).is_enabled

    contexts = [{"userId": k, "properties": {"email": e, "country": c}} for k, e, c in population]
    return evaluate, contexts


def unleash_client(population) -> tuple[Callable, list]:
    """The whole UnleashClient (context enricher, impression bookkeeping), offline."""
    import atexit
    import tempfile

    from UnleashClient import UnleashClient
    from UnleashClient.cache import FileCache

    cache = FileCache("bench", directory=tempfile.mkdtemp())
    cache.bootstrap_from_dict(unleash_state())
    client = UnleashClient(
        url="http://127.0.0.1:9",  # never called: toggles come from the bootstrapped cache
        app_name="bench",
        disable_metrics=True,
        disable_registration=True,
        cache=cache,
    )
    client.initialize_client(fetch_toggles=False)
    atexit.register(client.destroy)
    contexts = [{"userId": k, "properties": {"email": e, "country": c}} for k, e, c in population]
    return (lambda context: client.is_enabled("new-checkout", context)), contexts


def unleash_state() -> dict:
    def constraint(name, operator, values):
        return {
            "name": "default",
            "constraints": [{"contextName": name, "operator": operator, "values": values}],
        }

    rollout = {"rollout": "25", "stickiness": "userId", "groupId": "new-checkout"}
    strategies = [
        constraint("email", "STR_ENDS_WITH", ["@acme.io"]),
        constraint("country", "IN", ["NL", "DE"]),
        {"name": "flexibleRollout", "parameters": rollout},
    ]
    return {
        "version": 2,
        "features": [{"name": "new-checkout", "enabled": True, "strategies": strategies}],
    }


def flagsmith(population) -> tuple[Callable, list]:
    from flag_engine.engine import get_evaluation_result

    base = flagsmith_environment()

    def evaluate(context):
        return get_evaluation_result(context)["flags"]["new-checkout"]["enabled"]

    contexts = [
        {**base, "identity": {"identifier": k, "key": k, "traits": {"email": e, "country": c}}}
        for k, e, c in population
    ]
    return evaluate, contexts


def flagsmith_environment() -> dict:
    feature = {"key": "1", "name": "new-checkout", "enabled": False, "value": None}
    override = {**feature, "enabled": True}

    def segment(key, conditions, priority):
        rules = [{"type": "ALL", "conditions": conditions}]
        return {
            "key": key,
            "name": key,
            "rules": rules,
            "overrides": [{**override, "priority": priority}],
        }

    segments = {
        "acme": segment(
            "acme", [{"property": "email", "operator": "REGEX", "value": ".*@acme\\.io$"}], 0
        ),
        "eu": segment("eu", [{"property": "country", "operator": "IN", "value": "NL,DE"}], 1),
        "ramp": segment(
            "ramp", [{"property": "", "operator": "PERCENTAGE_SPLIT", "value": "25"}], 2
        ),
    }
    return {
        "environment": {"key": "bench", "name": "bench"},
        "features": {"new-checkout": feature},
        "segments": segments,
    }


ENGINES = {
    "contexten": ours,
    "growthbook": growthbook,
    "unleash": unleash,
    "unleash-client": unleash_client,
    "flagsmith": flagsmith,
}


def time_engine(evaluate: Callable, contexts: list) -> tuple[float, int]:
    """Answer (evaluations per second, how many were on)."""
    started = time.perf_counter()
    on = sum(1 for context in contexts if evaluate(context))
    return len(contexts) / (time.perf_counter() - started), on


def in_process(keys: int, rounds: int) -> dict[str, float]:
    population = people(keys)
    prepared = {name: build(population) for name, build in ENGINES.items()}
    rates: dict[str, list[float]] = {name: [] for name in ENGINES}
    shares: dict[str, float] = {}
    for _ in range(rounds):
        for name, (evaluate, contexts) in prepared.items():
            rate, on = time_engine(evaluate, contexts)
            rates[name].append(rate)
            shares[name] = on / keys
    medians = {name: statistics.median(values) for name, values in rates.items()}
    print_in_process(medians, shares, keys, rounds)
    return medians


def print_in_process(medians: dict, shares: dict, keys: int, rounds: int) -> None:
    fastest_other = max(rate for name, rate in medians.items() if name != "contexten")
    print(f"in-process: {keys:,} targeting keys, median of {rounds} rounds")
    print(f"  {'engine':<16}{'evals/s':>12}{'vs fastest other':>18}{'on':>8}")
    for name, rate in sorted(medians.items(), key=lambda item: -item[1]):
        print(f"  {name:<16}{rate:>12,.0f}{rate / fastest_other:>17.2f}x{shares[name]:>8.1%}")
    ratio = medians["contexten"] / fastest_other
    print(
        f"  target >= 5x the fastest other engine: {ratio:.1f}x {'PASS' if ratio >= 5 else 'FAIL'}"
    )


def main(argv: list[str]) -> int:
    options = dict(arg.lstrip("-").split("=", 1) for arg in argv if "=" in arg)
    keys, rounds = int(options.get("keys", 100_000)), int(options.get("rounds", 5))
    medians = in_process(keys, rounds)
    fastest_other = max(rate for name, rate in medians.items() if name != "contexten")
    status = 0 if medians["contexten"] >= 5 * fastest_other else 1
    if "--no-http" not in argv:
        from bench import flags_http

        status |= flags_http.run(
            float(options.get("http-seconds", 5)), int(options.get("rounds", 5))
        )
    return status
