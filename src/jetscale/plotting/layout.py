"""Legends clear of the data: the y range grows until the legend sits above every curve.

A legend box has a fixed size in display units, so its position in the axes
does not depend on the y limits. :func:`place_legend` measures it, finds the
highest point of the data (lines, step histograms, error bars, markers, texts)
under the legend's horizontal extent and raises the top of the y axis until that
point ends below the legend. Of the candidate corners it keeps the one that
needs the least headroom; a legend that would squeeze the data into the lower
half of the axes goes to the right of them instead.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.collections import PathCollection
from matplotlib.legend import Legend
from matplotlib.path import Path as MplPath
from matplotlib.text import Text
from matplotlib.transforms import Bbox

#: Legend font sizes, largest first: a legend wider than its axes steps down this list.
FONT_SIZES = ("medium", "small", "x-small", "xx-small")
#: Space between the top of the data and the legend, as a fraction of the axes height.
GAP = 0.03
#: The highest data point must reach this share of the axes height with the legend
#: inside; else the legend goes beside the axes (inside, it would squeeze the data into
#: a strip, and on a log axis add decades above a fraction).
MIN_DATA_SHARE = 0.5


def place_legend(
    ax: Axes,
    *,
    log_y: bool,
    locs: Sequence[str] = ("upper right", "upper left"),
    **kwargs: Any,
) -> Legend:
    """A legend at the corner of ``locs`` that needs the least headroom, above all data.

    ``kwargs`` go to :meth:`Axes.legend`. The bottom of the y axis stays; its top
    grows (on a log axis in decades), never shrinks. Call it after the data and the
    x limits are final.
    """
    bottom = ax.get_ylim()[0]
    fig = ax.get_figure(root=True)
    # A legend wider than the axes gets smaller text, down to the last of FONT_SIZES.
    sizes = FONT_SIZES[FONT_SIZES.index(kwargs.pop("fontsize", "small")) :]
    for size in sizes:
        legend = ax.legend(loc="upper right", fontsize=size, **kwargs)
        legend.set_in_layout(False)  # inside the axes: no room to make for it
        fig.draw_without_rendering()  # type: ignore[union-attr]
        right = legend.get_window_extent()
        if right.width <= 0.96 * ax.get_window_extent().width:
            break
    kwargs["fontsize"] = size
    shapes = list(_polylines(ax))
    top_of_data = max(_data_top(ax, shapes, bottom, log_y), ax.get_ylim()[1])
    share = 1.0 - right.transformed(ax.transAxes.inverted()).y0 + GAP
    # The legend has the same size in every corner: the left one mirrors the right one.
    frame = ax.get_window_extent()
    left = Bbox.from_extents(
        frame.x0 + frame.x1 - right.x1, right.y0, frame.x0 + frame.x1 - right.x0, right.y1
    )
    # Texts fixed in the axes (an experiment label inside them) do not move with the
    # data: the data stays below them, and a corner whose legend would cover one is out.
    fixed = [t.get_window_extent() for t in ax.texts if _fixed_in_axes(ax, t)]
    for box in fixed:
        below = (box.y0 - frame.y0) / frame.height - GAP
        highest = _highest_under(ax, shapes, box)
        if 0 < below < 1 and highest is not None:
            top_of_data = max(top_of_data, _top_for(bottom, highest, below, log_y))
    tops = {}
    for loc, box in (("upper right", right), ("upper left", left)):
        if loc in locs and not any(box.overlaps(f) for f in fixed):
            highest = _highest_under(ax, shapes, box)
            top = top_of_data
            if highest is not None:
                top = max(top, _top_for(bottom, highest, max(1.0 - share, 0.01), log_y))
            tops[loc] = top
    loc = min(tops, key=lambda k: tops[k]) if tops else ""
    highest = _highest_under(ax, shapes, None)
    too_wide = right.width > 0.96 * frame.width
    if (
        not tops
        or too_wide
        or (
            highest is not None
            and _height_share(bottom, highest, tops[loc], log_y) < MIN_DATA_SHARE
        )
    ):  # beside the axes, never over the data
        ax.set_ylim(bottom, top_of_data)
        return legend_beside(ax, **kwargs)
    legend = ax.legend(**{**kwargs, "loc": loc})
    legend.set_in_layout(False)
    ax.set_ylim(bottom, tops[loc])
    return legend


def legend_beside(
    ax: Axes,
    handles: Sequence[Any] | None = None,
    labels: Sequence[str] | None = None,
    **kwargs: Any,
) -> Legend:
    """The legend right of the axes, the figure widened by its width so the axes keep theirs.

    ``handles`` and ``labels`` (default: every labelled artist) and ``kwargs`` (font
    sizes, title) go to :meth:`Axes.legend`.
    """
    fig = ax.get_figure(root=True)
    if handles is None or labels is None:
        handles, labels = ax.get_legend_handles_labels()
    legend = ax.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.02, 1.0), **kwargs)
    legend.set_in_layout(False)  # measured first: in the layout it could squeeze the axes away
    fig.draw_without_rendering()  # type: ignore[union-attr]
    width, height = fig.get_size_inches()  # type: ignore[union-attr]
    fig.set_size_inches(width + legend.get_window_extent().width / fig.dpi + 0.3, height)  # type: ignore[union-attr]
    legend.set_in_layout(True)
    return legend


def _top_for(bottom: float, value: float, fraction: float, log_y: bool) -> float:
    """The axis top that puts ``value`` at ``fraction`` of the height above ``bottom``."""
    if value <= bottom:
        return bottom + 1e-12
    if log_y:
        return float(bottom * (value / bottom) ** (1.0 / fraction))
    return bottom + (value - bottom) / fraction


def _height_share(bottom: float, value: float, top: float, log_y: bool) -> float:
    """Where ``value`` sits between ``bottom`` (0) and ``top`` (1) of the axis."""
    if not value > bottom:
        return 0.0
    if log_y:
        return float(np.log(value / bottom) / np.log(top / bottom))
    return (value - bottom) / (top - bottom)


def _data_top(ax: Axes, shapes: list[np.ndarray], bottom: float, log_y: bool) -> float:
    """A top with a little room above the highest data point anywhere (5% of the height)."""
    highest = _highest_under(ax, shapes, None)
    if highest is None or not highest > bottom:
        return float(ax.get_ylim()[1])
    return _top_for(bottom, highest, 0.95, log_y)


def _highest_under(ax: Axes, shapes: list[np.ndarray], box: Bbox | None) -> float | None:
    """The highest data y (data units) of ``shapes`` (display) within the x extent of
    ``box`` (display), or anywhere."""
    tops = [t for xy in shapes if (t := _highest_in_span(xy, box)) is not None]
    if not tops:
        return None
    return float(ax.transData.inverted().transform((0.0, max(tops)))[1])


def _highest_in_span(xy: np.ndarray, box: Bbox | None) -> float | None:
    """Highest display y of the polyline ``xy`` (N, 2) between the box's x0 and x1."""
    if box is None:
        return float(xy[:, 1].max())
    if len(xy) == 1:
        return float(xy[0, 1]) if box.x0 <= xy[0, 0] <= box.x1 else None
    a, b = xy[:-1], xy[1:]
    inside = (np.maximum(a[:, 0], b[:, 0]) >= box.x0) & (np.minimum(a[:, 0], b[:, 0]) <= box.x1)
    if not inside.any():
        return None
    a, b = a[inside], b[inside]
    # A straight segment is highest at an end of its part within the span.
    dx = b[:, 0] - a[:, 0]
    slope = np.divide(b[:, 1] - a[:, 1], dx, out=np.zeros_like(dx), where=dx != 0)
    ends = [
        np.where(dx != 0, a[:, 1] + slope * (np.clip(x, box.x0, box.x1) - a[:, 0]), y)
        for x, y in ((a[:, 0], a[:, 1]), (b[:, 0], b[:, 1]))
    ]
    return float(np.max(ends))


def _polylines(ax: Axes) -> Iterator[np.ndarray]:
    """Every drawn data shape of ``ax`` as finite polylines in display coordinates.

    Markers count as the points they sit on, texts placed in data coordinates as
    their top edge.
    """
    for line in ax.lines:
        if line.get_visible():
            yield from _finite_pieces(line.get_transform().transform_path(line.get_path()))
    for patch in ax.patches:
        if patch.get_visible():
            yield from _finite_pieces(patch.get_transform().transform_path(patch.get_path()))
    for collection in ax.collections:
        if not collection.get_visible():
            continue
        if isinstance(collection, PathCollection):  # scatter: markers at the offsets
            points = collection.get_offset_transform().transform(collection.get_offsets())
            yield from (p[None, :] for p in points if np.isfinite(p).all())
        else:
            transform = collection.get_transform()
            for path in collection.get_paths():
                yield from _finite_pieces(transform.transform_path(path))
    for text in ax.texts:
        if text.get_visible() and text.get_text() and not _fixed_in_axes(ax, text):
            box = text.get_window_extent()
            yield np.array([[box.x0, box.y1], [box.x1, box.y1]])


def _fixed_in_axes(ax: Axes, text: Text) -> bool:
    """Whether ``text`` is placed in axes coordinates (it stays put when the limits change)."""
    transform = text.get_transform()
    return bool(transform.contains_branch(ax.transAxes)) and not transform.contains_branch(
        ax.transData
    )


def _finite_pieces(path: MplPath) -> Iterator[np.ndarray]:
    """The sub-paths of ``path`` as (N, 2) arrays, split where a sub-path starts
    (MOVETO) and at non-finite vertices (the log of 0)."""
    vertices = np.asarray(path.vertices, dtype=np.float64)
    if not len(vertices):
        return
    breaks = ~np.isfinite(vertices).all(axis=1)
    starts = np.zeros(len(vertices), dtype=bool)
    if path.codes is not None:
        starts |= path.codes == MplPath.MOVETO
        breaks |= path.codes == MplPath.CLOSEPOLY
    starts |= np.roll(breaks, 1) & (np.arange(len(vertices)) > 0)
    piece = np.cumsum(starts | breaks)
    for number in np.unique(piece[~breaks]):
        yield vertices[(piece == number) & ~breaks]
