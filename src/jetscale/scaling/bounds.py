"""How a fitted number reads: a floor consistent with 0, an interval without an upper end.

The fits write floors as ``exp(e)`` (E of the parametric law, L_inf of the data
law), so a floor the runs do not resolve comes out as a tiny positive number,
such as E = 8.95e-73, not as 0; and R* is searched in a bounded range, so an
interval that ends at the range's limit has no upper end the data set. Printed as
numbers they mislead. :func:`reading` says what each number means in words
(:data:`CONSISTENT_WITH_ZERO`, :data:`UNBOUNDED`, :data:`RESOLVED`), which the
JSON outputs carry beside the numbers; :func:`format_value` prints them so.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from jetscale.scaling.parametric_fit import HUBER_DELTA

#: A floor below this fraction of the lowest loss fitted is consistent with 0: it
#: moves log L by less than the fits' Huber delta, below what they resolve.
ZERO_FRACTION = HUBER_DELTA
#: A value within this relative distance of a search range's end is at that end.
AT_LIMIT = 1e-3
CONSISTENT_WITH_ZERO = "consistent with 0"
UNBOUNDED = "unbounded"
RESOLVED = "resolved"


def floor_zero_below(lowest_loss: float) -> float:
    """The value under which a floor fitted to losses down to ``lowest_loss`` is 0."""
    return ZERO_FRACTION * lowest_loss


def reading(
    value: float,
    interval: Sequence[float] | None = None,
    zero_below: float | None = None,
    upper_limit: float | None = None,
) -> dict[str, object]:
    """What ``value`` and its ``(low, high)`` interval mean, in words.

    ``{"value": ..., "interval": [low's, high's]}``, each :data:`CONSISTENT_WITH_ZERO`
    (below ``zero_below``), :data:`UNBOUNDED` (at ``upper_limit``, the end of the
    range searched) or :data:`RESOLVED`; ``"interval"`` is None without a finite one.
    """

    def word(x: float) -> str:
        if zero_below is not None and x < zero_below:
            return CONSISTENT_WITH_ZERO
        if upper_limit is not None and x >= upper_limit * (1.0 - AT_LIMIT):
            return UNBOUNDED
        return RESOLVED

    finite = interval is not None and all(math.isfinite(x) for x in interval)
    return {
        "value": word(value),
        "interval": [word(x) for x in interval] if finite and interval is not None else None,
    }


def format_value(
    value: float,
    interval: Sequence[float] | None = None,
    read: Mapping[str, object] | None = None,
    digits: int = 4,
) -> str:
    """``value [low, high]`` as a reader takes it, with the words of ``read`` (a :func:`reading`).

    Such as ``"consistent with 0 [0, 4.34e-06]"`` for E = 8.95e-73 in [6.9e-129, 4.34e-06]
    (an upper end keeps its number: it bounds the floor), or ``"14.04 [2.677, unbounded]"``
    for R*; numbers have ``digits`` significant digits, and an interval that is not
    finite is left out.
    """
    words = read or reading(value, interval)
    text = _number(value, str(words["value"]), digits, "value")
    ends = words.get("interval")
    if interval is None or not isinstance(ends, Sequence):
        return text
    low = _number(interval[0], str(ends[0]), digits, "low")
    high = _number(interval[1], str(ends[1]), digits, "high")
    return f"{text} [{low}, {high}]"


def _number(x: float, word: str, digits: int, role: str) -> str:
    """A value consistent with 0 says so, a lower end reads 0, an upper end keeps its number."""
    if word == CONSISTENT_WITH_ZERO and role != "high":
        return CONSISTENT_WITH_ZERO if role == "value" else "0"
    if word == UNBOUNDED:
        return UNBOUNDED
    return f"{x:.{digits}g}"
