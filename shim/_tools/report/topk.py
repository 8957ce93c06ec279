"""The most frequent strings of a stream, counted in bounded memory."""

from __future__ import annotations

from typing import Dict, List, Optional, Tuple

__all__ = ["TopK"]


class TopK:
    """The most frequent strings of a stream, in bounded memory (space-saving).

    At most ``capacity`` strings are tracked.  A new string arriving when the
    table is full replaces the least counted one and inherits its count plus
    one, remembering that inherited part as its possible overcount.  Any
    string seen more than ``total / capacity`` times is guaranteed to be in
    the table, and its count is too high by at most its ``error``.
    """

    __slots__ = ("_capacity", "_counts", "_errors", "evicted")

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._counts: Dict[str, int] = {}
        self._errors: Dict[str, int] = {}
        self.evicted = False

    def add(self, item: str) -> None:
        counts = self._counts
        if item in counts:
            counts[item] += 1
        elif len(counts) < self._capacity:
            counts[item] = 1
        else:
            victim = min(counts, key=counts.__getitem__)
            floor = counts.pop(victim)
            self._errors.pop(victim, None)
            counts[item] = floor + 1
            self._errors[item] = floor
            self.evicted = True

    def most_common(self, limit: Optional[int] = None) -> List[Tuple[str, int, int]]:
        """``(item, count, error)``, most counted first; ties in item order."""
        ranked = sorted(self._counts.items(), key=lambda kv: (-kv[1], kv[0]))
        if limit is not None:
            ranked = ranked[:limit]
        return [(item, count, self._errors.get(item, 0)) for item, count in ranked]

    def __len__(self) -> int:
        return len(self._counts)
