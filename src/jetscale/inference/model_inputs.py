"""What an ONNX tagger expects as input, read from its ``preprocess.json`` sidecar.

Both jetscale's sidecars and weaver-core's ``preprocess.json`` list the model
inputs (``input_names``) and, per input, its variables in column order with
``median``, ``norm_factor``, ``lower_bound``, ``upper_bound`` and ``pad`` and
the number of slots ``var_length``; the tensor of each input is ``(N, C, P)``.
Each variable becomes a :class:`~jetscale.features.FeatureSpec` whose formula
comes from jetscale's registry by name (ParT/JetClass names such as
``part_pt_log`` or ``part_px``) and whose constants come from the sidecar, so a
weaver model runs with exactly the standardization it was trained with.

weaver writes the class labels as ``output_names`` (``["label_QCD", ...]``);
jetscale writes the ONNX output name there and the classes under
``jetscale.class_names``. Both are understood.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jetscale.features.registry import FEATURES, FeatureSpec, required_fields

_WEAVER_NO_CLIP = 1e32  # weaver writes +-1e32 for "no clipping"


class SidecarError(ValueError):
    """A ``preprocess.json`` that cannot drive inference; the message names file and key."""


@dataclasses.dataclass(frozen=True)
class ModelInput:
    """One ONNX input: its variables (column order) and its number of particle slots."""

    name: str
    variables: tuple[FeatureSpec, ...]
    length: int


@dataclasses.dataclass(frozen=True)
class ModelInputs:
    """Everything inference needs from a sidecar (picklable, no file handles)."""

    source: str
    inputs: tuple[ModelInput, ...]
    class_names: tuple[str, ...] | None  # None: the sidecar does not name the classes
    feature_set: str | None  # jetscale sidecars only

    @property
    def specs(self) -> tuple[FeatureSpec, ...]:
        """All variables of all inputs, concatenated in input order (one kernel fills them)."""
        return tuple(spec for model_input in self.inputs for spec in model_input.variables)

    @property
    def length(self) -> int:
        return self.inputs[0].length

    def required_constituent_fields(self) -> dict[str, list[str]]:
        """Constituent field -> the model variables that read it."""
        needed: dict[str, list[str]] = {}
        for spec in self.specs:
            for field in required_fields([spec])[0]:
                needed.setdefault(field, []).append(spec.name)
        return needed


def read_model_inputs(path: str | Path) -> ModelInputs:
    """Parse a ``preprocess.json``; raises :class:`SidecarError` naming the file and key."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        msg = (
            f"{path}: no preprocess.json sidecar (pass it explicitly, or put it beside model.onnx)"
        )
        raise SidecarError(msg) from None
    except (OSError, json.JSONDecodeError) as err:
        msg = f"{path}: cannot read the sidecar as JSON ({err})"
        raise SidecarError(msg) from None
    return parse_model_inputs(data, str(path))


def parse_model_inputs(data: Mapping[str, Any], source: str) -> ModelInputs:
    """:func:`read_model_inputs` on an already loaded dictionary."""
    names = _require(data, "input_names", source)
    if not isinstance(names, list) or not names:
        msg = f"{source}: 'input_names' must be a non-empty list, got {names!r}"
        raise SidecarError(msg)
    inputs = tuple(_model_input(name, _require(data, name, source), source) for name in names)
    lengths = {model_input.length for model_input in inputs}
    if len(lengths) != 1:
        msg = f"{source}: inputs have different var_length {sorted(lengths)}; jetscale needs one particle axis"
        raise SidecarError(msg)
    extra = data.get("jetscale", {})
    class_names = extra.get("class_names") if isinstance(extra, Mapping) else None
    if class_names is None:
        outputs = data.get("output_names", [])
        if isinstance(outputs, list) and len(outputs) > 1:  # weaver: the label list
            class_names = [str(o).removeprefix("label_") for o in outputs]
    feature_set = extra.get("feature_set") if isinstance(extra, Mapping) else None
    return ModelInputs(
        source=source,
        inputs=inputs,
        class_names=tuple(class_names) if class_names else None,
        feature_set=feature_set,
    )


def _require(data: Mapping[str, Any], key: str, source: str) -> Any:
    if key not in data:
        msg = f"{source}: missing key {key!r}"
        raise SidecarError(msg)
    return data[key]


def _model_input(name: str, entry: Any, source: str) -> ModelInput:
    where = f"{source}: input {name!r}"
    if not isinstance(entry, Mapping):
        msg = f"{where} must be an object with var_names/var_infos/var_length"
        raise SidecarError(msg)
    var_names = _require(entry, "var_names", where)
    var_infos = _require(entry, "var_infos", where)
    # Newer CMSSW-style sidecars give min_length/max_length instead of var_length.
    length = entry.get("var_length", entry.get("max_length"))
    if not isinstance(length, int) or length < 1:
        msg = f"{where}: 'var_length' must be a positive integer, got {length!r}"
        raise SidecarError(msg)
    unknown = [v for v in var_names if v not in FEATURES]
    if unknown:
        msg = (
            f"{where}: no jetscale formula for variable(s) {', '.join(unknown)}; "
            f"known variables: {', '.join(FEATURES)}"
        )
        raise SidecarError(msg)
    specs = []
    for var in var_names:
        info = var_infos.get(var)
        if not isinstance(info, Mapping):
            msg = f"{where}: var_infos has no entry for {var!r}"
            raise SidecarError(msg)
        try:
            spec = dataclasses.replace(
                FEATURES[var],
                center=float(info.get("median", 0.0)),
                scale=float(info.get("norm_factor", 1.0)),
                lower=_bound(float(info.get("lower_bound", -_WEAVER_NO_CLIP))),
                upper=_bound(float(info.get("upper_bound", _WEAVER_NO_CLIP))),
                pad_value=float(info.get("pad", 0.0)),
            )
        except (TypeError, ValueError) as err:
            msg = f"{where}: var_infos[{var!r}] has a non-numeric value ({err})"
            raise SidecarError(msg) from None
        specs.append(spec)
    return ModelInput(name=name, variables=tuple(specs), length=length)


def _bound(value: float) -> float:
    """weaver's +-1e32 means unclipped: map it to +-inf so the kernel skips the clip."""
    return math.copysign(math.inf, value) if abs(value) >= _WEAVER_NO_CLIP else value
