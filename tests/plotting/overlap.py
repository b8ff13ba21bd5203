"""Checks that a drawn matplotlib figure has no overlapping text and no legend over data.

:func:`text_boxes` draws the figure and records the window extent of every text
artist that is actually drawn (legend boxes as a whole, axis labels, tick labels,
titles, the experiment label, annotations, colour-bar labels). :func:`overlaps`
lists the pairs whose boxes intersect and :func:`outside` the boxes not wholly
on the canvas; tick labels that matplotlib places itself (its own locator, not
ticks set by hand) are not compared with each other, every other pair is.
:func:`data_under_legends` lists the data artists drawn inside a legend's box.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from unittest import mock

import numpy as np
from matplotlib.figure import Figure
from matplotlib.legend import Legend
from matplotlib.path import Path as MplPath
from matplotlib.text import Text
from matplotlib.ticker import FixedFormatter, FixedLocator, NullLocator
from matplotlib.transforms import Bbox

#: Pixels two boxes may share (anti-aliasing, rounding) before they count as overlapping.
TOLERANCE = 1.0


@dataclasses.dataclass(frozen=True)
class Box:
    kind: str  # "legend", "tick", "text"
    text: str
    box: Bbox  # axis-aligned window extent
    placed_by_matplotlib: bool = False  # a tick label from matplotlib's own locator
    corners: np.ndarray | None = None  # (4, 2) of a rotated text: its own rectangle

    @property
    def polygon(self) -> np.ndarray:
        if self.corners is not None:
            return self.corners
        b = self.box
        return np.array([[b.x0, b.y0], [b.x1, b.y0], [b.x1, b.y1], [b.x0, b.y1]])


def text_boxes(fig: Figure) -> list[Box]:
    """Draw ``fig`` and return the boxes of every text drawn, legends as one box each."""
    drawn: list[Text] = []
    draw = Text.draw

    def recording_draw(self: Text, renderer: object) -> None:
        draw(self, renderer)
        if self.get_visible() and self.get_text().strip():
            drawn.append(self)

    with mock.patch.object(Text, "draw", recording_draw):
        fig.canvas.draw()
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    legends = [a.get_legend() for a in fig.axes if a.get_legend() is not None] + list(fig.legends)
    in_legend = {id(t) for leg in legends for t in [*leg.get_texts(), leg.get_title()]}
    ticks = dict(_tick_labels(fig))
    boxes = [Box("legend", _legend_text(leg), leg.get_window_extent(renderer)) for leg in legends]
    for text in drawn:
        if id(text) in in_legend:
            continue
        extent = text.get_window_extent(renderer)
        corners = _rotated_corners(text, extent, renderer)
        kind = "tick" if id(text) in ticks else "text"
        boxes.append(Box(kind, text.get_text(), extent, ticks.get(id(text), False), corners))
    return boxes


def _rotated_corners(text: Text, extent: Bbox, renderer: object) -> np.ndarray | None:
    """The rectangle of a rotated text (its window extent is the box around that rectangle,
    with the same centre), or None for an unrotated one."""
    angle = np.deg2rad(text.get_rotation())
    if np.isclose(np.sin(angle), 0.0) or np.isclose(np.cos(angle), 0.0):
        return None
    rotation = text.get_rotation()
    text.set_rotation(0)
    flat = text.get_window_extent(renderer)
    text.set_rotation(rotation)
    half = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]]) * [flat.width / 2, flat.height / 2]
    turn = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    return np.asarray(half @ turn.T + [(extent.x0 + extent.x1) / 2, (extent.y0 + extent.y1) / 2])


def _legend_text(legend: Legend) -> str:
    return " | ".join(t.get_text() for t in [legend.get_title(), *legend.get_texts()])


def _tick_labels(fig: Figure) -> Iterator[tuple[int, bool]]:
    """(id of a tick label, whether matplotlib placed it) of every axis."""
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            for ticks, locator, formatter in (
                (axis.get_major_ticks(), axis.get_major_locator(), axis.get_major_formatter()),
                (axis.get_minor_ticks(), axis.get_minor_locator(), axis.get_minor_formatter()),
            ):
                # Ticks set by hand (set_xticks) have a FixedLocator.
                auto = not isinstance(locator, FixedLocator | NullLocator) and not isinstance(
                    formatter, FixedFormatter
                )
                for tick in ticks:
                    for label in (tick.label1, tick.label2):
                        yield id(label), auto


def _intersect(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two convex polygons (N, 2) overlap by more than TOLERANCE (separating axes)."""
    for polygon in (a, b):
        edges = np.roll(polygon, -1, axis=0) - polygon
        normals = np.stack([-edges[:, 1], edges[:, 0]], axis=1)
        normals /= np.linalg.norm(normals, axis=1, keepdims=True)
        for normal in normals:
            pa, pb = a @ normal, b @ normal
            if min(pa.max(), pb.max()) - max(pa.min(), pb.min()) <= TOLERANCE:
                return False  # a gap (or a touch) along this axis
    return True


def overlaps(boxes: list[Box]) -> list[tuple[str, str]]:
    """Pairs of overlapping boxes, as readable strings."""
    found = []
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            if a.placed_by_matplotlib and b.placed_by_matplotlib:
                continue  # matplotlib's own tick labels among themselves
            if _intersect(a.polygon, b.polygon):
                found.append((f"{a.kind} {a.text!r}", f"{b.kind} {b.text!r}"))
    return found


def outside(fig: Figure, boxes: list[Box]) -> list[str]:
    """Boxes not wholly on the canvas."""
    canvas = fig.bbox
    return [
        f"{b.kind} {b.text!r} at {np.round(b.box.extents).tolist()} on a canvas of {canvas.extents.tolist()}"
        for b in boxes
        if b.box.x0 < canvas.x0 - TOLERANCE
        or b.box.y0 < canvas.y0 - TOLERANCE
        or b.box.x1 > canvas.x1 + TOLERANCE
        or b.box.y1 > canvas.y1 + TOLERANCE
    ]


def data_under_legends(fig: Figure) -> list[str]:
    """Data artists (lines, step histograms, error bars, markers) drawn inside a legend box.

    Each path is sampled every pixel or so within its axes; a reference line
    spanning the axes counts like any curve.
    """
    found = []
    for ax in fig.axes:
        legend = ax.get_legend()
        if legend is None:
            continue
        box = legend.get_window_extent()
        frame = ax.get_window_extent()
        for artist in [*ax.lines, *ax.patches, *ax.collections]:
            if not artist.get_visible():
                continue
            paths = artist.get_paths() if hasattr(artist, "get_paths") else [artist.get_path()]
            transform = artist.get_transform()
            if (
                hasattr(artist, "get_offsets")
                and len(artist.get_offsets())
                and not hasattr(artist, "get_segments")
            ):  # scatter: the markers sit at the offsets
                points = artist.get_offset_transform().transform(artist.get_offsets())
            else:
                points = np.concatenate(
                    [_sample(transform.transform_path(p)) for p in paths] or [np.zeros((0, 2))]
                )
            hits = _inside(points, box) & _inside(points, frame)
            if hits.any():
                found.append(
                    f"{type(artist).__name__} {artist.get_label()!r} under {_legend_text(legend)!r}"
                )
    return found


def _inside(points: np.ndarray, box: Bbox) -> np.ndarray:
    x, y = points[:, 0], points[:, 1]
    return np.asarray(
        (x > box.x0 + TOLERANCE) & (x < box.x1 - TOLERANCE)
        & (y > box.y0 + TOLERANCE) & (y < box.y1 - TOLERANCE)
    )  # fmt: skip


def _sample(path: MplPath) -> np.ndarray:
    """Points along the straight segments of ``path`` (display units), about 1 px apart."""
    out = []
    for polyline in path.to_polygons(closed_only=False):
        finite = np.isfinite(polyline).all(axis=1)
        for a, b, ok in zip(polyline[:-1], polyline[1:], finite[:-1] & finite[1:], strict=True):
            if ok:
                n = int(min(np.hypot(*(b - a)), 10_000)) + 2
                out.append(a + np.linspace(0.0, 1.0, n)[:, None] * (b - a))
        out.append(polyline[finite])
    return np.concatenate(out) if out else np.zeros((0, 2))
