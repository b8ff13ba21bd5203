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

How a jet is padded, in order:

* a graph with a fixed particle axis gets exactly that many slots;
* a graph that reads no mask input (no input named ``*_mask`` or holding only
  ``part_mask``) cannot tell padded slots from particles, so its output may
  depend on them: every jet gets the model's ``var_length`` slots, as in
  weaver-core's ``--predict`` (``buckets=False`` forces this for any model);
* otherwise jets get ``max(bucket, minimum)`` slots, at most ``var_length``,
  where the minimum is what the graph needs: a k-nearest-neighbour step
  (ParticleNet's EdgeConv) exports as a ``TopK`` node with ``K`` = k + 1, which
  ONNX Runtime refuses on fewer than ``K`` slots. The minimum is the largest
  constant ``K`` on the particle axis (:mod:`jetscale.inference.graph`), or
  ``var_length`` when it cannot be read; one above ``var_length`` is an error.

Padded slots hold each variable's pad value (``pad_mode="constant"``) or, with
``"wrap"``, repeat the jet's standardized constituents cyclically as weaver-core
does; mask inputs always hold the pad value (weaver-core refuses ``wrap`` for
them). weaver-core's ``preprocess.json`` does not record the pad mode of its
data configuration, so a weaver model trained with ``pad_mode: wrap`` needs
``pad_mode="wrap"`` here where its output depends on padded slots.

A model exported with ``jetscale export --with-embedding`` has a second output,
the jet embedding (N, D): :meth:`OnnxTagger.embed` returns it and
:meth:`OnnxTagger.score_and_embed` returns it with the probabilities from the same
ONNX Runtime runs. Both go through the same buckets and batches as the scores,
so a jet's embedding does not depend on chunking either.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import logging
import os
import socket
import threading
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import awkward as ak
import numpy as np

from jetscale.features.builder import PadMode, field_or_property, prepare_columns
from jetscale.features.registry import required_fields
from jetscale.inference.coffea_base import coffea_ml_helper
from jetscale.inference.graph import MinimumLength, minimum_particle_length
from jetscale.phase_space import PhaseSpace, training_phase_space
from jetscale.sidecar import (
    EMBEDDING_OUTPUT,
    SIDECAR_NAME,
    ModelInput,
    ModelInputs,
    SidecarError,
    read_model_inputs,
)
from jetscale.task import JETCLASS, Task, task_of_class_names

if TYPE_CHECKING:
    from coffea.ml_tools.helper import nonserializable_attribute, numpy_call_wrapper
else:  # the same classes, without coffea.ml_tools' torch import (see coffea_base)
    _helper = coffea_ml_helper()
    nonserializable_attribute = _helper.nonserializable_attribute
    numpy_call_wrapper = _helper.numpy_call_wrapper

log = logging.getLogger(__name__)

#: Models up to this size are embedded in the (pickled) wrapper; larger ones are read by path.
EMBED_LIMIT_BYTES = 32 * 1024 * 1024
#: Jets are padded to the next multiple of this many slots (at most the model's var_length).
#: 8 rather than 16: about 8% faster on the fused graph (whose linear layers skip padded
#: slots, so only attention pays for them), with the same scores bit for bit
#: (benchmarks/bench_inference.py, docs/performance.md); 4 gains 3% more for twice the batches.
BUCKET_STEP = 8


class FeatureMismatchError(ValueError):
    """The model needs a constituent field the input cannot provide."""


class ModelFileError(ValueError):
    """A model file ONNX Runtime cannot load; the message names the file."""


class ProviderError(RuntimeError):
    """A requested ONNX Runtime execution provider is not available where the model runs."""


class NoEmbeddingError(ValueError):
    """The model has no ``embedding`` output (not exported with ``--with-embedding``)."""


#: An ONNX Runtime execution provider: a name, or (name, provider options).
Provider = str | tuple[str, dict[str, Any]]
CPU_PROVIDER = "CPUExecutionProvider"

#: What one pass over the jets returns: the scores, the embedding, or both.
Product = Literal["scores", "embedding", "both"]


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
    A model exported with ``--with-embedding`` also gives each jet's embedding
    (:meth:`embed`, :meth:`score_and_embed`; :attr:`embedding_dim` is its width D,
    None for models without it).

    Sidecar inputs the ONNX graph does not declare (torch drops the arguments a
    network never reads) are not fed; :attr:`unused_inputs` names them.
    ``pad_mode`` (``"constant"`` or ``"wrap"``) defaults to the sidecar's
    (jetscale's own say; weaver-core's do not, and mean ``"constant"``, weaver's
    default); ``buckets`` defaults to True when the graph reads a mask input.
    See the module docstring for the padding rules.

    ``providers`` are ONNX Runtime execution providers in order of preference,
    names or ``(name, options)`` pairs, e.g. ``["CUDAExecutionProvider",
    "CPUExecutionProvider"]`` (default: CPU only). A process that runs the model
    without one of them raises :class:`ProviderError` naming it, rather than
    quietly running on CPU; a client that only builds the tagger for its
    workers (dask) may lack them.
    """

    def __init__(
        self,
        model: str | os.PathLike[str] = "full21",
        preprocess: str | os.PathLike[str] | None = None,
        *,
        threads: int = 1,
        batch_size: int = 512,
        class_names: Sequence[str] | None = None,
        pad_mode: PadMode | None = None,
        buckets: bool | None = None,
        providers: Sequence[Provider] | None = None,
    ) -> None:
        nonserializable_attribute.__init__(self, ["session"])
        numpy_call_wrapper.__init__(self)
        path, sidecar = resolve_model(model)
        self.model_path = str(path)
        self.inputs: ModelInputs = read_model_inputs(Path(preprocess or sidecar))
        #: The jets the model was trained on, from its model card (None: not stated).
        self.phase_space: PhaseSpace | None = training_phase_space(path)
        if threads < 1 or batch_size < 1:
            msg = f"threads and batch_size must be positive, got {threads} and {batch_size}"
            raise ValueError(msg)
        self.threads = threads
        self.batch_size = batch_size
        self.providers: tuple[Provider, ...] = _checked_providers(providers)
        size = path.stat().st_size
        self.model_bytes: bytes | None = path.read_bytes() if size <= EMBED_LIMIT_BYTES else None
        content = self.model_bytes if self.model_bytes is not None else path.read_bytes()
        self.model_key = hashlib.sha256(content).hexdigest()
        # Open the model once here so a wrong file or sidecar fails before any data is read.
        # Where this process lacks a requested provider (a CPU client of GPU workers) the
        # check runs on CPU; each worker's own session then needs the providers.
        here = _available_here(self.providers)
        try:
            session = _cached_session(
                self.model_key, self.model_bytes, self.model_path, self.threads, here
            )
            if here == self.providers:
                self._session = session  # the first call needs no second open (dropped on pickling)
        except Exception as err:  # any file ONNX Runtime cannot load: corrupt, not ONNX, ...
            reason = str(err).strip().splitlines()[0] if str(err).strip() else ""
            msg = f"{self.model_path}: not a model ONNX Runtime can load ({type(err).__name__}: {reason})"
            raise ModelFileError(msg) from err
        graph_inputs = {i.name: i for i in session.get_inputs()}
        self.inputs, self.unused_inputs = _fed_inputs(self.model_path, self.inputs, graph_inputs)
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
        if pad_mode not in (None, "constant", "wrap"):
            msg = f"pad_mode must be 'constant', 'wrap' or None (the sidecar's), got {pad_mode!r}"
            raise ValueError(msg)
        self.pad_mode: PadMode = pad_mode or self.inputs.pad_mode
        self.buckets = (
            buckets if buckets is not None else any(_is_mask(i) for i in self.inputs.inputs)
        )
        batch_axes = {i.shape[0] for i in graph_inputs.values() if isinstance(i.shape[0], str)}
        self.min_length = self._minimum_length(minimum_particle_length(content, batch_axes))
        outputs = session.get_outputs()
        output = outputs[0]
        self.output_name = output.name
        self.output_names = tuple(o.name for o in outputs)
        self.embedding_dim = self._embedding_width(outputs)
        width = output.shape[-1] if isinstance(output.shape[-1], int) else None
        names = class_names or self.inputs.class_names
        if names is None:
            names = tuple(f"class_{k}" for k in range(width or 0))
        if width is not None and len(names) != width:
            msg = f"{self.model_path}: the model outputs {width} classes but {len(names)} class names are given ({', '.join(names)})"
            raise SidecarError(msg)
        self.class_names: tuple[str, ...] = tuple(names)
        #: The label branches of each output class: the sidecar's task, else ``label_<name>``
        #: (JetClass's ten for a model whose names make no task, e.g. a single output).
        sidecar_task = self.inputs.task
        self.task: Task = (
            sidecar_task
            if sidecar_task is not None and sidecar_task.names == self.class_names
            else JETCLASS
        )
        if self.task is JETCLASS:
            with contextlib.suppress(ValueError):
                self.task = task_of_class_names(self.class_names)

    def _minimum_length(self, need: MinimumLength) -> int:
        """The fewest slots a batch may have (see the module docstring); refuses an impossible one."""
        slots = self.fixed_length or self.inputs.length
        if need.slots is None:
            log.info(
                "%s: cannot tell the fewest particle slots the graph accepts (%s); "
                "every jet is padded to the model's %d slots",
                self.model_path,
                need.source,
                slots,
            )
            return slots
        if need.slots > slots:
            msg = (
                f"{self.model_path}: the graph needs at least {need.slots} particle slots "
                f"({need.source}), more than the model's {slots} (var_length of the sidecar "
                f"{self.inputs.source}); the model cannot run"
            )
            raise SidecarError(msg)
        if need.slots > 1:
            log.info(
                "%s: jets are padded to at least %d slots (%s)",
                self.model_path,
                need.slots,
                need.source,
            )
        return need.slots

    def _embedding_width(self, outputs: Sequence[Any]) -> int | None:
        """D of the graph's ``embedding`` output (N, D); None when the graph has none."""
        embedding = next((o for o in outputs if o.name == EMBEDDING_OUTPUT), None)
        if embedding is None:
            return None
        shape = list(embedding.shape or [])
        declared = self.inputs.embedding_dim
        width = shape[-1] if len(shape) == 2 and isinstance(shape[-1], int) else declared
        if len(shape) != 2 or width is None or (declared is not None and declared != width):
            msg = (
                f"{self.model_path}: output {EMBEDDING_OUTPUT!r} has shape {shape}, expected "
                f"(N, D) with D = {declared if declared is not None else 'a fixed width'} "
                f"(the sidecar {self.inputs.source})"
            )
            raise SidecarError(msg)
        return int(width)

    # -- lazily created, never pickled -------------------------------------------------
    def _create_session(self) -> Any:
        """The process's session for this model, thread count and providers (see :func:`_cached_session`)."""
        return _cached_session(
            self.model_key, self.model_bytes, self.model_path, self.threads, self.providers
        )

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
        return self._dispatch(jets, "scores")

    def embed(self, jets: Any) -> Any:
        """The jet embedding, float32 ``(N, D)`` for ``(N,)`` jets, ``(events, var, D)`` per event.

        Only for models exported with ``--with-embedding`` (else
        :class:`NoEmbeddingError`, naming the model file). Jets are prepared,
        bucketed and batched as for the scores, so a jet's embedding does not
        depend on the chunk or batch it is in; jets without constituents get a
        row of NaN. Eager, coffea-virtual and dask-awkward jets, as for
        ``tagger(jets)``; ``ak.to_numpy`` turns a flat result into a numpy array.
        """
        self._require_embedding()
        return self._dispatch(jets, "embedding")

    def score_and_embed(self, jets: Any) -> tuple[Any, Any]:
        """``(tagger(jets), embed(jets))`` from one ONNX Runtime run per batch, not two."""
        self._require_embedding()
        both = self._dispatch(jets, "both")
        return both["scores"], both["embedding"]

    def _require_embedding(self) -> None:
        if self.embedding_dim is None:
            msg = (
                f"{self.model_path}: the model has no {EMBEDDING_OUTPUT!r} output (its outputs: "
                f"{', '.join(self.output_names)}); export it with "
                "`jetscale export RUN --with-embedding`"
            )
            raise NoEmbeddingError(msg)

    def _dispatch(self, jets: Any, product: Product) -> Any:
        """``product`` of dask-awkward (a lazy collection), typetracer or eager jets."""
        if type(jets).__module__.startswith("dask_awkward"):
            import dask_awkward as dak

            label = "jetscale-onnx-tagger" if product == "scores" else f"jetscale-onnx-{product}"
            return dak.map_partitions(
                _TaggerPartition(self, product), jets, label=label, traverse=False
            )
        if ak.backend(jets) == "typetracer":
            return self._typetracer_result(jets, product)
        if product == "scores":
            return self._call_awkward(jets)
        return self._products_awkward(jets, product)

    def _products_awkward(self, jets: Any, product: Product) -> ak.Array:
        """The embedding, or a record of ``scores`` and ``embedding``, of eager jets."""
        _, prepared = self.prepare_awkward(jets)
        arrays = {name: ak.to_numpy(values) for name, values in prepared.items()}
        self.validate_numpy_input(**arrays)
        if product == "embedding":
            (embedding,) = self._run(arrays, (EMBEDDING_OUTPUT,))
            return self._embedding_awkward(embedding, jets)
        prob, embedding = self._run(arrays, (self.output_name, EMBEDDING_OUTPUT))
        return self._both_awkward(prob, embedding, jets)

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
        (prob,) = self._run(arrays, (self.output_name,))
        return prob

    def _run(self, arrays: Mapping[str, np.ndarray], outputs: Sequence[str]) -> list[np.ndarray]:
        """The graph's ``outputs``, each ``(N, width)`` float32, from one session run per batch.

        ``arrays`` are :meth:`numpy_call`'s flat arrays; rows of jets without
        constituents are NaN.
        """
        counts = arrays["counts"].astype(np.int64)
        widths = {self.output_name: len(self.class_names), EMBEDDING_OUTPUT: self.embedding_dim}
        results = [
            np.full((len(counts), widths[name] or 0), np.nan, dtype=np.float32) for name in outputs
        ]
        # Length buckets: sort by constituent count, so each batch pads to a similar length.
        order = np.argsort(counts, kind="stable")
        order = order[counts[order] > 0]  # jets without constituents stay NaN
        if len(order) == 0:
            return results
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
        if self.fixed_length or not self.buckets:
            lengths = np.full(len(order), self.fixed_length or self.inputs.length, dtype=np.int64)
        else:
            step = BUCKET_STEP
            bucket = -(-sorted_counts // step) * step
            lengths = np.clip(bucket, self.min_length, self.inputs.length)
        constant = self._constant_columns() if self.pad_mode == "wrap" else []
        pad_values = np.array([spec.pad_value for spec in self.inputs.specs], dtype=np.float32)
        bounds = np.flatnonzero(np.diff(lengths)) + 1
        for bucket_start, bucket_stop in zip(
            [0, *bounds.tolist()], [*bounds.tolist(), len(order)], strict=True
        ):
            length = int(lengths[bucket_start])
            for start in range(bucket_start, bucket_stop, self.batch_size):
                stop = min(start + self.batch_size, bucket_stop)
                x, mask = prepared.fill(start, stop, length, self.pad_mode)  # (B, P, F_total)
                for columns in constant:  # mask inputs: never wrapped, as in weaver-core
                    x[~mask, columns] = pad_values[columns]
                feeds: dict[str, np.ndarray] = {
                    name: np.ascontiguousarray(
                        x[:, :, s].transpose(0, 2, 1), dtype=self.input_dtypes[name]
                    )
                    for name, s in slices.items()
                }
                batch = self.session.run(list(outputs), feeds)
                for name, values in zip(outputs, batch, strict=True):
                    if name == self.output_name and np.isnan(values).any():
                        _warn_nan(self, int(np.isnan(values).any(axis=1).sum()))
                for result, values in zip(results, batch, strict=True):
                    result[order[start:stop]] = values
        return results

    def postprocess_awkward(self, prob: Any, jets: Any) -> ak.Array:
        values = ak.to_numpy(prob)
        record = ak.zip(
            {name: values[:, k] for k, name in enumerate(self.class_names)}, depth_limit=1
        )
        if _is_jagged(jets):
            return ak.unflatten(record, ak.num(jets, axis=1))
        return record

    def _embedding_awkward(self, embedding: np.ndarray, jets: Any) -> ak.Array:
        """``(N, D)`` float32 values -> ``(N, D)`` or, for per-event jets, ``(events, var, D)``."""
        values = ak.from_numpy(embedding)
        if _is_jagged(jets):
            return ak.unflatten(values, ak.num(jets, axis=1))
        return values

    def _both_awkward(self, prob: np.ndarray, embedding: np.ndarray, jets: Any) -> ak.Array:
        """A record of ``scores`` and ``embedding`` per jet, nested as ``jets``."""
        return ak.zip(
            {
                "scores": self.postprocess_awkward(prob, jets),
                "embedding": self._embedding_awkward(embedding, jets),
            },
            depth_limit=2 if _is_jagged(jets) else 1,
        )

    # -- helpers ---------------------------------------------------------------------------
    def _input_slices(self) -> dict[str, slice]:
        slices, start = {}, 0
        for model_input in self.inputs.inputs:
            slices[model_input.name] = slice(start, start + len(model_input.variables))
            start += len(model_input.variables)
        return slices

    def _constant_columns(self) -> list[slice]:
        """Columns of the inputs padded with constants even in wrap mode: the masks."""
        slices = self._input_slices()
        return [slices[i.name] for i in self.inputs.inputs if _is_mask(i)]

    def _typetracer_result(self, jets: Any, product: Product = "scores") -> ak.Array:
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
        like = ak.Array([[]]) if _is_jagged(jets) else ak.Array([])
        if product == "scores":
            result = self.postprocess_awkward(empty, like)
        else:
            no_embedding = np.zeros((0, self.embedding_dim or 0), dtype=np.float32)
            result = (
                self._embedding_awkward(no_embedding, like)
                if product == "embedding"
                else self._both_awkward(empty, no_embedding, like)
            )
        if _is_jagged(jets):
            result = result[:0]
        return ak.Array(result.layout.to_typetracer(forget_length=True))


_SESSIONS: dict[tuple[str, int, str], Any] = {}
_SESSIONS_LOCK = threading.Lock()


def _provider_name(provider: Provider) -> str:
    return provider if isinstance(provider, str) else provider[0]


def _checked_providers(providers: Sequence[Provider] | None) -> tuple[Provider, ...]:
    """The providers as ONNX Runtime takes them: names, or (name, options) pairs; CPU by default."""
    if providers is None:
        return (CPU_PROVIDER,)
    if isinstance(providers, str) or not providers:
        msg = (
            f"providers must be a non-empty sequence of ONNX Runtime execution provider names "
            f"(or (name, options) pairs), e.g. ['CUDAExecutionProvider', '{CPU_PROVIDER}'], "
            f"got {providers!r}"
        )
        raise ValueError(msg)
    checked: list[Provider] = []
    for provider in providers:
        if isinstance(provider, str):
            checked.append(provider)
        elif (
            isinstance(provider, tuple | list)
            and len(provider) == 2
            and isinstance(provider[0], str)
            and isinstance(provider[1], Mapping)
        ):
            checked.append((provider[0], dict(provider[1])))
        else:
            msg = f"provider {provider!r} is neither a name nor a (name, options dict) pair"
            raise ValueError(msg)
    return tuple(checked)


def _available_here(providers: tuple[Provider, ...]) -> tuple[Provider, ...]:
    """``providers`` if this process has them all, else the CPU provider (see OnnxTagger.__init__)."""
    import onnxruntime as ort

    available = ort.get_available_providers()
    missing = [_provider_name(p) for p in providers if _provider_name(p) not in available]
    if not missing:
        return providers
    log.info(
        "execution provider(s) %s not available in this process (available: %s); the model "
        "is checked on CPU here, and processes that run it must have them",
        ", ".join(missing),
        ", ".join(available),
    )
    return (CPU_PROVIDER,)


def _cached_session(
    key: str,
    model_bytes: bytes | None,
    path: str,
    threads: int,
    providers: tuple[Provider, ...] = (),
) -> Any:
    """One ONNX Runtime session per (model content, threads, providers) and process.

    coffea's Runner unpickles the processor for every chunk, which drops the
    wrapper's session; without this cache each chunk would pay 25-50 ms to
    rebuild it. ``InferenceSession.run`` is thread-safe, so threads may share it.

    A requested provider this process lacks is an error naming it: ONNX Runtime
    itself would only warn and run on CPU, a silent change of hardware.
    """
    import onnxruntime as ort

    providers = providers or (CPU_PROVIDER,)
    available = ort.get_available_providers()
    missing = [_provider_name(p) for p in providers if _provider_name(p) not in available]
    if missing:
        msg = (
            f"{path}: execution provider(s) {', '.join(missing)} requested but not available "
            f"in this process on {socket.gethostname()} (available: {', '.join(available)}; "
            "a GPU provider needs the onnxruntime-gpu package and a GPU)"
        )
        raise ProviderError(msg)
    cache_key = (key, threads, repr(providers))
    with _SESSIONS_LOCK:
        session = _SESSIONS.get(cache_key)
        if session is None:
            options = ort.SessionOptions()
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
            source = model_bytes if model_bytes is not None else path
            session = ort.InferenceSession(source, options, providers=list(providers))
            # A listed provider that fails to start (onnxruntime-gpu without a GPU or
            # without CUDA libraries) makes ONNX Runtime fall back to CPU with a printout.
            started = session.get_providers()
            failed = [_provider_name(p) for p in providers if _provider_name(p) not in started]
            if failed:
                msg = (
                    f"{path}: execution provider(s) {', '.join(failed)} could not be started "
                    f"in this process on {socket.gethostname()}; ONNX Runtime would run on "
                    f"{', '.join(started)} instead (check the GPU and its CUDA libraries)"
                )
                raise ProviderError(msg)
            _SESSIONS[cache_key] = session
        return session


def _fed_inputs(
    model_path: str, inputs: ModelInputs, graph_inputs: Mapping[str, Any]
) -> tuple[ModelInputs, tuple[str, ...]]:
    """The sidecar's inputs that the graph declares, and the names of the others.

    torch drops the forward arguments a network never reads from the exported
    graph, while weaver-core's sidecar lists every input group of the data
    configuration (ParticleNet takes ``pf_vectors`` and ignores it): such inputs
    are not fed. A graph input the sidecar does not describe is an error.
    """
    names = [i.name for i in inputs.inputs]
    if not set(names) & set(graph_inputs):
        msg = (
            f"{model_path}: none of the inputs {names} of the sidecar {inputs.source} is an "
            f"input of the ONNX graph ({sorted(graph_inputs)}); is it the sidecar of another model?"
        )
        raise SidecarError(msg)
    missing = [name for name in graph_inputs if name not in names]
    if missing:
        msg = (
            f"{model_path}: ONNX inputs {sorted(graph_inputs)} do not match the sidecar "
            f"{inputs.source} inputs {names}: the graph needs {missing}, which the sidecar "
            f"does not describe"
        )
        raise SidecarError(msg)
    for name, graph_input in graph_inputs.items():
        shape = graph_input.shape
        if not isinstance(shape, list | tuple) or len(shape) != 3:
            declared = f"shape {list(shape)}" if shape else "no declared shape (unknown rank)"
            msg = (
                f"{model_path}: ONNX input {name!r} has {declared}; jetscale feeds (N, C, P) "
                f"tensors (jets, variables per particle, particle slots)"
            )
            raise SidecarError(msg)
    unused = tuple(name for name in names if name not in graph_inputs)
    if unused:
        log.info(
            "%s: sidecar inputs %s are not inputs of the ONNX graph (the network does not "
            "read them), so they are not fed",
            model_path,
            ", ".join(unused),
        )
    fed = tuple(i for i in inputs.inputs if i.name in graph_inputs)
    return dataclasses.replace(inputs, inputs=fed), unused


_NAN_WARNED: set[str] = set()


def _warn_nan(tagger: OnnxTagger, n_jets: int) -> None:
    """Say once per process and model that it returned NaN for jets with constituents."""
    if tagger.model_key in _NAN_WARNED:
        return
    _NAN_WARNED.add(tagger.model_key)
    hint = (
        " weaver-core's ParticleTransformer takes the logarithm of padded four-vectors, which "
        "are NaN-free only in pad_mode='wrap' (the JetClass data configurations' pad_mode)."
        if tagger.pad_mode == "constant"
        else ""
    )
    log.warning(
        "%s returned NaN for %d jets with constituents (pad_mode=%r).%s",
        tagger.model_path,
        n_jets,
        tagger.pad_mode,
        hint,
    )


def _is_mask(model_input: ModelInput) -> bool:
    """A mask input: named ``*_mask`` (weaver-core's rule) or holding only ``part_mask``."""
    return model_input.name.endswith("_mask") or all(
        spec.name == "part_mask" for spec in model_input.variables
    )


class _TaggerPartition:
    """The per-partition callable of the dask path (a class: picklable, named in the graph)."""

    def __init__(self, tagger: OnnxTagger, product: Product = "scores") -> None:
        self.tagger = tagger
        self.product = product

    def __call__(self, jets: ak.Array) -> ak.Array:
        return self.tagger._dispatch(jets, self.product)


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
