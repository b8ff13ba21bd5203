"""The figures of ``jetscale robustness``: score shifts between views of the same hard process.

One figure per class (signal, background): the distribution of ``D(view) -
D(reference)`` for every variation, as fractions of its pairs. The nominal
re-simulation noise, the floor a variation must exceed, is the grey filled
histogram; each variation is a line. Shifts beyond the axis range are counted in
the fractions (overflow) but not drawn; the legend gives each variation's mean
shift with its standard error, its spread and its number of pairs.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

import hist
import mplhep
import numpy as np
from matplotlib.axes import Axes

from jetscale.plotting.style import (
    NO_EXPERIMENT,
    discriminant_symbol,
    draw_step,
    finish_distribution,
    new_figure,
    plot_style,
    save_figure,
)
from jetscale.transfer.robustness import NOMINAL, Sensitivity, VariationSensitivity

#: Bins on each side of the central one: the bin width is the range's half-width over this,
#: and 0 (no shift) is the centre of a bin.
BINS_PER_SIDE = 20
#: The range covers this quantile of |shift| over every variation of the figure.
RANGE_QUANTILE = 0.99


def shift_range(shifts: Sequence[np.ndarray]) -> float:
    """Half-width of the shift axis: the :data:`RANGE_QUANTILE` of |shift|, up to 1, 2 or 5 x 10^k.

    At most 1 (a discriminant in [0, 1] moves by at most 1), at least 1e-3.
    """
    if not any(len(s) for s in shifts):
        return 0.01
    values = np.abs(np.concatenate([np.asarray(s, dtype=np.float64) for s in shifts]))
    if not np.any(values > 0):
        return 0.01
    quantile = max(float(np.quantile(values, RANGE_QUANTILE)), 1e-3)
    exponent = math.floor(math.log10(quantile))
    for mantissa in (1, 2, 5, 10):
        nice = mantissa * 10.0**exponent
        if nice >= quantile * (1 - 1e-9):
            return min(nice, 1.0)
    return 1.0  # unreachable: 10 x 10^k >= any quantile of that decade


def mean_text(mean: float, error: float) -> str:
    """``+0.0123 $\\pm$ 0.0011``: the error to two significant digits, the mean to as many decimals.

    Without an error (one pair) or with a zero one (identical views), the mean to three digits.
    """
    if not (math.isfinite(error) and error > 0):
        return f"{mean:+.3g}"
    decimals = max(0, 1 - math.floor(math.log10(error)))
    return f"{mean:+.{decimals}f} $\\pm$ {error:.{decimals}f}"


def plot_score_shifts(
    result: Sensitivity,
    signal: str,
    backgrounds: Sequence[str],
    out_dir: str | os.PathLike[str],
    experiment: str = NO_EXPERIMENT,
    label: str = "",
    com: float = 13.0,
) -> list[Path]:
    """Write ``score_shift_signal`` and ``score_shift_background`` (``.png`` and ``.pdf``).

    A figure whose class has no pairs says so in place of the histograms.
    """
    style = plot_style(experiment, label, com)
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    symbol = discriminant_symbol(signal)
    written = []
    for role, title in (
        ("signal", f"{signal} jets"),
        ("background", f"{' + '.join(backgrounds)} jets"),
    ):
        variations = [v for v in result.variations if len(_shifts(v, role))]
        with new_figure(style) as (fig, ax):
            if variations:
                width = _draw(ax, variations, role)
                finish_distribution(
                    ax,
                    f"Score shift {symbol}(view) $-$ {symbol}({NOMINAL} reference)",
                    f"{title}: mean shift $\\pm$ its s.e.",
                    log_y=True,
                    ylabel=f"Fraction of pairs / {width:.2g}",
                )
            else:
                ax.text(
                    0.5, 0.5, f"no {title}: no pairs of views to compare",
                    transform=ax.transAxes, ha="center", va="center",
                )  # fmt: skip
                ax.set_xticks([])
                ax.set_yticks([])
            written += save_figure(fig, ax, out_dir, f"score_shift_{role}", style)
    return written


def _shifts(variation: VariationSensitivity, role: str) -> np.ndarray:
    return variation.signal_shifts if role == "signal" else variation.background_shifts


def _draw(ax: Axes, variations: Sequence[VariationSensitivity], role: str) -> float:
    """The nominal noise filled in grey, then each variation's line, all unit-normalised.

    Returns the bin width.
    """
    half = shift_range([_shifts(v, role) for v in variations])
    width = half / BINS_PER_SIDE
    axis = hist.axis.Regular(
        2 * BINS_PER_SIDE + 1, -half - width / 2, half + width / 2, name="shift"
    )
    index = 0
    for variation in variations:
        shifts = _shifts(variation, role)
        summary = variation.signal if role == "signal" else variation.background
        spread = f", $\\sigma$ = {summary.std:.2g}" if math.isfinite(summary.std) else ""
        text = f"{mean_text(summary.mean, summary.mean_error)}{spread}, {summary.pairs:,} pairs"
        h = hist.Hist(axis, storage=hist.storage.Weight()).fill(shift=shifts)
        if variation.variation == NOMINAL:
            total = float(h.sum(flow=True).value)
            mplhep.histplot(
                h.values() / total,
                bins=axis.edges,
                ax=ax,
                histtype="fill",
                color="0.75",
                label=f"{NOMINAL} (noise floor): {text}",
                flow="none",
            )
        else:
            draw_step(ax, h, f"{variation.variation}: {text}", index)
            index += 1
    return width
