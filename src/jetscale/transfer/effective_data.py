"""The effective data transferred by pretraining (Hernandez et al. 2021, *Scaling laws for transfer*).

A model fine-tuned on ``D_F`` labelled jets reaches validation loss ``L_ft``. The
scratch law ``L(D) = L_inf + B / D^beta``, fitted to models of the same
architecture trained from a random initialisation on ``D`` labelled jets, says
how many labelled jets a scratch model needs for that loss: the *effective data*

    D_E = L^-1(L_ft) = (B / (L_ft - L_inf))^(1 / beta),

and the *effective data transferred* ``D_T = D_E - D_F`` is what pretraining is
worth in labelled jets. Hernandez et al. find ``D_T = k D_F^alpha`` (a straight
line in log-log), :func:`fit_power_law`.

``D_E`` is left undefined (``None`` and a status, never a number) when:

* ``L_ft <= L_inf`` (:data:`BELOW_ASYMPTOTE`): no amount of scratch data reaches
  the loss; the inverse would be infinite or negative;
* ``D_E`` lies beyond ``max_extrapolation`` times the largest scratch ``D``
  (:data:`ABOVE_RANGE`) or below the smallest scratch ``D`` divided by it
  (:data:`BELOW_RANGE`): the fitted law is an extrapolation there, and a power
  law extrapolated by orders of magnitude is not a measurement;
* the scratch law could not be fitted (:data:`NO_SCRATCH_FIT`: fewer than
  three distinct ``D``, no convergence, or a law that does not fall with D,
  ``B <= 0`` or ``beta <= 0.001``).

A defined ``D_T <= 0`` (the fine-tuned model is no better than scratch at the
same ``D``: negative transfer) is reported as the number it is; the power-law
fit, in logs, uses the points with ``D_T > 0`` and lists the others.

Uncertainties: every bootstrap replicate resamples, at every ``D``, the seeds of
the scratch runs and of each fine-tuned setting (with replacement, independently),
refits the scratch law, and recomputes every ``D_E``, ``D_T`` and power law; the
intervals are the central 90% of the replicates in which the quantity is defined,
and ``defined_fraction`` says in how many it was. With one seed at some scratch
``D`` there is no spread to resample and no intervals are given.

Nothing here reads files or fits the scratch law itself: the caller passes the
fit (``jetscale transfer-study`` passes :func:`jetscale.scaling.data_fit.fit_data_law`),
so the module is pure NumPy and is tested on synthetic tables.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

#: ``D_E`` defined and inside the range the scratch law was measured on (extended).
DEFINED = "defined"
#: ``L_ft <= L_inf``: no scratch data set reaches the loss (``D_E`` would be infinite).
BELOW_ASYMPTOTE = "below_scratch_asymptote"
#: ``D_E`` more than ``max_extrapolation`` times the largest scratch ``D``.
ABOVE_RANGE = "above_extrapolation_range"
#: ``D_E`` less than the smallest scratch ``D`` over ``max_extrapolation``.
BELOW_RANGE = "below_extrapolation_range"
#: The scratch law could not be fitted, so nothing can be inverted.
NO_SCRATCH_FIT = "no_scratch_fit"
#: The policy name of the baseline.
SCRATCH = "scratch"
#: Central interval of the bootstrap replicates, in percent.
INTERVAL = (5.0, 95.0)

#: ``n -> validation losses of the seeds`` of one setting.
LossesByN = Mapping[int, Sequence[float]]
#: ``(D, loss) -> ScratchLaw``; raises ``ValueError`` when it cannot fit.
LawFitter = Callable[[np.ndarray, np.ndarray], "ScratchLaw"]


@dataclasses.dataclass(frozen=True)
class ScratchLaw:
    """``L(D) = L_inf + B / D^beta`` of models trained from scratch on D labelled jets."""

    L_inf: float
    B: float
    beta: float

    def loss(self, D: ArrayLike) -> np.ndarray:
        """The law at ``D`` jets (:func:`jetscale.scaling.laws.data_law`)."""
        return self.L_inf + self.B / np.asarray(D, dtype=np.float64) ** self.beta

    def data_for_loss(self, loss: ArrayLike) -> np.ndarray:
        """:func:`inverse_data_law` of this law."""
        return inverse_data_law(loss, self.L_inf, self.B, self.beta)


def inverse_data_law(loss: ArrayLike, L_inf: float, B: float, beta: float) -> np.ndarray:
    """The jets ``D`` at which ``L_inf + B / D^beta`` equals ``loss``; NaN where ``loss <= L_inf``.

    ``D = (B / (loss - L_inf))^(1 / beta)`` for ``B, beta > 0``; NaN for a law
    that does not fall with D (``B <= 0`` or ``beta <= 0``).
    """
    losses = np.asarray(loss, dtype=np.float64)
    excess = losses - L_inf
    if not (B > 0 and beta > 0):
        return np.full_like(losses, np.nan)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # inf: beyond any range
        d = (B / excess) ** (1.0 / beta)
    return np.where(excess > 0, d, np.nan)


@dataclasses.dataclass(frozen=True)
class EffectiveData:
    """``D_E`` of one loss, or why it is undefined."""

    status: str  # DEFINED or one of the undefined statuses
    D_E: float | None  # jets; None unless DEFINED


def effective_data(
    loss: float, law: ScratchLaw, data_range: tuple[float, float], max_extrapolation: float
) -> EffectiveData:
    """``D_E`` of ``loss`` under ``law``, defined only within the extended scratch range.

    ``data_range`` is the smallest and largest scratch ``D``; ``D_E`` must lie in
    ``[data_range[0] / max_extrapolation, data_range[1] * max_extrapolation]``.
    """
    if not math.isfinite(loss) or loss <= law.L_inf:
        return EffectiveData(BELOW_ASYMPTOTE, None)
    d = float(law.data_for_loss(loss))
    if math.isnan(d):  # a law that does not fall with D
        return EffectiveData(BELOW_ASYMPTOTE, None)
    if d > data_range[1] * max_extrapolation:  # inf included
        return EffectiveData(ABOVE_RANGE, None)
    if d < data_range[0] / max_extrapolation:
        return EffectiveData(BELOW_RANGE, None)
    return EffectiveData(DEFINED, d)


@dataclasses.dataclass(frozen=True)
class PowerLaw:
    """``D_T = k D_F^alpha``, least squares in ``log D_T`` against ``log D_F``."""

    k: float
    alpha: float
    rms_log_residual: float
    n_points: int

    def __call__(self, D_F: ArrayLike) -> np.ndarray:
        return self.k * np.asarray(D_F, dtype=np.float64) ** self.alpha


def fit_power_law(D_F: ArrayLike, D_T: ArrayLike) -> PowerLaw:
    """Fit ``D_T = k D_F^alpha``: a straight line through ``(log D_F, log D_T)``.

    Needs at least two distinct ``D_F`` and every value positive (``ValueError`` otherwise).
    """
    x = np.asarray(D_F, dtype=np.float64).ravel()
    y = np.asarray(D_T, dtype=np.float64).ravel()
    if len(x) != len(y):
        msg = f"D_F and D_T must have the same length, got {len(x)} and {len(y)}"
        raise ValueError(msg)
    if not (np.all(x > 0) and np.all(y > 0)):
        msg = "D_T = k D_F^alpha is fitted in logs: every D_F and D_T must be positive"
        raise ValueError(msg)
    if len(np.unique(x)) < 2:
        msg = f"D_T = k D_F^alpha needs at least two distinct D_F, got {len(np.unique(x))}"
        raise ValueError(msg)
    alpha, log_k = np.polyfit(np.log(x), np.log(y), 1)
    residual = np.log(y) - (log_k + alpha * np.log(x))
    return PowerLaw(
        float(np.exp(log_k)), float(alpha), float(np.sqrt(np.mean(residual**2))), len(x)
    )


@dataclasses.dataclass(frozen=True)
class TransferPoint:
    """One fine-tuned setting at one ``D_F``: its mean loss over seeds, ``D_E`` and ``D_T``."""

    backbone: str
    policy: str
    D_F: int  # labelled jets of the fine-tuning
    n_seeds: int
    loss_mean: float
    loss_std: float  # over seeds (0 with one seed)
    scratch_loss_mean: float | None  # the scratch runs at the same D, if any
    status: str
    D_E: float | None
    D_T: float | None
    D_E_interval: tuple[float, float] | None
    D_T_interval: tuple[float, float] | None
    defined_fraction: float | None  # of the bootstrap replicates


@dataclasses.dataclass(frozen=True)
class TransferFit:
    """``D_T = k D_F^alpha`` of one (backbone, policy), or why it was not fitted."""

    backbone: str
    policy: str
    status: str  # "fitted", "too_few_points" or NO_SCRATCH_FIT
    reason: str | None
    k: float | None
    alpha: float | None
    k_interval: tuple[float, float] | None
    alpha_interval: tuple[float, float] | None
    rms_log_residual: float | None
    D_F: tuple[int, ...]  # the points fitted
    excluded: dict[int, str]  # D_F -> why it is not in the fit (undefined, D_T <= 0)
    defined_fraction: float | None  # of the bootstrap replicates that could fit it


@dataclasses.dataclass(frozen=True)
class TransferAnalysis:
    """The scratch law, every point's ``D_E`` and ``D_T``, and the power law per setting."""

    scratch: dict[str, Any]
    points: list[TransferPoint]
    fits: list[TransferFit]
    bootstrap: dict[str, Any]
    max_extrapolation: float

    def to_dict(self) -> dict[str, Any]:
        """Plain data for ``transfer.json`` (undefined numbers are ``None``)."""
        return {
            "definition": (
                "D_E = (B / (L_ft - L_inf))^(1/beta), the labelled jets a model trained from "
                "scratch needs for the fine-tuned validation loss L_ft under the scratch law "
                "L(D) = L_inf + B / D^beta; D_T = D_E - D_F; D_T = k D_F^alpha fitted in logs"
            ),
            "max_extrapolation": self.max_extrapolation,
            "scratch": self.scratch,
            "bootstrap": self.bootstrap,
            "points": [dataclasses.asdict(p) for p in self.points],
            "fits": [
                {**dataclasses.asdict(f), "excluded": {str(k): v for k, v in f.excluded.items()}}
                for f in self.fits
            ],
        }


def losses_by_setting(
    rows: Iterable[Mapping[str, Any]], loss_key: str = "val_loss"
) -> tuple[dict[int, list[float]], dict[tuple[str, str], dict[int, list[float]]]]:
    """Scratch and fine-tuned losses from result rows (``backbone``, ``policy``, ``n``, ``loss_key``).

    Rows whose loss is not finite are left out.
    """
    scratch: dict[int, list[float]] = {}
    finetuned: dict[tuple[str, str], dict[int, list[float]]] = {}
    for row in rows:
        loss = float(row[loss_key])
        if not math.isfinite(loss):
            continue
        n = int(row["n"])
        if row["policy"] == SCRATCH:
            scratch.setdefault(n, []).append(loss)
        else:
            setting = (str(row["backbone"]), str(row["policy"]))
            finetuned.setdefault(setting, {}).setdefault(n, []).append(loss)
    return scratch, finetuned


def transfer_analysis(
    scratch: LossesByN,
    finetuned: Mapping[tuple[str, str], LossesByN],
    fit_law: LawFitter,
    n_bootstrap: int = 100,
    seed: int = 0,
    max_extrapolation: float = 10.0,
) -> TransferAnalysis:
    """``D_E``, ``D_T`` and ``D_T = k D_F^alpha`` of every fine-tuned setting, with intervals.

    ``scratch`` maps D to the scratch losses of its seeds; ``finetuned`` maps
    (backbone, policy) to the same for each fine-tuned setting. ``fit_law`` fits
    the scratch law to all scratch runs (one point per seed).
    """
    if max_extrapolation < 1:
        msg = f"max_extrapolation must be >= 1, got {max_extrapolation}"
        raise ValueError(msg)
    d_scratch, l_scratch = _flatten(scratch)
    data_range = (float(d_scratch.min()), float(d_scratch.max())) if len(d_scratch) else None
    law, reason = _try_fit(fit_law, d_scratch, l_scratch)
    central = _evaluate(law, finetuned, data_range, max_extrapolation)
    replicates, bootstrap = _bootstrap(
        scratch, finetuned, fit_law, n_bootstrap, seed, data_range, max_extrapolation, law
    )
    scratch_summary: dict[str, Any] = {
        "status": "fitted" if law is not None else NO_SCRATCH_FIT,
        "reason": reason,
        "n_points": len(d_scratch),
        "D_range": list(data_range) if data_range else None,
        "extrapolation_range": [
            data_range[0] / max_extrapolation,
            data_range[1] * max_extrapolation,
        ]
        if data_range
        else None,
        "params": dataclasses.asdict(law) if law is not None else None,
        "intervals": _law_intervals([r.law for r in replicates if r.law]) if replicates else None,
        "mean_loss": {str(n): float(np.mean(v)) for n, v in sorted(scratch.items())},
    }
    points, fits = _summaries(central, replicates, scratch, finetuned, reason, bool(replicates))
    return TransferAnalysis(scratch_summary, points, fits, bootstrap, max_extrapolation)


@dataclasses.dataclass(frozen=True)
class _Evaluation:
    """Every setting's D_E per D, and its power law (or why it was not fitted), under one law."""

    law: ScratchLaw | None
    effective: dict[tuple[str, str], dict[int, EffectiveData]]
    powers: dict[tuple[str, str], PowerLaw | str]


def _flatten(losses: LossesByN) -> tuple[np.ndarray, np.ndarray]:
    d = [float(n) for n, values in losses.items() for _ in values]
    values = [float(v) for _, vs in losses.items() for v in vs]
    return np.asarray(d, dtype=np.float64), np.asarray(values, dtype=np.float64)


def _try_fit(
    fit_law: LawFitter, d: np.ndarray, loss: np.ndarray
) -> tuple[ScratchLaw | None, str | None]:
    if len(d) == 0:
        return None, "no finished scratch runs"
    try:
        law = fit_law(d, loss)
    except ValueError as err:  # FitError is a ValueError: too few points, no convergence
        return None, str(err)
    if not (law.B > 0 and law.beta > 1e-3):
        return None, (
            f"the fitted scratch law does not fall with D (B = {law.B:.3g}, beta = "
            f"{law.beta:.3g}): the scratch loss does not improve with more labelled jets here"
        )
    return law, None


def _evaluate(
    law: ScratchLaw | None,
    finetuned: Mapping[tuple[str, str], LossesByN],
    data_range: tuple[float, float] | None,
    max_extrapolation: float,
) -> _Evaluation:
    """Every setting's D_E at its mean loss per D, and its power law, under ``law``."""
    effective: dict[tuple[str, str], dict[int, EffectiveData]] = {}
    laws: dict[tuple[str, str], PowerLaw | str] = {}
    for setting, by_n in finetuned.items():
        effective[setting] = {
            n: effective_data(float(np.mean(v)), law, data_range, max_extrapolation)
            if law is not None and data_range is not None
            else EffectiveData(NO_SCRATCH_FIT, None)
            for n, v in sorted(by_n.items())
        }
        usable = {
            n: e.D_E - n for n, e in effective[setting].items() if e.D_E is not None and n < e.D_E
        }
        if len(usable) < 2:
            laws[setting] = f"{len(usable)} D_F with a defined D_T > 0; the power law needs 2"
        else:
            laws[setting] = fit_power_law(list(usable), list(usable.values()))
    return _Evaluation(law, effective, laws)


def _resampled(losses: LossesByN, rng: np.random.Generator) -> dict[int, list[float]]:
    return {
        n: list(rng.choice(np.asarray(v, dtype=np.float64), size=len(v))) for n, v in losses.items()
    }


def _bootstrap(
    scratch: LossesByN,
    finetuned: Mapping[tuple[str, str], LossesByN],
    fit_law: LawFitter,
    n_bootstrap: int,
    seed: int,
    data_range: tuple[float, float] | None,
    max_extrapolation: float,
    law: ScratchLaw | None,
) -> tuple[list[_Evaluation], dict[str, Any]]:
    info: dict[str, Any] = {
        "requested": n_bootstrap,
        "seed": seed,
        "method": "at every D, the seeds of the scratch runs and of each fine-tuned setting "
        "resampled with replacement; the scratch law refitted; intervals are the central "
        f"{INTERVAL[1] - INTERVAL[0]:g}% of the replicates in which a quantity is defined",
    }
    fewest = min((len(v) for v in scratch.values()), default=0)
    skip = None
    if n_bootstrap <= 0:
        skip = "no bootstrap replicates requested"
    elif law is None:
        skip = "the scratch law could not be fitted"
    elif fewest < 2:
        skip = "one seed at some scratch D: nothing to resample (run at least 2 seeds, 3 or more for intervals worth quoting)"
    if skip is not None:
        return [], {**info, "used": 0, "reason": skip}
    rng = np.random.default_rng(seed)
    replicates = []
    for _ in range(n_bootstrap):
        d, loss = _flatten(_resampled(scratch, rng))
        resampled = {s: _resampled(v, rng) for s, v in finetuned.items()}
        fitted, _ = _try_fit(fit_law, d, loss)
        if fitted is not None:
            replicates.append(_evaluate(fitted, resampled, data_range, max_extrapolation))
    return replicates, {**info, "used": len(replicates), "reason": None}


def _interval(values: Sequence[float]) -> tuple[float, float] | None:
    finite = [v for v in values if v is not None and math.isfinite(v)]
    if not finite:
        return None
    low, high = np.percentile(finite, INTERVAL)
    return float(low), float(high)


def _law_intervals(laws: Sequence[ScratchLaw]) -> dict[str, tuple[float, float] | None]:
    return {
        name: _interval([getattr(law, name) for law in laws]) for name in ("L_inf", "B", "beta")
    }


def _summaries(
    central: _Evaluation,
    replicates: Sequence[_Evaluation],
    scratch: LossesByN,
    finetuned: Mapping[tuple[str, str], LossesByN],
    reason: str | None,
    with_intervals: bool,
) -> tuple[list[TransferPoint], list[TransferFit]]:
    effective, laws = central.effective, central.powers
    points, fits = [], []
    for setting in sorted(finetuned):
        backbone, policy = setting
        for n, values in sorted(finetuned[setting].items()):
            e = effective[setting][n]
            boot = (r.effective[setting][n].D_E for r in replicates)  # None: undefined there
            defined = [v for v in boot if v is not None]
            points.append(
                TransferPoint(
                    backbone=backbone,
                    policy=policy,
                    D_F=int(n),
                    n_seeds=len(values),
                    loss_mean=float(np.mean(values)),
                    loss_std=float(np.std(values)),
                    scratch_loss_mean=float(np.mean(scratch[n])) if n in scratch else None,
                    status=e.status,
                    D_E=e.D_E,
                    D_T=e.D_E - n if e.D_E is not None else None,
                    D_E_interval=_interval(defined) if with_intervals else None,
                    D_T_interval=_interval([v - n for v in defined]) if with_intervals else None,
                    defined_fraction=len(defined) / len(replicates) if with_intervals else None,
                )
            )
        fits.append(
            _fit_summary(
                setting, effective[setting], laws[setting], replicates, reason, with_intervals
            )
        )
    return points, fits


def _fit_summary(
    setting: tuple[str, str],
    effective: Mapping[int, EffectiveData],
    power: PowerLaw | str,
    replicates: Sequence[_Evaluation],
    reason: str | None,
    with_intervals: bool,
) -> TransferFit:
    excluded = {
        n: e.status if e.D_E is None else "D_T <= 0 (negative transfer)"
        for n, e in effective.items()
        if e.D_E is None or n >= e.D_E
    }
    fitted = [p for p in (r.powers[setting] for r in replicates) if isinstance(p, PowerLaw)]
    why: str | None = None
    if reason is not None:
        status, why = NO_SCRATCH_FIT, f"the scratch law could not be fitted: {reason}"
    elif isinstance(power, PowerLaw):
        status = "fitted"
    else:
        status, why = "too_few_points", power
    found = power if isinstance(power, PowerLaw) and reason is None else None
    return TransferFit(
        backbone=setting[0],
        policy=setting[1],
        status=status,
        reason=why,
        k=found.k if found else None,
        alpha=found.alpha if found else None,
        k_interval=_interval([p.k for p in fitted]) if with_intervals else None,
        alpha_interval=_interval([p.alpha for p in fitted]) if with_intervals else None,
        rms_log_residual=found.rms_log_residual if found else None,
        D_F=tuple(n for n in effective if n not in excluded) if found else (),
        excluded=excluded,
        defined_fraction=len(fitted) / len(replicates) if with_intervals else None,
    )
