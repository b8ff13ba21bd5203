"""Checkpoints that describe themselves, written atomically, loaded without unpickling code."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from jetscale.io.atomic import atomic_path

LAST_NAME = "last.pt"  # the newest checkpoint of a run
BEST_NAME = "best.pt"  # the checkpoint with the lowest validation loss
#: Longest value shown in full by :func:`config_changes` (a long file list is cut).
SHOWN_CHARS = 80
_ABSENT = object()  # a field one of two configurations lacks


class CheckpointError(ValueError):
    """A checkpoint is missing, corrupt, or belongs to another configuration."""


def save_checkpoint(path: str | os.PathLike[str], state: dict[str, Any]) -> Path:
    """``torch.save`` to a temporary file, fsync, then rename: a kill never leaves half a file."""
    final = Path(path)
    with atomic_path(final) as tmp, tmp.open("wb") as handle:
        torch.save(state, handle)
        handle.flush()
        os.fsync(handle.fileno())
    return final


def load_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Load with ``weights_only=True``: tensors and plain containers only, never arbitrary objects."""
    path = Path(path)
    if not path.exists():
        msg = f"{path}: checkpoint does not exist"
        raise CheckpointError(msg)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        msg = f"{path}: corrupt or unreadable checkpoint ({type(err).__name__}: {err})"
        raise CheckpointError(msg) from err
    for key in ("model_config", "model_state", "step"):
        if not isinstance(state, dict) or key not in state:
            msg = f"{path}: not a jetscale checkpoint (missing {key!r})"
            raise CheckpointError(msg)
    return state


def config_changes(
    before: Mapping[str, Any], now: Mapping[str, Any], prefix: str = ""
) -> list[str]:
    """``"field: old -> new"`` for every field that differs, nested mappings by dotted name.

    Such as ``["epochs: 1 -> 3", "model.d_model: 16 -> 32"]``, sorted by field; a
    field only one side has shows ``(absent)`` on the other.
    """
    changes = []
    for key in sorted(before.keys() | now.keys()):
        old, new = before.get(key, _ABSENT), now.get(key, _ABSENT)
        if isinstance(old, Mapping) and isinstance(new, Mapping):
            changes += config_changes(old, new, f"{prefix}{key}.")
        elif old != new:
            changes.append(f"{prefix}{key}: {_shown(old)} -> {_shown(new)}")
    return changes


def _shown(value: Any) -> str:
    text = "(absent)" if value is _ABSENT else repr(value)
    return text if len(text) <= SHOWN_CHARS else f"{text[: SHOWN_CHARS - 3]}..."
