"""Cheap throttling of bad-signature floods: a token bucket per client address, per process.

Why: a flood of forged webhooks costs a body read, a secret lookup and an HMAC each, and a
log line; from one address it should cost a dictionary lookup. Only failures spend tokens
(signature and timestamp refusals, the 401s), so good traffic from the same address is never
slowed while that address sends no bad ones. Once an address has spent its burst, every
webhook from it answers 429 with `Retry-After` before the pipeline reads the body or touches
the database, until the bucket refills at WEBHOOK_BAD_SIGNATURE_PER_MINUTE.

The state is per process, on purpose: no shared store to ask (that would be the work this
avoids). With N web processes an address gets at most N bursts, which is still cheap.
"""

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings

MAX_ADDRESSES = 10_000  # bound memory against floods from many addresses


@dataclass
class Bucket:
    tokens: float
    updated: float  # the clock's reading when `tokens` was right


class FailureThrottle:
    """Tokens per address: `burst` at most, refilled at `per_minute` a minute."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self.clock = clock
        self.buckets: dict[str, Bucket] = {}
        self.lock = threading.Lock()  # the Django view records failures from worker threads

    def limits(self) -> tuple[int, float]:
        return settings.WEBHOOK_BAD_SIGNATURE_BURST, settings.WEBHOOK_BAD_SIGNATURE_PER_MINUTE / 60

    def retry_after(self, address: str) -> int | None:
        """Seconds until `address` may send again, or None when it is not throttled."""
        burst, rate = self.limits()
        bucket = self.buckets.get(address)
        if not burst or bucket is None:
            return None
        tokens = self.refilled(bucket, burst, rate)
        if tokens >= 1:
            return None
        return max(1, math.ceil((1 - tokens) / rate)) if rate else 3600

    def failed(self, address: str) -> None:
        """`address` sent a delivery that failed verification: spend one token."""
        burst, rate = self.limits()
        if not burst:
            return
        with self.lock:
            bucket = self.buckets.get(address)
            if bucket is None:
                self.make_room(burst, rate)
                bucket = self.buckets[address] = Bucket(burst, self.clock())
            bucket.tokens = self.refilled(bucket, burst, rate) - 1
            bucket.updated = self.clock()

    def refilled(self, bucket: Bucket, burst: int, rate: float) -> float:
        return min(burst, bucket.tokens + (self.clock() - bucket.updated) * rate)

    def make_room(self, burst: int, rate: float) -> None:
        """Forget full buckets (they throttle nothing); if all are spent, forget them all."""
        if len(self.buckets) < MAX_ADDRESSES:
            return
        for address, bucket in list(self.buckets.items()):
            if self.refilled(bucket, burst, rate) >= burst:
                del self.buckets[address]
        if len(self.buckets) >= MAX_ADDRESSES:
            self.buckets.clear()

    def reset(self) -> None:
        with self.lock:
            self.buckets.clear()


throttle = FailureThrottle()
