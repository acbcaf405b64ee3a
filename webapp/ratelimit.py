"""Per-client rate limits on commands (spawn, kill, ...): a token bucket per client key."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict


class RateLimiter:
    """Allow ``rate`` commands per second per client, in bursts of up to ``burst``."""

    def __init__(self, rate: float, burst: int, max_clients: int = 10_000) -> None:
        self.rate = rate
        self.burst = burst
        self.max_clients = max_clients
        self.buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self.lock = threading.Lock()

    def allow(self, client: str, cost: float = 1.0) -> bool:
        """Take ``cost`` tokens from ``client``'s bucket; False when it is empty."""
        if self.rate <= 0:
            return True
        now = time.monotonic()
        with self.lock:
            tokens, last = self.buckets.pop(client, (float(self.burst), now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            allowed = tokens >= cost
            self.buckets[client] = (tokens - cost if allowed else tokens, now)
            while len(self.buckets) > self.max_clients:  # bounded: forget the idlest
                self.buckets.popitem(last=False)
            return allowed
