"""Scale-out on real hosts: 2 web and 2 worker hosts (network namespaces) on one Postgres and
one Redis, at the product's defaults. `make test-scale` (root: `ip netns`). The tests run in
file order on one cluster; each states its promise and proves it with exact counts.

The workload: signed GitHub deliveries to both web hosts; each starts a run whose one step
posts the delivery id to Slack (the sandbox, answering after SLACK_DELAY_S). A worker host
sends at most WORKFLOW_RUNNERS x SLACK_POOL_MAX calls at once, so its capacity is
that over the delay, and a second worker host doubles the connections the deployment has.
"""

import threading
import time

import redis
from django.conf import settings

from tests.scale.cluster import Control, Watcher, wait_until
from tests.scale.conftest import FIGURES

SLACK_DELAY_S = 2.0
ONE_HOST_EVENTS, TWO_HOST_EVENTS = 200, 400
BOUNDS_S = {"flag": 1.0, "config": 2.0, "extension": 2.0}
MARGIN_S = 1.0
TAKEOVER_BOUND_S = 30.0


def runner_processes(cluster) -> int:
    client = redis.Redis.from_url(cluster.redis.url)
    return client.zcount("contexten:scale:workflows:processes", int(time.time() * 1000), "+inf")


def run_phase(cluster, prefix: str, count: int) -> float:
    """Post `count` deliveries, wait for every message; prove each was posted once and each
    step ran once; answer the messages per second between the 10th and 90th percentile."""
    cluster.post_events(prefix, count)
    wait_until(lambda: len(cluster.posted(prefix)) == count, 300, f"{count} {prefix} messages")
    wait_until(lambda: cluster.runs(prefix) == {"succeeded": count}, 60, f"{prefix} runs")
    posted = cluster.posted(prefix)
    assert sorted(posted.values()) == [1] * count, "a message was posted twice"
    calls = cluster.post_calls(prefix)
    assert len(calls) == count, "a step called Slack more than once"
    attempts = cluster.pg.query(
        "SELECT s.attempts, count(*) FROM workflows_steprun s JOIN workflows_run r"
        " ON r.id = s.run_id JOIN events_event e ON e.id = r.event_id"
        " WHERE e.delivery_id LIKE %s GROUP BY s.attempts", prefix + "-%",
    )  # fmt: skip
    assert attempts == [(1, count)], "a step was claimed twice"
    # attempts 0: planned where the web host stored it (workflows/at_ingest.py); 1: one
    # dispatch. Never more, and every event done.
    dispatched = cluster.pg.query(
        "SELECT attempts, count(*) FROM events_event WHERE delivery_id LIKE %s"
        " AND status = 'done' GROUP BY attempts", prefix + "-%",
    )  # fmt: skip
    assert sum(n for _, n in dispatched) == count, f"not every event is done: {dispatched}"
    assert {attempts for attempts, _ in dispatched} <= {0, 1}, "an event was dispatched twice"
    moments = sorted(call.at for call in calls)
    low, high = moments[count // 10], moments[count * 9 // 10]
    return (count * 8 // 10) / (high - low)


def calls_by_host(cluster, calls) -> dict[str, int]:
    by_address = {host.address: name for name, host in cluster.hosts.items()}
    counts: dict[str, int] = {}
    for call in calls:
        name = by_address.get(call.remote, call.remote)
        counts[name] = counts.get(name, 0) + 1
    return counts


def start_second_worker_host(cluster) -> None:
    """Start wrk2 unless it runs (a test selected alone with -k still has its two hosts)."""
    runners = settings.WORKFLOW_RUNNERS
    # Its runners, not any process: a watcher may already run in wrk2's namespace.
    if not any("runworkflows" in process.args for process in cluster.hosts["wrk2"].processes):
        cluster.hosts["wrk2"].start_worker(runners)
    wait_until(lambda: runner_processes(cluster) == 2 * runners, 180, "wrk2's runner processes")


def watchers(cluster) -> dict:
    """A watcher in each host's namespace (started once), all ready."""
    if not cluster.watchers:
        cluster.watchers = {name: Watcher(host) for name, host in cluster.hosts.items()}
    for name, watcher in cluster.watchers.items():
        assert watcher.ready.wait(120), f"watcher on {name}"
    return cluster.watchers


def test_a_second_worker_host_adds_throughput_and_nothing_runs_twice(scale_cluster):
    """Promise: with one Postgres and one Redis, two worker hosts send at least 1.6x the
    messages one does; every event is dispatched once, every step claimed once, every
    message posted once (counted at the platform)."""
    cluster, runners = scale_cluster, settings.WORKFLOW_RUNNERS
    wait_until(lambda: runner_processes(cluster) == runners, 180, "wrk1's runner processes")
    cluster.fake.set_delay("slack", SLACK_DELAY_S)
    run_phase(cluster, "warm", 30)
    one = run_phase(cluster, "one", ONE_HOST_EVENTS)
    start_second_worker_host(cluster)
    run_phase(cluster, "warm2", 30)
    two = run_phase(cluster, "two", TWO_HOST_EVENTS)
    shares = calls_by_host(cluster, cluster.post_calls("two"))
    FIGURES["messages/s, one worker host"] = f"{one:.1f}"
    FIGURES["messages/s, two worker hosts"] = f"{two:.1f}  ({two / one:.2f}x)"
    FIGURES["calls per worker host (two)"] = shares
    assert set(shares) == {"wrk1", "wrk2"}, "both worker hosts sent messages"
    assert two >= 1.6 * one, f"two worker hosts {two:.1f}/s against one {one:.1f}/s"


def test_flag_configuration_and_extension_changes_reach_every_host(scale_cluster):
    """Promise: a change made anywhere is seen by every host within its bound: flags 1 s,
    configuration and extensions 2 s. Watchers (plain django.setup() processes, as web and
    workers are) in each host's namespace report when the new value appears; each change is
    checked after its bound plus a margin, and the delays are recorded."""
    cluster = scale_cluster
    seen_by = list(watchers(cluster).values())
    cluster.control = control = Control(cluster.env)
    delays: dict[str, list[float]] = {kind: [] for kind in BOUNDS_S}
    for round_ in range(3):
        for kind, bound in BOUNDS_S.items():
            value = f"{kind}-{round_}"
            if kind == "extension":  # linear disabled, enabled, disabled
                value = "disabled" if round_ % 2 == 0 else "enabled"
            committed = control.change(kind, value)
            time.sleep(max(committed + bound + MARGIN_S - time.monotonic(), 0))
            missing = [w.host.name for w in seen_by if (kind, value) not in w.seen]
            assert missing == [], f"{kind}={value} not seen on {missing} after {bound + MARGIN_S}s"
            delays[kind] += [w.seen[(kind, value)] - committed for w in seen_by]
    control.change("extension", "enabled")  # the last round disabled it
    for kind, values in delays.items():
        FIGURES[f"{kind} change seen on all 4 hosts (max of 3)"] = f"{max(values) * 1000:.0f} ms"


def test_an_outage_seen_by_one_host_opens_the_breaker_on_all(scale_cluster):
    """Promise: breaker state is shared. Slack goes down; only worker host wrk1 sends calls
    (wrk2's runners are paused with SIGSTOP); the breaker wrk1 opens is open on every host,
    and wrk2, resumed, sends nothing to the down platform. After recovery every message of
    the outage is posted exactly once."""
    cluster = scale_cluster
    start_second_worker_host(cluster)
    watchers(cluster)
    paused = [p for p in cluster.hosts["wrk2"].processes if "runworkflows" in p.args]
    for process in paused:
        process.send_signal(19)  # SIGSTOP: the host is up but takes no steps
    cluster.fake.set_delay("slack", 0)
    cluster.fake.set_down("slack")
    started = time.monotonic()
    cluster.post_events("outage", 60)
    for watcher in cluster.watchers.values():
        wait_until(
            lambda w=watcher: ("breaker", "open") in w.seen, 60, f"open on {watcher.host.name}"
        )
    opened = {name: w.seen[("breaker", "open")] for name, w in cluster.watchers.items()}
    resumed_at = time.monotonic()
    for process in paused:
        process.send_signal(18)  # SIGCONT
    time.sleep(3)  # wrk2's runners claim what is due and meet the open breaker
    cluster.fake.set_down("slack", False)
    down_calls = [c for c in cluster.post_calls("outage") if c.status != 200]
    by_host = calls_by_host(cluster, down_calls)
    FIGURES["calls to the down platform before open"] = f"{len(down_calls)} of 60"
    FIGURES["breaker open seen on all hosts after"] = (
        f"{(max(opened.values()) - started) * 1000:.0f} ms from the first delivery"
    )
    late = [(c.remote, round(c.at - resumed_at, 2), c.status) for c in down_calls
            if c.remote != cluster.hosts["wrk1"].address]  # fmt: skip
    assert set(by_host) == {"wrk1"}, f"only wrk1 met the outage: {by_host} {late}"
    wait_until(lambda: len(cluster.posted("outage")) == 60, 180, "the outage's 60 messages")
    assert sorted(cluster.posted("outage").values()) == [1] * 60
    wait_until(lambda: cluster.runs("outage") == {"succeeded": 60}, 60, "outage runs")


def test_a_worker_host_killed_mid_stream_loses_nothing_and_is_taken_over(scale_cluster):
    """Promise: SIGKILL of every process on worker host wrk2 mid-stream loses no
    acknowledged event; the steps and doorbells it held are taken over by wrk1 within 30 s
    at the defaults (heartbeat timeout 15 s, stuck events 15 s, swept every 5 s by runner
    processes); duplicate posts are bounded by the calls wrk2 had in flight."""
    cluster = scale_cluster
    start_second_worker_host(cluster)
    cluster.fake.set_delay("slack", SLACK_DELAY_S)
    count, sent = 120, []
    sender = threading.Thread(target=lambda: sent.extend(stream(cluster, "kill", count)))
    sender.start()
    victim = cluster.hosts["wrk2"]

    def victim_in_flight() -> int:
        calls = cluster.post_calls("kill")
        return len([c for c in calls if c.status is None and c.remote == victim.address])

    wait_until(lambda: victim_in_flight() >= 3, 30, "wrk2 with calls in flight")
    in_flight, victim_pids = victim_in_flight(), {str(pid) for pid in victim.pids()}
    killed_at = time.monotonic()
    victim.kill()
    running = "SELECT id, claimed_by FROM workflows_steprun WHERE status = 'running'"
    held = [step for step, token in cluster.pg.query(running) if claimant(token) in victim_pids]
    assert held, "wrk2 held steps when it was killed"
    deadline = killed_at + TAKEOVER_BOUND_S + MARGIN_S
    wait_until(lambda: taken_over(cluster, held, victim_pids), deadline - time.monotonic(),
             f"the {len(held)} steps wrk2 held taken over")  # fmt: skip
    held_after = time.monotonic() - killed_at
    sender.join()
    wait_until(lambda: len(cluster.posted("kill")) == count, 120, "every kill message")
    last_post = max(c.at for c in cluster.post_calls("kill") if c.status == 200) - killed_at
    assert len(sent) == count
    posted = cluster.posted("kill")
    assert set(posted) == {f"kill-{n}" for n in range(count)}, "an acknowledged event was lost"
    duplicates = sum(n - 1 for n in posted.values())
    wait_until(lambda: cluster.runs("kill") == {"succeeded": count}, 60, "kill runs")
    redispatched = cluster.pg.query(
        "SELECT count(*) FROM events_event WHERE delivery_id LIKE 'kill-%%' AND attempts > 1"
    )
    FIGURES["killed host: steps it held / calls in flight"] = f"{len(held)} / {in_flight}"
    FIGURES["killed host: events re-dispatched"] = redispatched[0][0]
    FIGURES["killed host: held steps taken over after"] = f"{held_after:.1f} s (bound 30 s)"
    FIGURES["killed host: last message posted after"] = f"{last_post:.1f} s"
    FIGURES["killed host: duplicate posts"] = duplicates
    assert duplicates <= in_flight


def taken_over(cluster, ids: list[int], victim_pids: set[str]) -> bool:
    """Every step is finished, or claimed again by a runner that is not the victim's."""
    rows = cluster.pg.query(
        "SELECT status, claimed_by FROM workflows_steprun WHERE id = ANY(%s)", ids
    )
    return all(status != "running" or claimant(token) not in victim_pids
               for status, token in rows)  # fmt: skip


def claimant(token: str) -> str:
    """The pid in a claim token `<host>-<hash>-<pid>-<random>:<claim>`."""
    return token.split(":", 1)[0].split("-")[-2]


def stream(cluster, prefix: str, count: int, per_second: float = 10) -> list[str]:
    """Deliveries at a steady rate (below one worker host's capacity), in small batches."""
    sent = []
    for start in range(0, count, 5):
        began = time.monotonic()
        sent += cluster.post_ids([f"{prefix}-{n}" for n in range(start, min(start + 5, count))])
        time.sleep(max(5 / per_second - (time.monotonic() - began), 0))
    return sent
