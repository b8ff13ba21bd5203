"""What changed between two configurations, as the errors on resume name it."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")

from jetscale.train.checkpoint import SHOWN_CHARS, config_changes


def test_changes_name_nested_fields_with_old_and_new_values() -> None:
    before = {"epochs": 1, "model": {"d_model": 16, "n_layers": 1}, "task": "jetclass"}
    now = {"epochs": 3, "model": {"d_model": 32, "n_layers": 1}, "seed": 2, "task": "jetclass"}
    assert config_changes(before, now) == [
        "epochs: 1 -> 3",
        "model.d_model: 16 -> 32",
        "seed: (absent) -> 2",
    ]
    assert config_changes(now, now) == []
    assert config_changes({"lr": 0.1}, {"lr": 0.2}, "run.") == ["run.lr: 0.1 -> 0.2"]


def test_long_values_are_cut() -> None:
    files = [f"/data/jetclass/train_{i:03d}.root" for i in range(100)]
    (change,) = config_changes({"data": files}, {"data": files[:1]})
    old = change.removeprefix("data: ").split(" -> ")[0]
    assert len(old) == SHOWN_CHARS and old.endswith("...")
    assert change.endswith("-> ['/data/jetclass/train_000.root']")
