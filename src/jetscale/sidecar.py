"""The ``preprocess.json`` sidecar of an ONNX tagger: written and read here, both flavours.

A sidecar says what each ONNX input holds, in weaver-core's layout:
``input_names``, ``output_names`` and, per input, ``var_names`` (column order),
``var_length`` (particle slots) and ``var_infos`` with ``median``,
``norm_factor``, ``lower_bound``, ``upper_bound``, ``pad`` and
``replace_inf_value``, meaning x' = clip((x - median) * norm_factor, lower, upper);
weaver writes +-1e32 for "no clipping". The tensor of each input is ``(N, C, P)``.

* **jetscale's flavour** (:func:`preprocess_json`, generated from the feature
  registry, never by hand) has the inputs ``pf_features`` and ``pf_mask`` and the
  output ``softmax``; extra keys (formulas, classes, pad mode) sit under
  ``"jetscale"`` and are ignored by weaver tools. An export with
  ``--with-embedding`` has a second output, ``embedding`` (N, D): it is listed in
  ``output_names`` after ``softmax`` and described under ``"jetscale"``, key
  ``"embedding"`` (output name, layout, dimension D).
* **weaver-core's flavour** (``weaver --export-onnx``) may have any inputs
  (``pf_points``, ``pf_features``, ``pf_vectors``, ``pf_mask``) and writes the
  class labels as ``output_names`` (``["label_QCD", ...]``).

:func:`read_model_inputs` understands both: each variable becomes a
:class:`~jetscale.features.FeatureSpec` whose formula comes from jetscale's
registry by name (ParT/JetClass names such as ``part_pt_log`` or ``part_px``) and
whose constants come from the sidecar, so a model runs with exactly the
standardization it was trained with.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from jetscale._version import __version__
from jetscale.features.builder import PadMode
from jetscale.features.registry import FEATURES, FeatureSpec, required_fields
from jetscale.features.registry import feature_set as feature_set_specs
from jetscale.schema import CLASS_NAMES
from jetscale.task import Task, task_from_json

#: weaver's value for an unclipped bound.
WEAVER_NO_CLIP = 1e32

#: The file name of the sidecar, beside the ONNX model.
SIDECAR_NAME = "preprocess.json"
FEATURES_INPUT = "pf_features"  # (N, C, P) float32, weaver's layout
MASK_INPUT = "pf_mask"  # (N, 1, P) float32, 1 for real constituents
OUTPUT = "softmax"  # (N, n_classes) class probabilities
EMBEDDING_OUTPUT = "embedding"  # (N, D) the jet embedding, in exports with --with-embedding
#: What the embedding output holds, for readers of the sidecar.
EMBEDDING_SOURCE = (
    "the input of the classification head (the model's last linear layer): the class "
    "token after the final LayerNorm (Transformer), the pooled latent after rho's hidden "
    "layers (PFN)"
)
#: What jetscale writes about the tensors of its own exports.
LAYOUT = {FEATURES_INPUT: "(N, C, P)", MASK_INPUT: "(N, 1, P)", OUTPUT: "(N, n_classes)"}
ORDERING = "constituents by descending pT, first var_length kept"
Flavour = Literal["jetscale", "weaver"]


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
    #: How padded slots are filled in training; weaver-core's sidecar does not say (see OnnxTagger).
    pad_mode: PadMode = "constant"
    #: Width D of the graph's ``embedding`` output; None: the model has no such output.
    embedding_dim: int | None = None
    #: The label branches of each class (jetscale.task); None: the sidecar names classes only.
    task: Task | None = None

    @property
    def specs(self) -> tuple[FeatureSpec, ...]:
        """All variables of all inputs, concatenated in input order (one kernel fills them)."""
        return tuple(spec for model_input in self.inputs for spec in model_input.variables)

    @property
    def length(self) -> int:
        """Particle slots of every input (the sidecar's ``var_length``)."""
        return self.inputs[0].length

    def required_constituent_fields(self) -> dict[str, list[str]]:
        """Constituent field -> the model variables that read it."""
        needed: dict[str, list[str]] = {}
        for spec in self.specs:
            for field in required_fields([spec])[0]:
                needed.setdefault(field, []).append(spec.name)
        return needed


def registry_inputs(
    feature_set: str,
    max_particles: int,
    n_classes: int = len(CLASS_NAMES),
    *,
    embedding_dim: int | None = None,
    task: Task | None = None,
) -> ModelInputs:
    """The inputs of a jetscale model: ``feature_set`` and the mask, registry constants.

    ``embedding_dim``: the width of the model's ``embedding`` output, if it has one.
    ``task``: the classes it was trained on (default: the first ``n_classes`` of JetClass's).
    """
    if task is not None and len(task.classes) != n_classes:
        msg = f"task {task.spec!r} has {len(task.classes)} classes, the model {n_classes}"
        raise ValueError(msg)
    return ModelInputs(
        source=f"feature set {feature_set!r}",
        inputs=(
            ModelInput(FEATURES_INPUT, feature_set_specs(feature_set), max_particles),
            ModelInput(MASK_INPUT, (FEATURES["part_mask"],), max_particles),
        ),
        class_names=task.names if task is not None else tuple(CLASS_NAMES[:n_classes]),
        feature_set=feature_set,
        embedding_dim=embedding_dim,
        task=task,
    )


def preprocess_json(
    feature_set: str,
    max_particles: int,
    n_classes: int = len(CLASS_NAMES),
    *,
    embedding_dim: int | None = None,
    task: Task | None = None,
) -> dict[str, Any]:
    """The sidecar dictionary of a jetscale model on ``feature_set`` with ``max_particles`` slots.

    ``task`` (the classes and their label branches) is recorded under ``"jetscale"``.

    ``embedding_dim`` (D) records the second output ``embedding`` (N, D) of an
    export with embedding; None (the default) writes the sidecar of a plain export.
    """
    inputs = registry_inputs(
        feature_set, max_particles, n_classes, embedding_dim=embedding_dim, task=task
    )
    return to_preprocess_json(inputs, "jetscale")


def to_preprocess_json(inputs: ModelInputs, flavour: Flavour = "jetscale") -> dict[str, Any]:
    """The ``preprocess.json`` dictionary of ``inputs`` in jetscale's or weaver-core's flavour.

    Both list every input with its variables' constants. jetscale's names the ONNX
    output (``softmax``) in ``output_names`` and adds the ``"jetscale"`` block
    (formulas, classes, pad mode); weaver's writes the class labels there
    (``label_<class>``), as ``weaver --export-onnx`` does. Reading the result with
    :func:`parse_model_inputs` gives ``inputs`` back. A model with an embedding
    output (``inputs.embedding_dim``) lists it after ``softmax`` in jetscale's
    flavour and describes it under ``"jetscale"``, key ``"embedding"``; weaver's
    flavour has no place for it (its ``output_names`` are the class labels).
    """
    if flavour not in ("jetscale", "weaver"):
        msg = f"unknown sidecar flavour {flavour!r}; choose 'jetscale' or 'weaver'"
        raise ValueError(msg)
    classes = list(inputs.class_names or ())
    if flavour == "weaver":
        if not classes:
            msg = f"{inputs.source}: weaver's sidecar lists the classes, and none are known"
            raise ValueError(msg)
        outputs = [f"label_{name}" for name in classes]
    else:
        outputs = [OUTPUT] if inputs.embedding_dim is None else [OUTPUT, EMBEDDING_OUTPUT]
    data: dict[str, Any] = {
        "input_names": [model_input.name for model_input in inputs.inputs],
        "output_names": outputs,
    }
    for model_input in inputs.inputs:
        data[model_input.name] = {
            "var_names": [spec.name for spec in model_input.variables],
            "var_infos": {spec.name: _var_info(spec) for spec in model_input.variables},
            "var_length": model_input.length,
        }
    if flavour == "jetscale":
        data["jetscale"] = {
            "version": __version__,
            "feature_set": inputs.feature_set,
            "formulas": {
                spec.name: spec.formula for spec in inputs.specs if spec.name != "part_mask"
            },
            "class_names": classes,
            **({"task": inputs.task.to_json()} if inputs.task is not None else {}),
            "pad_mode": inputs.pad_mode,
            "layout": LAYOUT,
            "ordering": ORDERING,
        }
        if inputs.embedding_dim is not None:
            data["jetscale"]["layout"] = {**LAYOUT, EMBEDDING_OUTPUT: "(N, D)"}
            data["jetscale"]["embedding"] = {
                "output": EMBEDDING_OUTPUT,
                "layout": "(N, D)",
                "dim": inputs.embedding_dim,
                "source": EMBEDDING_SOURCE,
            }
    return data


def _var_info(spec: FeatureSpec) -> dict[str, float]:
    """weaver's entry of one variable: x' = clip((x - median) * norm_factor, lower, upper)."""
    return {
        "median": spec.center,
        "norm_factor": spec.scale,
        "replace_inf_value": 0.0,
        "lower_bound": _weaver_bound(spec.lower),
        "upper_bound": _weaver_bound(spec.upper),
        "pad": spec.pad_value,
    }


def _weaver_bound(value: float) -> float:
    """An infinite clip bound as weaver writes it (+-1e32)."""
    return value if math.isfinite(value) else math.copysign(WEAVER_NO_CLIP, value)


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
    raw_pad_mode = extra.get("pad_mode", "constant") if isinstance(extra, Mapping) else "constant"
    if raw_pad_mode not in ("constant", "wrap"):
        msg = f"{source}: 'jetscale.pad_mode' must be 'constant' or 'wrap', got {raw_pad_mode!r}"
        raise SidecarError(msg)
    pad_mode: PadMode = "wrap" if raw_pad_mode == "wrap" else "constant"
    return ModelInputs(
        source=source,
        inputs=inputs,
        class_names=tuple(class_names) if class_names else None,
        feature_set=feature_set,
        pad_mode=pad_mode,
        embedding_dim=_embedding_dim(extra, source),
        task=_task(extra, class_names, source),
    )


def _task(extra: Any, class_names: Any, source: str) -> Task | None:
    """The ``"jetscale"`` block's ``"task"``, checked against its class names; None if absent."""
    entry = extra.get("task") if isinstance(extra, Mapping) else None
    if entry is None:
        return None
    try:
        task = task_from_json(entry, f"{source}: 'jetscale.task'")
    except ValueError as err:
        raise SidecarError(str(err)) from None
    if class_names is not None and task.names != tuple(class_names):
        msg = f"{source}: 'jetscale.task' classes {list(task.names)} differ from 'class_names' {list(class_names)}"
        raise SidecarError(msg)
    return task


def _embedding_dim(extra: Any, source: str) -> int | None:
    """D of the ``"jetscale"`` block's ``"embedding"`` entry; None when there is none."""
    entry = extra.get("embedding") if isinstance(extra, Mapping) else None
    if entry is None:
        return None
    dim = entry.get("dim") if isinstance(entry, Mapping) else None
    if not isinstance(dim, int) or isinstance(dim, bool) or dim < 1:
        msg = f"{source}: 'jetscale.embedding.dim' must be a positive integer, got {dim!r}"
        raise SidecarError(msg)
    return dim


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
                lower=_read_bound(float(info.get("lower_bound", -WEAVER_NO_CLIP))),
                upper=_read_bound(float(info.get("upper_bound", WEAVER_NO_CLIP))),
                pad_value=float(info.get("pad", 0.0)),
            )
        except (TypeError, ValueError) as err:
            msg = f"{where}: var_infos[{var!r}] has a non-numeric value ({err})"
            raise SidecarError(msg) from None
        specs.append(spec)
    return ModelInput(name=name, variables=tuple(specs), length=length)


def _read_bound(value: float) -> float:
    """weaver's +-1e32 means unclipped: map it to +-inf so the kernel skips the clip."""
    return math.copysign(math.inf, value) if abs(value) >= WEAVER_NO_CLIP else value
