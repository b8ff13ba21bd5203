"""Floors consistent with 0 and intervals without an upper end, in words and in print."""

from __future__ import annotations

import math

from jetscale.scaling.bounds import (
    CONSISTENT_WITH_ZERO,
    RESOLVED,
    UNBOUNDED,
    floor_zero_below,
    format_value,
    reading,
)
from jetscale.scaling.compare import GroupFit, markdown
from jetscale.scaling.repetition import R_STAR_RANGE


def test_an_unresolved_floor_reads_consistent_with_zero() -> None:
    # The scaling demo's E: 8.95e-73 in [6.9e-129, 4.34e-06] with losses down to 0.927.
    zero = floor_zero_below(0.927)
    read = reading(8.95e-73, (6.9e-129, 4.34e-6), zero)
    assert read == {"value": CONSISTENT_WITH_ZERO, "interval": [CONSISTENT_WITH_ZERO] * 2}
    assert format_value(8.95e-73, (6.9e-129, 4.34e-6), read) == "consistent with 0 [0, 4.34e-06]"
    # a resolved floor whose interval reaches 0
    read = reading(0.105, (2.1e-49, 0.95), zero)
    assert read["value"] == RESOLVED
    assert format_value(0.105, (2.1e-49, 0.95), read, digits=3) == "0.105 [0, 0.95]"
    assert format_value(0.6, (0.55, 0.65), reading(0.6, (0.55, 0.65), zero)) == "0.6 [0.55, 0.65]"


def test_an_interval_at_the_search_limit_reads_unbounded() -> None:
    # The scaling demo's R*: 14 in [2.68, 9999.95], searched up to 1e4.
    read = reading(14.04, (2.677, 9999.95), upper_limit=R_STAR_RANGE[1])
    assert read == {"value": RESOLVED, "interval": [RESOLVED, UNBOUNDED]}
    assert format_value(14.04, (2.677, 9999.95), read, 3) == "14 [2.68, unbounded]"
    assert reading(1e4, None, upper_limit=1e4) == {"value": UNBOUNDED, "interval": None}


def test_no_interval_and_nan_intervals_print_the_value_alone() -> None:
    assert format_value(0.25, None) == "0.25"
    nan = (math.nan, math.nan)
    assert format_value(0.25, nan, reading(0.25, nan)) == "0.25"


def test_the_comparison_table_prints_floors_as_they_read() -> None:
    row = GroupFit(
        {"feature_set": "full21"},
        "parametric",
        53,
        8.95e-73,
        (6.9e-129, 4.34e-6),
        0.285,
        (0.199, 0.346),
        0.234,
        (0.199, 0.271),
        lowest_loss=0.927,
        lowest_loss_at=(1.35e5, 1.5e4),
        floor_reading=reading(8.95e-73, (6.9e-129, 4.34e-6), floor_zero_below(0.927)),
    )
    assert "| consistent with 0 [0, 4.34e-06] | 0.285 [0.199, 0.346] |" in markdown([row])
