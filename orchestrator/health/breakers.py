"""Circuit breakers per platform, with resilience4j semantics, shared across processes.

- **closed**: calls pass. Outcomes go into a count-based sliding window of the last
  BREAKER_WINDOW calls. Once the window holds BREAKER_MIN_CALLS calls and the failure rate
  reaches BREAKER_FAILURE_RATE percent, the breaker opens.
- **open**: calls are refused with BreakerOpen(retry_after=seconds left) for
  BREAKER_OPEN_SECONDS; the workflow engine then waits without spending an attempt.
- **half_open**: BREAKER_HALF_OPEN_PROBES calls are let through. When they have all reported,
  the breaker closes (failure rate below the threshold) or opens again. Probes that never
  report (a killed worker) are re-issued after another open wait.
- **failing** (still closed, but this process's last outcome was an outage): at most
  BREAKER_HALF_OPEN_PROBES calls are in flight in this process; the others wait as for an
  open breaker. So while failures mount towards the threshold, a backlog of hundreds of
  steps costs a few calls at a time, not one each; the first success lifts the cap. A
  failure is folded into the shared record at once, so the breaker opens on the failures
  themselves rather than a sync interval later.

The record lives in Redis when REDIS_URL is set and in the `BreakerState` table otherwise,
or while Redis is down (breaker_stores.py, core/backends.py); one pure state machine
(`BreakerRecord`) serves both. The hot path never waits on a lock around the call
(pybreaker's design serialises calls): each process counts outcomes in memory and folds
them into the shared record at most every BREAKER_SYNC_MS, or at once while the breaker is
not closed. So 1,000 calls in flight cost a handful of store round trips a second, and a
process sees another's transition within BREAKER_SYNC_MS.
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import logging
import random
import threading
import time
from dataclasses import dataclass, field

from django.conf import settings

from extensions.api import BreakerOpen

logger = logging.getLogger("contexten.breakers")

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"
PROBE_RECHECK_S = 1.0  # when every half-open probe is taken, look again this much later
MAX_FOLDS = 3  # folds in a row while failures keep arriving
SYNC_WAIT_S = 1.0  # a call waits this long at most for a sync another call started


@dataclass(frozen=True)
class BreakerConfig:
    failure_rate: float
    window: int
    min_calls: int
    open_seconds: float
    probes: int

    @classmethod
    def from_settings(cls) -> BreakerConfig:
        return cls(
            failure_rate=float(settings.BREAKER_FAILURE_RATE),
            window=int(settings.BREAKER_WINDOW),
            min_calls=int(settings.BREAKER_MIN_CALLS),
            open_seconds=float(settings.BREAKER_OPEN_SECONDS),
            probes=int(settings.BREAKER_HALF_OPEN_PROBES),
        )


@dataclass
class BreakerRecord:
    """The shared state of one breaker, and the state machine over it."""

    state: str = CLOSED
    window: str = ""  # last calls, oldest first: "0" success, "1" failure
    open_until: float = 0.0
    half_open_since: float = 0.0
    probes_issued: int = 0
    probe_successes: int = 0
    probe_failures: int = 0

    def advance(self, now: float, config: BreakerConfig) -> None:
        """Move open → half_open once the wait is over; re-issue probes that never reported."""
        probes_lost = self.state == HALF_OPEN and not (
            0 <= now - self.half_open_since < config.open_seconds
        )  # a clock that went back counts as "long enough": it must not wedge the probes
        if self.wait_over(now, config.open_seconds) or probes_lost:
            self._half_open(now)

    def apply(self, successes: int, failures: int, now: float, config: BreakerConfig) -> None:
        """Fold in a batch of outcomes."""
        self.advance(now, config)
        if self.state == CLOSED:
            recent = "0" * min(successes, config.window) + "1" * min(failures, config.window)
            self.window = (self.window + recent)[-config.window :]
            calls, failures = len(self.window), self.window.count("1")
            if calls >= config.min_calls and self._over(failures, calls, config):
                self._open(now, config)
        elif self.state == HALF_OPEN:
            self.probe_successes += successes
            self.probe_failures += failures
            done = self.probe_successes + self.probe_failures
            if done >= config.probes:
                if self._over(self.probe_failures, done, config):
                    self._open(now, config)
                else:
                    self.state, self.window = CLOSED, ""
        # Outcomes arriving while open come from calls let through before it opened.

    def claim_probe(self, now: float, config: BreakerConfig) -> bool:
        """May one more call go through? Counts it as a probe when half-open."""
        self.advance(now, config)
        if self.state == CLOSED:
            return True
        if self.state == HALF_OPEN and self.probes_issued < config.probes:
            self.probes_issued += 1
            return True
        return False

    def wait_over(self, now: float, open_seconds: float | None = None) -> bool:
        """Open, and the wait is over. `open_until` is wall-clock time (it is shared between
        hosts); if it lies further ahead than one whole wait, the clock jumped back, and
        the wait counts as over rather than lasting as long as the jump."""
        if self.state != OPEN:
            return False
        if open_seconds is None:
            open_seconds = float(settings.BREAKER_OPEN_SECONDS)
        return now >= self.open_until or self.open_until - now > open_seconds

    def effective_state(self, now: float) -> str:
        """The state as a caller would meet it now (an expired open wait reads half_open)."""
        return HALF_OPEN if self.wait_over(now) else self.state

    def force_open(self, now: float, config: BreakerConfig) -> None:
        """Open now, whatever the window says (an operator's or a recovery action's call)."""
        self._open(now, config)

    def _over(self, failures: int, calls: int, config: BreakerConfig) -> bool:
        return calls > 0 and failures * 100 >= config.failure_rate * calls

    def _open(self, now: float, config: BreakerConfig) -> None:
        self.state, self.open_until, self.window = OPEN, now + config.open_seconds, ""

    def _half_open(self, now: float) -> None:
        self.state, self.half_open_since = HALF_OPEN, now
        self.probes_issued = self.probe_successes = self.probe_failures = 0


@dataclass
class LocalView:
    """One process's view of a breaker: a snapshot plus outcomes not yet folded in."""

    record: BreakerRecord | None = None
    fetched_at: float = 0.0  # monotonic
    successes: int = 0
    failures: int = 0
    syncing: bool = False
    in_flight: int = 0  # calls of this process let through and not yet released
    # The last outcome this process saw: None (none yet), True, False. While the last one
    # failed, calls are capped (see before_call); the first success lifts the cap.
    last_ok: bool | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def failing(self) -> bool:
        return self.last_ok is False

    def give_back(self, successes: int, failures: int) -> None:
        with self.lock:
            self.successes += successes
            self.failures += failures

    def take_pending(self) -> tuple[int, int]:
        with self.lock:
            pending, self.successes, self.failures = (self.successes, self.failures), 0, 0
            return pending


_views: dict[str, LocalView] = {}


def _view(platform: str) -> LocalView:
    view = _views.get(platform)
    if view is None:
        view = _views.setdefault(platform, LocalView())
    return view


def _now() -> float:
    """The store server's time, as last measured (no round trip: the hot path calls it)."""
    return _store().measured_now()


def _store():
    from orchestrator.health import breaker_stores

    return breaker_stores.current_store()


# --- the hot path (async; called by the platform clients) ------------------------------
# Health probes call the platform whatever the breaker says (one call a detection run), so
# they can see it answer again, and their outcomes are not counted.
bypass: contextvars.ContextVar[bool] = contextvars.ContextVar("breaker_bypass", default=False)


async def before_call(platform: str) -> None:
    """Let a call through, or raise BreakerOpen with the seconds until a probe may go.

    A call let through must be followed by `release(platform)` once it is over.
    """
    if bypass.get():
        return
    view = _view(platform)
    record = view.record
    if record is None or _stale(view):
        record = await _sync(platform, view, fresh=True) or record
    if record is not None and record.state != CLOSED:
        await _claim_probe(platform, view, record)
        return _admit(platform, view, cap=None)
    # Closed, but failures are mounting: only a few calls at a time find out whether the
    # platform is down, instead of every queued call (an outage costs a bounded number);
    # none while a failure is being folded in, which may open the breaker.
    if view.failing():
        return _admit(platform, view, cap=0 if view.syncing else _config().probes)
    _admit(platform, view, cap=None)


async def _claim_probe(platform: str, view: LocalView, record: BreakerRecord) -> None:
    now, config = _now(), _config()
    if record.state == OPEN and not record.wait_over(now, config.open_seconds):
        raise BreakerOpen(platform, retry_after=round(record.open_until - now, 3))
    if record.state == HALF_OPEN and record.probes_issued >= config.probes:
        # Every probe is out: answer from the snapshot, so a woken backlog does not make
        # one store round trip per waiting step.
        raise BreakerOpen(platform, retry_after=_recheck_after())
    allowed, record = await _off_loop(_store().claim_probe, platform, config)
    view.record, view.fetched_at = record, time.monotonic()
    if not allowed:
        wait = record.open_until - now if record.state == OPEN else _recheck_after()
        raise BreakerOpen(platform, retry_after=round(max(wait, 0.05), 3))


def _admit(platform: str, view: LocalView, cap: int | None) -> None:
    """Count the call in flight, unless `cap` calls already are."""
    with view.lock:
        if cap is not None and view.in_flight >= cap:
            raise BreakerOpen(platform, retry_after=_recheck_after())
        view.in_flight += 1


def release(platform: str) -> None:
    """A call let through by before_call is over (whatever its outcome)."""
    if bypass.get():
        return
    view = _view(platform)
    with view.lock:
        view.in_flight = max(view.in_flight - 1, 0)


def in_flight(platform: str) -> int:
    """Calls this process has in flight to the platform (metrics, tests)."""
    return _view(platform).in_flight


def _recheck_after() -> float:
    """Spread re-checks of a half-open breaker so waiting steps do not wake together."""
    return round(PROBE_RECHECK_S * random.uniform(0.5, 1.5), 3)


async def record(platform: str, success: bool) -> None:
    """Count one call's outcome; fold it into the shared record when due."""
    if bypass.get():
        return
    view = _view(platform)
    with view.lock:
        if success:
            view.successes += 1
        else:
            view.failures += 1
        view.last_ok = success
    probing = view.record is not None and view.record.state != CLOSED
    # A failure is folded in at once, so the breaker opens on the failures themselves rather
    # than BREAKER_SYNC_MS later.
    if probing or not success or _stale(view):
        await _sync(platform, view)


def _stale(view: LocalView) -> bool:
    return time.monotonic() - view.fetched_at >= settings.BREAKER_SYNC_MS / 1000


async def _sync(platform: str, view: LocalView, fresh: bool = False) -> BreakerRecord | None:
    """Fold pending outcomes into the shared record and refresh the snapshot; one at a time
    per process (others keep the snapshot they have), and never fatal for the call. Failures
    that arrived during a fold are folded straight after it, so a wave of failed calls
    opens the breaker without waiting for the next call to report.

    `fresh` (a call about to go out) waits for a sync already running rather than use a
    stale snapshot: a burst after an idle spell would otherwise go out on a view from before
    another host opened the breaker (the scale-out run saw 5 such calls)."""
    with view.lock:
        busy = view.syncing
        if not busy:
            view.syncing = True
    if busy:
        return await _await_sync(view) if fresh else view.record
    successes = failures = 0
    try:
        for _ in range(MAX_FOLDS):
            successes, failures = view.take_pending()
            view.record = await _off_loop(_store().apply, platform, successes, failures, _config())
            successes = failures = 0
            if not view.failures or view.record.state != CLOSED:
                break
    except Exception as exc:  # the breaker must not take calls down with it
        logger.warning("breaker.sync-failed platform=%s error=%s", platform, exc)
        view.give_back(successes, failures)  # folded by the next sync, not lost
    finally:
        view.fetched_at = time.monotonic()
        view.syncing = False
    return view.record


async def _await_sync(view: LocalView) -> BreakerRecord | None:
    """The snapshot once the running sync is over (at most SYNC_WAIT_S: a hung store must
    not hold calls back; the old snapshot is used then)."""
    deadline = time.monotonic() + SYNC_WAIT_S
    while view.syncing and time.monotonic() < deadline:
        await asyncio.sleep(0.005)
    return view.record


async def _off_loop(func, *args):
    """Run a blocking store operation without blocking the loop (ORM needs sync_to_async)."""
    from orchestrator.core import backends

    if backends.redis_in_use():  # a fall back to the database inside is fine on a thread
        return await asyncio.to_thread(func, *args)
    from asgiref.sync import sync_to_async

    return await sync_to_async(func)(*args)


def _config() -> BreakerConfig:
    return BreakerConfig.from_settings()


def log_transition(platform: str, old: str, new: str, record: BreakerRecord) -> None:
    """Called by the store that made the change, so each transition is logged once."""
    if old == new:
        return
    level = logging.WARNING if new == OPEN else logging.INFO
    logger.log(level, "breaker.%s platform=%s from=%s", new.replace("_", "-"), platform, old)


# --- sync API (health checks, dashboard, healing actions, the admin) -------------------
def platforms() -> tuple[str, ...]:
    """The platforms that have a breaker: those the registry's extensions call."""
    from extensions import registry

    return tuple(registry.platforms())


def breaker_state(platform: str) -> str:
    """Answer "closed", "open" or "half_open" as every process sees it. Sync: from async code
    use `await asyncio.to_thread(breaker_state, p)` (the database store needs a thread)."""
    store = _store()
    return store.read(platform).effective_state(store.now())


def breaker_snapshot(platform: str) -> dict:
    """State plus the numbers behind it, for the dashboard and health output."""
    store = _store()
    record, now = store.read(platform), store.now()
    window = record.window
    return {
        "platform": platform,
        "state": record.effective_state(now),
        "calls": len(window),
        "failure_rate": round(window.count("1") * 100 / len(window), 1) if window else 0.0,
        "retry_after": round(max(record.open_until - now, 0.0), 3) if record.state == OPEN else 0.0,
    }


def reset(platform: str) -> None:
    """Close a breaker and clear its window everywhere (a healing action)."""
    _store().reset(platform)
    _views.pop(platform, None)
    logger.info("breaker.reset platform=%s", platform)


def force_open(platform: str, seconds: float | None = None) -> None:
    """Open a breaker everywhere for `seconds` (default BREAKER_OPEN_SECONDS): hold calls to
    a platform known to be failing before its own window says so (a healing action)."""
    config = _config()
    if seconds:
        config = dataclasses.replace(config, open_seconds=float(seconds))
    _store().force_open(platform, config)
    _views.pop(platform, None)
    logger.warning("breaker.forced-open platform=%s seconds=%s", platform, config.open_seconds)


def reset_local() -> None:
    """Forget this process's snapshots and pending outcomes (tests)."""
    _views.clear()


# --- health checks -------------------------------------------------------------------
def check_breaker(platform: str) -> list[dict]:
    from orchestrator.health.checks import PASS, WARN, now_iso

    snapshot = breaker_snapshot(platform)
    result = {
        "componentType": "component",
        "observedValue": snapshot["state"],
        "status": PASS if snapshot["state"] == CLOSED else WARN,
        "time": now_iso(),
    }
    if snapshot["state"] != CLOSED:
        result["output"] = f"{platform} calls are held; next probe in {snapshot['retry_after']}s"
    return [result]


def check_breakers() -> dict[str, list[dict]]:
    """One `<platform>:breaker` result per platform the registry's extensions call."""
    from extensions import registry

    return {f"{platform}:breaker": check_breaker(platform) for platform in registry.platforms()}


def register_checks() -> None:
    """Add the breaker health checks and the Django system check for their settings."""
    from django.core import checks

    from orchestrator.health.checks import register_group

    register_group("orchestrator.health.breakers.check_breakers")
    checks.register(check_settings)


def settings_problems() -> list[str]:
    """One line per breaker, pool or timeout setting that cannot work."""
    problems = []
    if not 0 < settings.BREAKER_FAILURE_RATE <= 100:
        problems.append("BREAKER_FAILURE_RATE must be a percentage between 1 and 100")
    if not 1 <= settings.BREAKER_WINDOW <= 1000:
        problems.append("BREAKER_WINDOW must be between 1 and 1000 calls")
    if settings.BREAKER_MIN_CALLS > settings.BREAKER_WINDOW:
        problems.append("BREAKER_MIN_CALLS exceeds BREAKER_WINDOW: the breaker could never open")
    if settings.BREAKER_HALF_OPEN_PROBES < 1:
        problems.append("BREAKER_HALF_OPEN_PROBES must be at least 1")
    if settings.PLATFORM_HTTP_TIMEOUT <= 0:
        problems.append("PLATFORM_HTTP_TIMEOUT must be more than 0 seconds")
    from extensions import registry

    problems += [
        f"{p.upper()}_POOL_MAX must be at least 1"
        for p in registry.platforms()
        if getattr(settings, f"{p.upper()}_POOL_MAX", 1) < 1
    ]
    return problems


def check_settings(app_configs=None, **kwargs):
    from django.core.checks import Error

    return [Error(problem, id="contexten.E201") for problem in settings_problems()]
