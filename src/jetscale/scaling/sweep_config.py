"""A scaling sweep as data: the YAML file behind ``jetscale scan``, expanded into points.

A sweep file has four parts (see ``analysis_examples/scaling_demo/sweep.yaml``)::

    data:       where the jets come from: `generate:` (Pythia, one-off) or `train:`/`val:` paths
    base:       TrainConfig and ModelConfig fields shared by every point (one flat mapping)
    studies:    named sub-sweeps; each is a `grid:` (cartesian product), a list of `points:`,
                or an `isoflop:` block (compute budgets x model shapes, D = C / (6 N n_bar))
    (name)      optional, for the output's labels

Keys of ``base``, grids and points are TrainConfig or ModelConfig field names
(``d_model``, ``n_layers``, ``max_jets`` = U, ``epochs``, ``feature_set``,
``max_particles``, ``lr``, ...). A grid value that is a list of mappings varies
several keys together, e.g. ``shape: [{d_model: 16, n_layers: 1}, {d_model: 32, n_layers: 2}]``.

A point's identity is a hash of everything that changes its result, so a
restarted sweep recognizes finished points whatever order they are listed in.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from jetscale._fields import FieldTypeError, check_value, field_types
from jetscale.nn.config import ModelConfig
from jetscale.nn.counting import count_parameters, training_flops
from jetscale.train.config import TrainConfig

MODEL_KEYS = frozenset(f.name for f in dataclasses.fields(ModelConfig))
TRAIN_KEYS = frozenset(f.name for f in dataclasses.fields(TrainConfig)) - {
    "model",
    "data",
    "val_data",
    "out",
}
#: TrainConfig fields that do not change a point's result (excluded from its identity).
NOT_IDENTITY = frozenset({"device", "data", "val_data", "out"})


class SweepConfigError(ValueError):
    """A sweep file that cannot be expanded; the message names the file and the key."""


@dataclasses.dataclass(frozen=True)
class DataSpec:
    """Training and validation jets of a sweep."""

    train: tuple[str, ...] = ()
    val: tuple[str, ...] = ()
    generate: Mapping[str, Any] | None = (
        None  # classes, train_jets_per_class, val_jets_per_class, detector, seed
    )


@dataclasses.dataclass(frozen=True)
class SweepPoint:
    """One training run of the sweep."""

    study: str
    settings: Mapping[str, Any]  # flat TrainConfig + ModelConfig fields (no paths)
    isoflop_budget: float | None = None

    @property
    def model(self) -> ModelConfig:
        return ModelConfig.from_dict({k: v for k, v in self.settings.items() if k in MODEL_KEYS})

    @property
    def point_id(self) -> str:
        identity = {k: v for k, v in self.settings.items() if k not in NOT_IDENTITY}
        text = json.dumps(identity, sort_keys=True, default=str)
        return hashlib.sha1(text.encode()).hexdigest()[:10]

    @property
    def name(self) -> str:
        """Readable run-directory name: shape, features, U, epochs, then the identity hash."""
        m = self.model
        u = self.settings.get("max_jets") or "all"
        return (
            f"d{m.d_model}-l{m.n_layers}-{m.feature_set}-p{m.max_particles}-U{u}"
            f"-e{self.settings.get('epochs', 1)}-{self.point_id}"
        )

    def train_config(self, train: Sequence[str], val: Sequence[str], out: str) -> TrainConfig:
        fields = {k: v for k, v in self.settings.items() if k in TRAIN_KEYS}
        return TrainConfig(
            data=tuple(train),
            val_data=tuple(val),
            out=out,
            model=self.model,
            **fields,
        )


@dataclasses.dataclass(frozen=True)
class SweepConfig:
    """A sweep file, checked: its data, base settings and studies (``SweepConfig.from_file``)."""

    name: str
    data: DataSpec
    base: Mapping[str, Any]
    studies: Mapping[str, Mapping[str, Any]]
    source: str  # the file it was read from, for messages

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> SweepConfig:
        import yaml

        path = Path(path)
        try:
            raw = yaml.safe_load(path.read_text())
        except OSError as err:
            msg = f"{path}: cannot read the sweep file ({err})"
            raise SweepConfigError(msg) from err
        except yaml.YAMLError as err:
            msg = f"{path}: not valid YAML ({err})"
            raise SweepConfigError(msg) from err
        return cls.from_dict(raw, str(path))

    @classmethod
    def from_dict(cls, raw: Any, source: str = "<sweep>") -> SweepConfig:
        if not isinstance(raw, Mapping):
            msg = f"{source}: a sweep file is a mapping with data, base and studies"
            raise SweepConfigError(msg)
        unknown = sorted(set(raw) - {"name", "data", "base", "studies"})
        if unknown:
            msg = f"{source}: unknown top-level key(s) {', '.join(unknown)} (known: name, data, base, studies)"
            raise SweepConfigError(msg)
        data = _data_spec(raw.get("data"), source)
        base = dict(raw.get("base") or {})
        _check_keys(base, f"{source}: base")
        studies = raw.get("studies")
        if not isinstance(studies, Mapping) or not studies:
            msg = f"{source}: 'studies' must map study names to a grid, points or isoflop block"
            raise SweepConfigError(msg)
        for study, spec in studies.items():
            if not isinstance(spec, Mapping) or not ({"grid", "points", "isoflop"} & set(spec)):
                msg = f"{source}: study {study!r} needs a 'grid', 'points' or 'isoflop' block"
                raise SweepConfigError(msg)
            extra = sorted(set(spec) - {"grid", "points", "isoflop"})
            if extra:
                msg = f"{source}: study {study!r} has unknown key(s) {', '.join(extra)}"
                raise SweepConfigError(msg)
        config = cls(str(raw.get("name", "sweep")), data, base, dict(studies), source)
        config.check()
        return config

    def check(self) -> None:
        """Every setting of ``base``, grids, points and isoflop shapes well typed and valid.

        Needs no data, so ``jetscale scan`` calls it before generating or
        reading anything: a ``lr: 1e-3`` (text to YAML) fails in a second, not
        after the jets are made. IsoFLOP shapes are checked with a placeholder
        number of jets (the real one needs the data); :meth:`points` checks
        the points it makes again.
        """
        for key, value in self.base.items():
            owner = ModelConfig if key in MODEL_KEYS else TrainConfig
            try:
                check_value(key, value, field_types(owner)[key])
            except FieldTypeError as err:
                msg = f"{self.source}: base: {err}"
                raise SweepConfigError(msg) from err
        for study, spec in self.studies.items():
            where = f"{self.source}: study {study!r}"
            candidates = _fixed_settings(spec, where)
            if "isoflop" in spec:
                _budgets, shapes = _isoflop_block(spec["isoflop"], where)
                candidates += [{**shape, "max_jets": 1, "epochs": 1} for shape in shapes]
            for settings in candidates:
                _checked_point(study, self.base, settings, None, where)

    def points(
        self,
        tokens_per_jet: Callable[[int], float] | None = None,
        available_jets: int | None = None,
    ) -> tuple[list[SweepPoint], list[str]]:
        """Every point of every study (a duplicate across studies is kept once), and what was left out.

        IsoFLOP studies need ``tokens_per_jet(max_particles)``, the mean number of
        constituents per jet the model sees in the training data, to turn a
        budget into jets; an isoflop point that would need more than
        ``available_jets`` unique jets (or fewer than one) is left out and listed.
        """
        self.check()
        points: list[SweepPoint] = []
        skipped: list[str] = []
        seen: set[str] = set()
        for study, spec in self.studies.items():
            where = f"{self.source}: study {study!r}"
            expanded = _expand(spec, self.base, where, tokens_per_jet, available_jets, skipped)
            for settings, budget in expanded:
                point = _checked_point(study, self.base, settings, budget, where)
                if point.point_id not in seen:
                    seen.add(point.point_id)
                    points.append(point)
        return points, skipped

    def needs_tokens_per_jet(self) -> bool:
        return any("isoflop" in spec for spec in self.studies.values())


def _data_spec(raw: Any, source: str) -> DataSpec:
    if not isinstance(raw, Mapping):
        msg = (
            f"{source}: 'data' must give either generate: {{...}} or train: [...] (and val: [...])"
        )
        raise SweepConfigError(msg)
    if "shuffle" in raw:
        msg = (
            f"{source}: data.shuffle is no longer a setting: training reads its files "
            "side by side in a class-mixed order (jetscale.io.interleave), so nothing is "
            "merged or shuffled beforehand; remove the key"
        )
        raise SweepConfigError(msg)
    unknown = sorted(set(raw) - {"train", "val", "generate"})
    if unknown:
        msg = f"{source}: data has unknown key(s) {', '.join(unknown)}"
        raise SweepConfigError(msg)
    generate = raw.get("generate")
    train = raw.get("train") or ()
    if bool(generate) == bool(train):
        msg = f"{source}: data needs exactly one of 'generate' and 'train'"
        raise SweepConfigError(msg)
    if generate is not None:
        _check_generate(generate, source)
    for key in ("train", "val"):
        value = raw.get(key)
        if value is not None and not (
            isinstance(value, str)
            or (isinstance(value, list) and all(isinstance(v, str) for v in value))
        ):
            msg = f"{source}: data.{key} must be a path or a list of paths, got {value!r}"
            raise SweepConfigError(msg)
    as_tuple = lambda v: (v,) if isinstance(v, str) else tuple(v or ())  # noqa: E731
    return DataSpec(as_tuple(train), as_tuple(raw.get("val")), generate)


#: What data.generate may hold: key -> (type, what the value must be).
GENERATE_KEYS: dict[str, str] = {
    "classes": "a list of JetClass class names",
    "train_jets_per_class": "a positive integer",
    "val_jets_per_class": "a positive integer",
    "detector": "a detector card name",
    "seed": "an integer",
}


def _check_generate(generate: Any, source: str) -> None:
    """Every key of ``data.generate`` known and well typed, before anything is generated.

    A misspelt key (``detectr``) used to be ignored, and the sweep ran on the default card.
    """
    from jetscale.generate.cards import available_cards
    from jetscale.schema import CLASS_NAMES

    where = f"{source}: data.generate"
    if not isinstance(generate, Mapping):
        msg = f"{where} must be a mapping of {', '.join(GENERATE_KEYS)}, got {generate!r}"
        raise SweepConfigError(msg)
    unknown = sorted(set(generate) - set(GENERATE_KEYS))
    if unknown:
        msg = f"{where} has unknown key(s) {', '.join(map(repr, unknown))}; known: {', '.join(GENERATE_KEYS)}"
        raise SweepConfigError(msg)
    missing = sorted({"classes", "train_jets_per_class", "val_jets_per_class"} - set(generate))
    if missing:
        msg = f"{where} is missing {', '.join(missing)}"
        raise SweepConfigError(msg)
    for key, value in generate.items():
        if key == "classes":
            ok = isinstance(value, list) and bool(value) and all(v in CLASS_NAMES for v in value)
        elif key == "detector":
            ok = isinstance(value, str) and value in available_cards()
        elif key == "seed":
            ok = isinstance(value, int) and not isinstance(value, bool)
        else:
            ok = isinstance(value, int) and not isinstance(value, bool) and value > 0
        if not ok:
            extra = ""
            if key == "classes":
                extra = f" ({', '.join(CLASS_NAMES)})"
            elif key == "detector":
                extra = f" ({', '.join(available_cards())})"
            msg = f"{where}.{key} must be {GENERATE_KEYS[key]}{extra}, got {value!r}"
            raise SweepConfigError(msg)


def _check_keys(settings: Mapping[str, Any], where: str) -> None:
    unknown = sorted(set(settings) - MODEL_KEYS - TRAIN_KEYS)
    if unknown:
        msg = f"{where}: unknown setting(s) {', '.join(unknown)}; settings are TrainConfig or ModelConfig fields"
        raise SweepConfigError(msg)


def _checked_point(
    study: str,
    base: Mapping[str, Any],
    settings: Mapping[str, Any],
    budget: float | None,
    where: str,
) -> SweepPoint:
    """The point of ``base`` updated by ``settings``; every value checked by building its config."""
    merged = {**base, **settings}
    _check_keys(merged, where)
    point = SweepPoint(study, merged, budget)
    try:
        point.train_config(("x",), (), "x")  # type and value of every setting
    except (ValueError, TypeError) as err:
        msg = f"{where}: point {dict(settings)}: {err}"
        raise SweepConfigError(msg) from err
    return point


def _grid(grid: Any, where: str, block: str = "grid") -> list[dict[str, Any]]:
    if not isinstance(grid, Mapping):
        msg = f"{where}: '{block}' must be a mapping of setting -> list of values, got {grid!r}"
        raise SweepConfigError(msg)
    axes = []
    for key, values in grid.items():
        if not isinstance(values, list) or not values:
            msg = f"{where}: grid key {key!r} must be a non-empty list"
            raise SweepConfigError(msg)
        if all(isinstance(v, Mapping) for v in values):
            axes.append([dict(v) for v in values])  # keys varied together
        else:
            axes.append([{key: v} for v in values])
    return [{k: v for part in combo for k, v in part.items()} for combo in itertools.product(*axes)]


def _fixed_settings(spec: Mapping[str, Any], where: str) -> list[dict[str, Any]]:
    """The settings of a study's grid and points (those that need no data)."""
    out = _grid(spec["grid"], where) if "grid" in spec else []
    for point in spec.get("points", []) or []:
        if not isinstance(point, Mapping):
            msg = f"{where}: each entry of 'points' is a mapping of settings"
            raise SweepConfigError(msg)
        out.append(dict(point))
    return out


def _isoflop_block(block: Any, where: str) -> tuple[list[float], list[dict[str, Any]]]:
    """An isoflop block's budgets (FLOPs, checked positive numbers) and model shapes."""
    if not isinstance(block, Mapping):
        msg = f"{where}: 'isoflop' must be a mapping with budgets and model shapes, got {block!r}"
        raise SweepConfigError(msg)
    shapes = dict(block)
    budgets = shapes.pop("budgets", None)
    if not isinstance(budgets, list) or not budgets:
        msg = f"{where}: isoflop needs 'budgets', a list of training FLOPs (C = 6 N D n_bar)"
        raise SweepConfigError(msg)
    for budget in budgets:
        try:
            check_value("isoflop budget", budget, float)
        except FieldTypeError as err:
            msg = f"{where}: {err}"
            raise SweepConfigError(msg) from err
        if not budget > 0:
            msg = f"{where}: isoflop budget must be a positive number of FLOPs, got {budget!r}"
            raise SweepConfigError(msg)
    return [float(b) for b in budgets], _grid(shapes, where, "isoflop")


def _expand(
    spec: Mapping[str, Any],
    base: Mapping[str, Any],
    where: str,
    tokens_per_jet: Callable[[int], float] | None,
    available_jets: int | None,
    skipped: list[str],
) -> list[tuple[dict[str, Any], float | None]]:
    out: list[tuple[dict[str, Any], float | None]] = [
        (s, None) for s in _fixed_settings(spec, where)
    ]
    if "isoflop" in spec:
        budgets, shapes = _isoflop_block(spec["isoflop"], where)
        if tokens_per_jet is None:
            msg = (
                f"{where}: isoflop budgets need the mean constituents per jet of the training data"
            )
            raise SweepConfigError(msg)
        for budget in budgets:
            for settings in shapes:
                merged = {**base, **settings}
                model = ModelConfig.from_dict({k: v for k, v in merged.items() if k in MODEL_KEYS})
                n = count_parameters(model).non_embedding
                jets = round(budget / training_flops(n, tokens_per_jet(model.max_particles)))
                if jets < 1 or (available_jets is not None and jets > available_jets):
                    skipped.append(
                        f"{where}: budget {budget:.3g} with {settings} (N = {n}) needs "
                        f"{jets} jets; the training data has {available_jets}"
                    )
                    continue
                out.append(({**settings, "max_jets": jets, "epochs": 1}, budget))
    return out
