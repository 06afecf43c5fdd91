"""Per-user rate limiting modelled on DocSpace's limiter (off unless a portal's rate_limit option is set)."""

from __future__ import annotations

import math
from collections import defaultdict, deque
from dataclasses import asdict, dataclass
from typing import Any

WINDOW_SECONDS = 60.0
DAY_SECONDS = 86400.0


@dataclass
class RateLimit:
    """Limits per caller; the defaults are DocSpace's when rate limiting is on.

    DocSpace also caps concurrent requests (50 GETs, 15 writes); the simulator
    does not, because tests cannot hold requests open in a controlled way.
    """

    per_minute: int = 1500
    writes_per_day: int = 10000

    @classmethod
    def from_option(cls, option: Any) -> RateLimit | None:
        """Accept None/False (off), True (defaults), an int (per minute) or a dict."""
        if option is None or option is False:
            return None
        if option is True:
            return cls()
        if isinstance(option, RateLimit):
            return option
        if isinstance(option, int):
            return cls(per_minute=option)
        if isinstance(option, dict):
            return cls(**option)
        raise ValueError(f"invalid rate_limit {option!r}: expected true, a number per minute or an object")

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


class RateLimiter:
    """Sliding one-minute window and a daily write budget per caller key."""

    def __init__(self, limit: RateLimit):
        self.limit = limit
        self._recent: dict[str, deque[float]] = defaultdict(deque)
        self._writes: dict[tuple[str, int], int] = defaultdict(int)

    def check(self, key: str, *, is_write: bool, now: float) -> tuple[bool, dict[str, str]]:
        """Count one request at `now` (portal clock, epoch seconds); return (allowed, headers)."""
        recent = self._recent[key]
        while recent and recent[0] <= now - WINDOW_SECONDS:
            recent.popleft()

        day = int(now // DAY_SECONDS)
        reset_seconds = math.ceil((day + 1) * DAY_SECONDS - now)
        headers = {"X-RateLimit-Limit": str(self.limit.per_minute), "X-RateLimit-Reset": str(reset_seconds)}

        if len(recent) >= self.limit.per_minute:
            headers["X-RateLimit-Remaining"] = "0"
            headers["Retry-After"] = str(max(1, math.ceil(recent[0] + WINDOW_SECONDS - now)))
            return False, headers

        if is_write and self._writes[(key, day)] >= self.limit.writes_per_day:
            headers["X-RateLimit-Remaining"] = "0"
            headers["Retry-After"] = str(max(1, reset_seconds))
            return False, headers

        recent.append(now)
        if is_write:
            self._writes[(key, day)] += 1
        headers["X-RateLimit-Remaining"] = str(self.limit.per_minute - len(recent))
        return True, headers
