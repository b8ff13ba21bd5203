"""``build_features``: jets with constituents in, the padded tagger input block out."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Literal

import awkward as ak
import numpy as np

from jetscale.features import kernel
from jetscale.features.columns import flat_columns
from jetscale.features.registry import (
    DEFAULT_FEATURE_SET,
    FeatureSpec,
    required_fields,
    resolve_specs,
)
from jetscale.schema import constituent_dtype

FeatureSelection = str | Sequence[FeatureSpec]
PadMode = Literal["constant", "wrap"]
_POSITIVE_JET_FIELDS = ("pt", "energy")  # the logs of the registry need them > 0
_EMPTY_F32 = np.zeros(0, dtype=np.float32)
_EMPTY_I64 = np.zeros(0, dtype=np.int64)


def build_features(
    jets: Any,
    feature_set: FeatureSelection = DEFAULT_FEATURE_SET,
    max_particles: int = 128,
    pad_mode: PadMode = "constant",
    *,
    out: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[Any, Any]:
    """Per-constituent feature arrays of every jet, sorted, standardized and padded.

    ``jets`` is an awkward array in jetscale's internal layout (jet fields ``pt``
    and ``energy`` in GeV, jagged ``constituents`` with JetClass field names): eager,
    coffea-virtual, a typetracer, or a dask-awkward collection.

    ``feature_set`` names a registry set, or is an explicit sequence of
    :class:`FeatureSpec`, each with its formula and constants (registry features
    with the constants of a model's ``preprocess.json``, or new formulas).

    Constituents are ordered by descending pT = hypot(px, py), ties kept in input
    order; the first ``max_particles`` are kept. Padded slots hold each feature's
    pad value (``pad_mode="constant"``) or repeat the jet's own constituents
    cyclically (``"wrap"``, like ``numpy.pad(mode="wrap")``; a jet with no
    constituents is padded with constants). Padded slots are False in the mask.

    Returns ``(x, mask)``: for eager input NumPy arrays, float32 ``(N, P, F)``
    C-contiguous and bool ``(N, P)``; for dask-awkward input, dask-awkward arrays of
    the same per-jet shapes; for typetracer input, typetracers.

    ``out=(x_buffer, mask_buffer)`` (eager input only) writes into the first N rows
    of preallocated arrays and returns those views: a batch loop that reuses one
    buffer skips the page faults of a fresh multi-MB allocation per batch, which
    on small VMs cost as much as the kernel itself (see :func:`feature_batches`).

    Raises ``ValueError`` naming the field if a needed field is missing or an input
    value is non-finite or non-positive where a logarithm needs it (clean file input
    with :func:`jetscale.io.clean_jets` first; the readers do that already).
    """
    specs = _check_arguments(feature_set, max_particles, pad_mode)
    module = type(jets).__module__
    if out is not None and (module.startswith("dask_awkward") or ak.backend(jets) == "typetracer"):
        msg = "out= buffers apply to eager arrays only"
        raise ValueError(msg)
    if module.startswith("dask_awkward"):
        return _build_dask(jets, feature_set, max_particles, pad_mode)
    if ak.backend(jets) == "typetracer":
        return _build_typetracer(jets, feature_set, max_particles, len(specs))
    return _build_eager(jets, feature_set, max_particles, pad_mode, out)


def feature_batches(
    jets: ak.Array,
    batch_size: int,
    feature_set: FeatureSelection = DEFAULT_FEATURE_SET,
    max_particles: int = 128,
    pad_mode: PadMode = "constant",
) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """Yield ``(start, x, mask)`` for consecutive batches of eager ``jets``.

    ``x`` and ``mask`` are views into one reused buffer: consume (or copy) them
    before advancing the iterator. Memory stays bounded by ``batch_size``.
    """
    if batch_size < 1:
        msg = f"batch_size must be positive, got {batch_size}"
        raise ValueError(msg)
    n_features = len(_check_arguments(feature_set, max_particles, pad_mode))
    size = min(batch_size, len(jets))
    buffers = (
        np.empty((size, max_particles, n_features), dtype=np.float32),
        np.empty((size, max_particles), dtype=np.bool_),
    )
    prepared = prepare_jets(jets, feature_set)  # awkward work and validation once
    for start in range(0, prepared.n_jets, batch_size):
        stop = min(start + batch_size, prepared.n_jets)
        x, mask = prepared.fill(start, stop, max_particles, pad_mode, buffers)
        yield start, x, mask


def _check_arguments(
    name: FeatureSelection, max_particles: int, pad_mode: str
) -> tuple[FeatureSpec, ...]:
    specs = resolve_specs(name)
    if not isinstance(max_particles, int | np.integer) or max_particles < 1:
        msg = f"max_particles must be a positive integer, got {max_particles!r}"
        raise ValueError(msg)
    if pad_mode not in ("constant", "wrap"):
        msg = f"pad_mode must be 'constant' or 'wrap', got {pad_mode!r}"
        raise ValueError(msg)
    return specs


def field_or_property(array: Any, field: str, where: str) -> Any:
    """Field or behaviour property (coffea's FatJet has ``energy`` only as a property).

    Raises ``ValueError`` naming ``where``, the field and the fields present.
    """
    if field in ak.fields(array):
        return array[field]
    try:
        return getattr(array, field)
    except AttributeError:
        msg = f"{where} has no field {field!r} (fields: {', '.join(ak.fields(array))})"
        raise ValueError(msg) from None


class _Scratch:
    """Reused per-batch buffers for the precomputed columns and their intermediate results.

    Fresh arrays cost first-touch page faults (about 1 ms per MB on small VMs);
    reusing them across batches keeps a batch loop's memory traffic in cache.
    """

    def __init__(self) -> None:
        self.buffers: dict[tuple[str, np.dtype], np.ndarray] = {}

    def get(self, name: str, size: int, dtype: np.dtype | type = np.float32) -> np.ndarray:
        key = (name, np.dtype(dtype))
        buffer = self.buffers.get(key)
        if buffer is None or len(buffer) < size:
            buffer = np.empty(max(size, 1), dtype=dtype)
            self.buffers[key] = buffer
        return buffer[:size]


@dataclasses.dataclass(frozen=True)
class PreparedJets:
    """Flat, validated kernel inputs of a whole array: built once, filled per jet range.

    Build it with :func:`prepare_jets` (awkward jets) or :func:`prepare_columns`
    (flat NumPy columns); :meth:`fill` is then pure NumPy and numba, so a batch
    loop pays the awkward overhead and the validation once.
    """

    specs: tuple[FeatureSpec, ...]
    offsets: np.ndarray  # (N + 1,) int64, absolute into the flat arrays
    order: np.ndarray  # (M,) int64, or empty when already sorted
    is_sorted: bool
    columns: dict[str, np.ndarray]  # flat float32 / int32 constituent columns (views, no copies)
    jet_columns: dict[str, np.ndarray]  # (N,) float32 jet columns (``pt``, ``energy``, GeV)
    compiled: kernel.CompiledKernel = dataclasses.field(repr=False, compare=False)  # of ``specs``
    scratch: _Scratch = dataclasses.field(default_factory=lambda: _Scratch(), compare=False)

    @property
    def n_jets(self) -> int:
        return len(self.offsets) - 1

    def fill(
        self,
        start: int,
        stop: int,
        max_particles: int,
        pad_mode: PadMode = "constant",
        out: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(x, mask)`` of jets ``start:stop``: ``(n, max_particles, F)`` float32, ``(n, P)`` bool."""
        return _fill(self, start, stop, max_particles, pad_mode, out, self.scratch)


def prepare_jets(jets: ak.Array, feature_set: FeatureSelection) -> PreparedJets:
    """Validate eager ``jets`` and flatten the fields ``feature_set`` reads (see :class:`PreparedJets`)."""
    specs = resolve_specs(feature_set)
    constituent_fields, jet_fields = required_fields(specs)
    consts = field_or_property(jets, "constituents", "jets")
    missing = [f for f in constituent_fields if f not in ak.fields(consts)]
    if missing:
        what = f"feature set {feature_set!r}" if isinstance(feature_set, str) else "these features"
        msg = (
            f"{what} needs constituent fields missing from jets.constituents: "
            f"{', '.join(missing)} (present: {', '.join(ak.fields(consts))})"
        )
        raise ValueError(msg)
    offsets, flat = flat_columns(consts, sorted(set(constituent_fields) | {"px", "py"}))
    jet_columns = {f: ak.to_numpy(field_or_property(jets, f, "jets")) for f in jet_fields}
    return prepare_columns(offsets, flat, jet_columns, specs)


def prepare_columns(
    offsets: np.ndarray,
    constituent_columns: Mapping[str, np.ndarray],
    jet_columns: Mapping[str, np.ndarray],
    feature_set: FeatureSelection,
) -> PreparedJets:
    """Validate flat columns (``offsets`` (N+1,) from 0; jet columns such as ``pt`` (N,)) for filling.

    Columns are keyed by field name without prefix (``px``, ``pt``); the ones the
    features read, and ``px``, ``py`` for the pT order, must be present.
    """
    specs = resolve_specs(feature_set)
    constituent_fields, jet_fields = required_fields(specs)
    needed = dict.fromkeys(("px", "py", *constituent_fields))
    missing = [f"constituent field {f!r}" for f in needed if f not in constituent_columns]
    missing += [f"jet field {f!r}" for f in jet_fields if f not in jet_columns]
    if missing:
        msg = f"features {', '.join(s.name for s in specs)} need columns that were not given: {', '.join(missing)}"
        raise ValueError(msg)
    columns: dict[str, np.ndarray] = {
        field: np.ascontiguousarray(values, dtype=constituent_dtype(field))
        for field, values in constituent_columns.items()
    }
    jet_columns = {
        f: np.ascontiguousarray(values, dtype=np.float32) for f, values in jet_columns.items()
    }
    offsets = np.ascontiguousarray(offsets, dtype=np.int64)
    floats = tuple(v for v in columns.values() if v.dtype.kind == "f")
    energy = columns.get("energy", _EMPTY_F32)
    if not kernel.inputs_are_valid(floats, energy, columns["px"], columns["py"]):
        _validate(columns)  # raises, naming the field
    _validate_jets(jet_columns)
    order = kernel.pt_order(offsets, columns["px"], columns["py"])
    return PreparedJets(
        specs=specs,
        offsets=offsets,
        order=_EMPTY_I64 if order is None else order,
        is_sorted=order is None,
        columns=columns,
        jet_columns=jet_columns,
        compiled=kernel.compile_kernel(specs),
    )


def _fill(
    prepared: PreparedJets,
    start: int,
    stop: int,
    max_particles: int,
    pad_mode: PadMode,
    out: tuple[np.ndarray, np.ndarray] | None,
    scratch: _Scratch | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Features of jets ``start:stop`` of a prepared array (no awkward calls: cheap per batch)."""
    compiled = prepared.compiled
    x, mask = _output_arrays(stop - start, max_particles, len(prepared.specs), out)
    first, last = int(prepared.offsets[start]), int(prepared.offsets[stop])
    fixed = {
        "out": x,
        "mask": mask,
        "pad_value": compiled.generated.pad_values,
        "offsets": prepared.offsets[start : stop + 1],
        "order": prepared.order,
        "is_sorted": prepared.is_sorted,
        "wrap": pad_mode == "wrap",
        "first": first,
    }
    # The rest, by the generated kernel's own argument list: precomputed columns, then fields.
    generated = compiled.batch_arguments(
        prepared.columns,
        prepared.jet_columns,
        start,
        stop,
        first,
        last,
        (scratch or _Scratch()).get,
    )
    compiled.fill(*(fixed[name] for name in kernel.FIXED_ARGUMENTS), *generated)
    return x, mask


def _build_eager(
    jets: ak.Array,
    name: FeatureSelection,
    max_particles: int,
    pad_mode: PadMode,
    out: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    prepared = prepare_jets(jets, name)
    return prepared.fill(0, prepared.n_jets, max_particles, pad_mode, out)


def _output_arrays(
    n_jets: int, max_particles: int, n_features: int, out: tuple[np.ndarray, np.ndarray] | None
) -> tuple[np.ndarray, np.ndarray]:
    if out is None:
        return (
            np.empty((n_jets, max_particles, n_features), dtype=np.float32),
            np.empty((n_jets, max_particles), dtype=np.bool_),
        )
    x_buffer, mask_buffer = out
    shape_ok = (
        x_buffer.dtype == np.float32
        and mask_buffer.dtype == np.bool_
        and x_buffer.shape[0] >= n_jets
        and x_buffer.shape[1:] == (max_particles, n_features)
        and mask_buffer.shape[0] >= n_jets
        and mask_buffer.shape[1:] == (max_particles,)
        and x_buffer.flags.c_contiguous
        and mask_buffer.flags.c_contiguous
    )
    if not shape_ok:
        msg = (
            f"out buffers must be C-contiguous float32 (>= {n_jets}, {max_particles}, {n_features}) and "
            f"bool (>= {n_jets}, {max_particles}); got {x_buffer.dtype}{x_buffer.shape} and {mask_buffer.dtype}{mask_buffer.shape}"
        )
        raise ValueError(msg)
    return x_buffer[:n_jets], mask_buffer[:n_jets]


def _validate(columns: dict[str, np.ndarray]) -> None:
    """Refuse inputs that would give NaN or a silently clipped infinity."""
    for field, values in columns.items():
        if values.dtype.kind == "f" and not np.isfinite(values).all():
            n_bad = int((~np.isfinite(values)).sum())
            msg = f"constituent field {field!r} has {n_bad} non-finite values; clean the jets first (jetscale.io.clean_jets)"
            raise ValueError(msg)
    if "energy" in columns and not (columns["energy"] > 0).all():
        n_bad = int((columns["energy"] <= 0).sum())
        msg = f"constituent field 'energy' has {n_bad} values <= 0; clean the jets first (jetscale.io.clean_jets)"
        raise ValueError(msg)
    if not ((columns["px"] != 0) | (columns["py"] != 0)).all():
        n_bad = int(((columns["px"] == 0) & (columns["py"] == 0)).sum())
        msg = f"constituent fields 'px', 'py' give pt == 0 for {n_bad} constituents; clean the jets first (jetscale.io.clean_jets)"
        raise ValueError(msg)


def _validate_jets(jet_columns: dict[str, np.ndarray]) -> None:
    for field, values in jet_columns.items():
        positive = field in _POSITIVE_JET_FIELDS
        good = np.isfinite(values) & (values > 0) if positive else np.isfinite(values)
        if not good.all():
            n_bad = int((~good).sum())
            what = "non-finite or non-positive" if positive else "non-finite"
            msg = f"jet field {field!r} has {n_bad} {what} values; clean the jets first (jetscale.io.clean_jets)"
            raise ValueError(msg)


def _build_typetracer(
    jets: Any, name: FeatureSelection, max_particles: int, n_features: int
) -> tuple[Any, Any]:
    """Touch exactly the needed columns and return outputs of the right type, unknown length."""
    constituent_fields, jet_fields = required_fields(name)
    consts = field_or_property(jets, "constituents", "jets")
    for field in set(constituent_fields) | {"px", "py"}:
        ak.typetracer.touch_data(field_or_property(consts, field, "jets.constituents"))
    for field in jet_fields:
        ak.typetracer.touch_data(field_or_property(jets, field, "jets"))
    x = ak.Array(np.zeros((0, max_particles, n_features), dtype=np.float32))
    mask = ak.Array(np.zeros((0, max_particles), dtype=np.bool_))
    return (
        ak.Array(x.layout.to_typetracer(forget_length=True)),
        ak.Array(mask.layout.to_typetracer(forget_length=True)),
    )


def _partition(
    jets: ak.Array, name: FeatureSelection, max_particles: int, pad_mode: PadMode
) -> ak.Array:
    if ak.backend(jets) == "typetracer":
        x, mask = _build_typetracer(jets, name, max_particles, len(resolve_specs(name)))
    else:
        x_np, mask_np = _build_eager(jets, name, max_particles, pad_mode)
        x, mask = ak.Array(x_np), ak.Array(mask_np)
    return ak.zip({"x": x, "mask": mask}, depth_limit=1)


def _build_dask(
    jets: Any, name: FeatureSelection, max_particles: int, pad_mode: PadMode
) -> tuple[Any, Any]:
    import dask_awkward as dak

    result = dak.map_partitions(
        _partition, jets, name, max_particles, pad_mode, label="jetscale-build-features"
    )
    return result["x"], result["mask"]
