from __future__ import annotations

import matplotlib.pyplot as plt
import pytest

from jetscale.commands.options import EXPERIMENTS as EXPERIMENT_CHOICES
from jetscale.plotting.style import (
    EXPERIMENTS,
    LABEL_GID,
    NO_EXPERIMENT,
    draw_label,
    new_figure,
    plot_style,
)


def label_texts(ax: plt.Axes) -> list[str]:
    return [a.get_text() for a in ax.get_children() if a.get_gid() == LABEL_GID]


def test_no_experiment_by_default() -> None:
    # jetscale's own plots show Pythia jets with a parametric detector: no experiment's name.
    assert plot_style() == {"experiment": NO_EXPERIMENT, "label": "", "com": 13}
    with new_figure(plot_style()) as (_, ax):
        assert label_texts(ax) == []
    with new_figure(plot_style(label="Private work")) as (_, ax):
        assert label_texts(ax) == ["Private work"]


def test_experiment_label_for_those_entitled() -> None:
    style = plot_style("cms", "Preliminary")
    with new_figure(style) as (_, ax):
        draw_label(ax, style)  # drawn again at saving: replaced, not added
        texts = label_texts(ax)
    assert sorted(texts) == ["$\\ $ (13 TeV)", "CMS", "Simulation Preliminary"]
    with pytest.raises(ValueError, match="unknown experiment 'LEP'"):
        plot_style("LEP")


def test_command_line_choices_are_the_plot_styles() -> None:
    # The commands name them without importing matplotlib.
    assert {name.lower() for name in EXPERIMENT_CHOICES} == set(EXPERIMENTS)
