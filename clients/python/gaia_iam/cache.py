"""A bounded LRU of decisions, each valid over an interval of the clock."""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from decimal import Decimal
from typing import Any, Hashable, Iterable

# Keep clear of each instant a decision depends on by this much: OPA
# compares the clock as a float64 of nanoseconds, which rounds by up to a
# few hundred nanoseconds near today's instants.
MARGIN_SECONDS = 1e-3

DEFAULT_SIZE = 10_000


def validity(instants: Iterable[Decimal], now: float) -> tuple[float, float] | None:
    """The interval around now over which no instant is crossed, or None.

    A decision changes only when the clock crosses the token's exp or nbf;
    within the interval between the nearest such instants it stands.
    """
    lo, hi = -math.inf, math.inf
    for instant in instants:
        try:
            t = float(instant)
        except (OverflowError, ValueError):
            return None
        if t <= now:
            lo = max(lo, t)
        else:
            hi = min(hi, t)
    lo += MARGIN_SECONDS
    hi -= MARGIN_SECONDS
    if not lo <= now < hi:
        return None
    return lo, hi


class DecisionCache:
    """Thread-safe LRU: key → (valid from, valid until, value)."""

    __slots__ = ("_entries", "_lock", "_max")

    def __init__(self, max_entries: int = DEFAULT_SIZE) -> None:
        self._entries: OrderedDict[Hashable, tuple[float, float, Any]] = OrderedDict()
        self._lock = threading.Lock()
        self._max = max(1, max_entries)

    def get(self, key: Hashable, now: float) -> Any:
        """The value cached for key and valid at now, or None."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry[0] <= now < entry[1]:
                self._entries.move_to_end(key)
                return entry[2]
            del self._entries[key]
            return None

    def put(self, key: Hashable, lo: float, hi: float, value: Any) -> None:
        """Cache value for key over [lo, hi)."""
        with self._lock:
            entries = self._entries
            entries[key] = (lo, hi, value)
            entries.move_to_end(key)
            if len(entries) > self._max:
                entries.popitem(last=False)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
