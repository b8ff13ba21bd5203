"""``OnnxTagger``: an ONNX Runtime jet tagger for awkward, coffea-virtual and dask-awkward jets.

It follows coffea's ``ml_tools`` pattern (and subclasses its
``numpy_call_wrapper``): :meth:`OnnxTagger.prepare_awkward` turns jets into flat
regular arrays, :meth:`OnnxTagger.numpy_call` builds the model inputs and runs
the session. The ``onnxruntime.InferenceSession`` is created lazily, once per
worker process (cached per process and model, so coffea's per-chunk unpickling
does not rebuild it), and never pickled; the model bytes travel with the
wrapper (below :data:`EMBED_LIMIT_BYTES`) so dask workers need no shared filesystem.

Why not coffea's wrappers: ``ml_tools`` has TorchScript, Triton, XGBoost and
TensorFlow wrappers but none for ONNX Runtime, and none builds constituent
features. Inside :meth:`numpy_call` jets are sorted by constituent count and
each is padded only to the next multiple of :data:`BUCKET_STEP` slots (up to
the model's ``var_length``), batched with jets of the same padded length:
padding to 128 slots for jets with 40 constituents was most of the compute of a
set Transformer. The padded length depends on the jet alone, so scores do not
change with chunk size, batch size or executor.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import awkward as ak
import numpy as np

from jetscale.features.builder import field_or_property, prepare_columns
from jetscale.features.registry import required_fields
from jetscale.inference.coffea_base import coffea_ml_helper
from jetscale.sidecar import SIDECAR_NAME, ModelInputs, SidecarError, read_model_inputs

if TYPE_CHECKING:
    from coffea.ml_tools.helper import nonserializable_attribute, numpy_call_wrapper
else:  # the same classes, without coffea.ml_tools' torch import (see coffea_base)
    _helper = coffea_ml_helper()
    nonserializable_attribute = _helper.nonserializable_attribute
    numpy_call_wrapper = _helper.numpy_call_wrapper

#: Models up to this size are embedded in the (pickled) wrapper; larger ones are read by path.
EMBED_LIMIT_BYTES = 32 * 1024 * 1024
#: Jets are padded to the next multiple of this many slots (at most the model's var_length).
BUCKET_STEP = 16


class FeatureMismatchError(ValueError):
    """The model needs a constituent field the input cannot provide."""


class ModelFileError(ValueError):
    """A model file ONNX Runtime cannot load; the message names the file."""


def resolve_model(model: str | os.PathLike[str]) -> tuple[Path, Path]:
    """``(model.onnx, preprocess.json)`` of a shipped model name, a model file or a model directory."""
    from jetscale.shipped import SHIPPED, shipped_model

    if isinstance(model, str) and model in SHIPPED:
        path = shipped_model(model)
    else:
        path = Path(model)
        if path.is_dir():
            path = path / "model.onnx"
    if not path.is_file():
        msg = f"{path}: no such ONNX model (shipped models: {', '.join(SHIPPED)})"
        raise FileNotFoundError(msg)
    return path, path.with_name(SIDECAR_NAME)


class OnnxTagger(nonserializable_attribute, numpy_call_wrapper):
    """Per-jet class probabilities from an ONNX tagger with a ``preprocess.json`` sidecar.

    ``model`` is a shipped model name (``"full21"``, ``"kinpid"``), a ``model.onnx``
    path or a directory holding one; ``preprocess`` defaults to the
    ``preprocess.json`` beside it. Models exported by jetscale and by weaver-core
    (inputs such as ``pf_points``, ``pf_features``, ``pf_vectors``, ``pf_mask``,
    each ``(N, C, P)``) run unchanged.

    Call it on jets in jetscale's internal layout (fields ``pt``, ``energy`` and a
    jagged ``constituents`` record), either flat ``(N,)`` or per event
    ``(events, var)``. It returns a record array of float32 class probabilities
    (one field per class) of the same nesting; jets without constituents get NaN.
    ``threads`` sets ONNX Runtime's intra-op threads per worker (1 suits one
    coffea worker per core); ``batch_size`` bounds the memory of one inference batch.
    """

    def __init__(
        self,
        model: str | os.PathLike[str] = "full21",
        preprocess: str | os.PathLike[str] | None = None,
        *,
        threads: int = 1,
        batch_size: int = 512,
        class_names: Sequence[str] | None = None,
    ) -> None:
        nonserializable_attribute.__init__(self, ["session"])
        numpy_call_wrapper.__init__(self)
        path, sidecar = resolve_model(model)
        self.model_path = str(path)
        self.inputs: ModelInputs = read_model_inputs(Path(preprocess or sidecar))
        if threads < 1 or batch_size < 1:
            msg = f"threads and batch_size must be positive, got {threads} and {batch_size}"
            raise ValueError(msg)
        self.threads = threads
        self.batch_size = batch_size
        size = path.stat().st_size
        self.model_bytes: bytes | None = path.read_bytes() if size <= EMBED_LIMIT_BYTES else None
        content = self.model_bytes if self.model_bytes is not None else path.read_bytes()
        self.model_key = hashlib.sha256(content).hexdigest()
        # Open the model once here so a wrong file or sidecar fails before any data is read.
        try:
            session = (
                self.session
            )  # kept: the first call needs no second open (dropped on pickling)
        except Exception as err:  # any file ONNX Runtime cannot load: corrupt, not ONNX, ...
            reason = str(err).strip().splitlines()[0] if str(err).strip() else ""
            msg = f"{self.model_path}: not a model ONNX Runtime can load ({type(err).__name__}: {reason})"
            raise ModelFileError(msg) from err
        graph_inputs = {i.name: i for i in session.get_inputs()}
        missing = [i.name for i in self.inputs.inputs if i.name not in graph_inputs]
        if missing or len(graph_inputs) != len(self.inputs.inputs):
            msg = (
                f"{self.model_path}: ONNX inputs {sorted(graph_inputs)} do not match the sidecar "
                f"{self.inputs.source} inputs {[i.name for i in self.inputs.inputs]}"
            )
            raise SidecarError(msg)
        for model_input in self.inputs.inputs:
            channels = graph_inputs[model_input.name].shape[1]
            if isinstance(channels, int) and channels != len(model_input.variables):
                msg = (
                    f"{self.model_path}: input {model_input.name!r} takes {channels} variables "
                    f"per particle, the sidecar {self.inputs.source} declares "
                    f"{len(model_input.variables)}"
                )
                raise SidecarError(msg)
        self.input_dtypes = {
            name: np.bool_ if i.type == "tensor(bool)" else np.float32
            for name, i in graph_inputs.items()
        }
        # A fixed particle axis in the graph means every batch must be padded to it.
        fixed = {i.shape[2] for i in graph_inputs.values() if isinstance(i.shape[2], int)}
        self.fixed_length: int | None = fixed.pop() if fixed else None
        output = session.get_outputs()[0]
        self.output_name = output.name
        width = output.shape[-1] if isinstance(output.shape[-1], int) else None
        names = class_names or self.inputs.class_names
        if names is None:
            names = tuple(f"class_{k}" for k in range(width or 0))
        if width is not None and len(names) != width:
            msg = f"{self.model_path}: the model outputs {width} classes but {len(names)} class names are given ({', '.join(names)})"
            raise SidecarError(msg)
        self.class_names: tuple[str, ...] = tuple(names)

    # -- lazily created, never pickled -------------------------------------------------
    def _create_session(self) -> Any:
        """The process's session for this model and thread count (see :func:`_cached_session`)."""
        return _cached_session(self.model_key, self.model_bytes, self.model_path, self.threads)

    # -- what the model needs ------------------------------------------------------------
    @property
    def constituent_fields(self) -> tuple[str, ...]:
        """Constituent fields (internal names) the model's variables read, plus px, py."""
        return tuple(dict.fromkeys(("px", "py", *self.inputs.required_constituent_fields())))

    @property
    def jet_fields(self) -> tuple[str, ...]:
        """Jet fields (``pt``, ``energy``, ... without ``jet_``) the model's variables read."""
        return required_fields(self.inputs.specs)[1]

    def check_fields(self, available: Iterable[str], source: str = "the input") -> None:
        """Refuse, before any data is processed, an input lacking a field the model needs."""
        present = set(available)
        needed = self.inputs.required_constituent_fields()
        missing = {f: v for f, v in needed.items() if f not in present}
        if missing:
            detail = "; ".join(f"{f} (for {', '.join(v)})" for f, v in missing.items())
            msg = (
                f"model {self.model_path} needs constituent fields that {source} does not provide: "
                f"{detail}. Use a model trained without them (e.g. the shipped 'kinpid' model)."
            )
            raise FeatureMismatchError(msg)

    # -- awkward -> numpy -> awkward (coffea's numpy_call_wrapper protocol) ---------------
    def __call__(self, jets: Any) -> Any:
        if type(jets).__module__.startswith("dask_awkward"):
            import dask_awkward as dak

            return dak.map_partitions(
                _TaggerPartition(self), jets, label="jetscale-onnx-tagger", traverse=False
            )
        if ak.backend(jets) == "typetracer":
            return self._typetracer_result(jets)
        return self._call_awkward(jets)

    def prepare_awkward(self, jets: Any) -> tuple[tuple[()], dict[str, Any]]:
        flat = _flat_jets(jets)
        constituents = flat["constituents"]
        self.check_fields(ak.fields(constituents), "jets.constituents")
        arrays: dict[str, Any] = {"counts": ak.num(constituents, axis=1)}
        for field in self.jet_fields:
            arrays[f"jet_{field}"] = _jet_field(flat, field)
        for field in self.constituent_fields:
            arrays[f"part_{field}"] = ak.flatten(constituents[field], axis=1)
        return (), arrays

    def validate_numpy_input(self, **arrays: np.ndarray) -> None:
        counts = arrays["counts"]
        total = int(counts.sum())
        for name, values in arrays.items():
            expected = total if name.startswith("part_") else len(counts)
            if values.ndim != 1 or len(values) != expected:
                msg = (
                    f"{name}: expected a flat array of length {expected}, got shape {values.shape}"
                )
                raise ValueError(msg)

    def numpy_call(self, **arrays: np.ndarray) -> np.ndarray:
        """Class probabilities ``(N, n_classes)`` float32 from flat per-jet and per-constituent arrays."""
        counts = arrays["counts"].astype(np.int64)
        out = np.full((len(counts), len(self.class_names)), np.nan, dtype=np.float32)
        # Length buckets: sort by constituent count, so each batch pads to a similar length.
        order = np.argsort(counts, kind="stable")
        order = order[counts[order] > 0]  # jets without constituents stay NaN
        if len(order) == 0:
            return out
        offsets = np.zeros(len(counts) + 1, dtype=np.int64)
        np.cumsum(counts, out=offsets[1:])
        sorted_counts = counts[order]
        sorted_offsets = np.zeros(len(order) + 1, dtype=np.int64)
        np.cumsum(sorted_counts, out=sorted_offsets[1:])
        gather = np.repeat(offsets[order] - sorted_offsets[:-1], sorted_counts) + np.arange(
            sorted_offsets[-1]
        )
        prepared = prepare_columns(
            sorted_offsets,
            {
                k.removeprefix("part_"): v[gather]
                for k, v in arrays.items()
                if k.startswith("part_")
            },
            {f: arrays[f"jet_{f}"][order] for f in self.jet_fields},
            self.inputs.specs,
        )
        slices = self._input_slices()
        # A jet's padded length depends on its own count only (never on its batch
        # mates), so its score is bit-identical whatever the chunking or executor.
        if self.fixed_length:
            lengths = np.full(len(order), self.fixed_length, dtype=np.int64)
        else:
            step = BUCKET_STEP
            lengths = np.minimum(-(-sorted_counts // step) * step, self.inputs.length)
        bounds = np.flatnonzero(np.diff(lengths)) + 1
        for bucket_start, bucket_stop in zip(
            [0, *bounds.tolist()], [*bounds.tolist(), len(order)], strict=True
        ):
            length = int(lengths[bucket_start])
            for start in range(bucket_start, bucket_stop, self.batch_size):
                stop = min(start + self.batch_size, bucket_stop)
                x, _ = prepared.fill(start, stop, length)  # (B, P, F_total)
                feeds: dict[str, np.ndarray] = {
                    name: np.ascontiguousarray(
                        x[:, :, s].transpose(0, 2, 1), dtype=self.input_dtypes[name]
                    )
                    for name, s in slices.items()
                }
                (prob,) = self.session.run([self.output_name], feeds)
                out[order[start:stop]] = prob
        return out

    def postprocess_awkward(self, prob: Any, jets: Any) -> ak.Array:
        values = ak.to_numpy(prob)
        record = ak.zip(
            {name: values[:, k] for k, name in enumerate(self.class_names)}, depth_limit=1
        )
        if _is_jagged(jets):
            return ak.unflatten(record, ak.num(jets, axis=1))
        return record

    # -- helpers ---------------------------------------------------------------------------
    def _input_slices(self) -> dict[str, slice]:
        slices, start = {}, 0
        for model_input in self.inputs.inputs:
            slices[model_input.name] = slice(start, start + len(model_input.variables))
            start += len(model_input.variables)
        return slices

    def _typetracer_result(self, jets: Any) -> ak.Array:
        """Touch exactly the fields inference reads; return an output typetracer."""
        flat = _flat_jets(jets)
        constituents = flat["constituents"]
        self.check_fields(ak.fields(constituents), "jets.constituents")
        ak.typetracer.touch_data(ak.num(constituents, axis=1))
        for field in self.constituent_fields:
            ak.typetracer.touch_data(constituents[field])
        for field in self.jet_fields:
            ak.typetracer.touch_data(_jet_field(flat, field))
        empty = np.zeros((0, len(self.class_names)), dtype=np.float32)
        result = self.postprocess_awkward(
            empty, ak.Array([[]]) if _is_jagged(jets) else ak.Array([])
        )
        if _is_jagged(jets):
            result = result[:0]
        return ak.Array(result.layout.to_typetracer(forget_length=True))


_SESSIONS: dict[tuple[str, int], Any] = {}
_SESSIONS_LOCK = threading.Lock()


def _cached_session(key: str, model_bytes: bytes | None, path: str, threads: int) -> Any:
    """One ONNX Runtime session per (model content, threads) and process.

    coffea's Runner unpickles the processor for every chunk, which drops the
    wrapper's session; without this cache each chunk would pay 25-50 ms to
    rebuild it. ``InferenceSession.run`` is thread-safe, so threads may share it.
    """
    with _SESSIONS_LOCK:
        session = _SESSIONS.get((key, threads))
        if session is None:
            import onnxruntime as ort

            options = ort.SessionOptions()
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
            source = model_bytes if model_bytes is not None else path
            session = ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])
            _SESSIONS[(key, threads)] = session
        return session


class _TaggerPartition:
    """The per-partition callable of the dask path (a class: picklable, named in the graph)."""

    def __init__(self, tagger: OnnxTagger) -> None:
        self.tagger = tagger

    def __call__(self, jets: ak.Array) -> ak.Array:
        if ak.backend(jets) == "typetracer":
            return self.tagger._typetracer_result(jets)
        return self.tagger._call_awkward(jets)


def _is_jagged(jets: Any) -> bool:
    """``(events, var)`` of jets rather than ``(N,)`` jets."""
    return bool(jets.ndim == 2)


def _flat_jets(jets: Any) -> Any:
    if jets.ndim not in (1, 2):
        msg = (
            f"jets must be (N,) or (events, var) records, got {jets.ndim} dimensions ({jets.type})"
        )
        raise ValueError(msg)
    return ak.flatten(jets, axis=1) if _is_jagged(jets) else jets


def _jet_field(jets: Any, field: str) -> Any:
    try:
        return field_or_property(jets, field, "jets")
    except ValueError as err:
        raise FeatureMismatchError(str(err)) from None
