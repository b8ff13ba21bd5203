"""The effective data transferred, on synthetic tables made from a known scratch law and D_T."""

from __future__ import annotations

import math

import numpy as np
import pytest

from jetscale.scaling.data_fit import fit_data_law
from jetscale.scaling.laws import data_law
from jetscale.transfer.effective_data import (
    ABOVE_RANGE,
    BELOW_ASYMPTOTE,
    BELOW_RANGE,
    DEFINED,
    NO_SCRATCH_FIT,
    ScratchLaw,
    effective_data,
    fit_power_law,
    inverse_data_law,
    losses_by_setting,
    transfer_analysis,
)

LAW = ScratchLaw(L_inf=0.5, B=5.0, beta=0.4)
N = (100, 300, 1000, 3000, 10_000)


def fit(d: np.ndarray, loss: np.ndarray) -> ScratchLaw:
    params = fit_data_law(d, loss, n_bootstrap=0).params
    return ScratchLaw(params["L_inf"], params["B"], params["beta"])


def test_the_inverse_undoes_the_law() -> None:
    d = np.geomspace(10, 1e6, 20)
    assert LAW.loss(d) == pytest.approx(data_law(d, 0.5, 5.0, 0.4))
    assert inverse_data_law(LAW.loss(d), 0.5, 5.0, 0.4) == pytest.approx(d, rel=1e-9)
    # At or below the asymptote no D reaches the loss.
    assert np.isnan(inverse_data_law([0.5, 0.4], 0.5, 5.0, 0.4)).all()
    assert np.isnan(inverse_data_law([1.0], 0.5, 5.0, -0.1)).all()  # a law that does not fall


def test_undefined_effective_data_is_a_status_not_a_number() -> None:
    span = (100.0, 10_000.0)
    defined = effective_data(float(LAW.loss(2000)), LAW, span, 10)
    jets = defined.D_E
    assert defined.status == DEFINED and jets == pytest.approx(2000.0)
    for loss, status in [
        (0.5, BELOW_ASYMPTOTE),
        (0.45, BELOW_ASYMPTOTE),
        (math.nan, BELOW_ASYMPTOTE),
        (float(LAW.loss(2e5)), ABOVE_RANGE),  # 20x the largest scratch D
        (float(LAW.loss(5.0)), BELOW_RANGE),  # 1/20 of the smallest
    ]:
        result = effective_data(loss, LAW, span, 10)
        assert (result.status, result.D_E) == (status, None)
    assert effective_data(float(LAW.loss(2e5)), LAW, span, 100).status == DEFINED
    # Just above the asymptote of a shallow law D_E overflows: beyond any range, no warning.
    shallow = ScratchLaw(0.5, 5.0, 0.01)
    assert effective_data(0.5 + 1e-12, shallow, span, 10).status == ABOVE_RANGE


def test_the_power_law_fit_is_exact_on_a_power_law() -> None:
    d_f = np.array([100, 1000, 10_000])
    power = fit_power_law(d_f, 30 * d_f**0.6)
    assert (power.k, power.alpha) == pytest.approx((30, 0.6))
    assert power.rms_log_residual < 1e-9 and power.n_points == 3
    with pytest.raises(ValueError, match="positive"):
        fit_power_law([100, 1000], [10, -1])
    with pytest.raises(ValueError, match="two distinct D_F"):
        fit_power_law([100, 100], [10, 20])


def synthetic_rows(
    k: float, alpha: float, noise: float, seeds: int, seed: int = 1
) -> list[dict[str, object]]:
    """Result rows: scratch on LAW, and a fine-tuned setting with D_T = k D_F^alpha exactly."""
    rng = np.random.default_rng(seed)
    rows: list[dict[str, object]] = []
    for n in N:
        for s in range(seeds):
            scratch = float(LAW.loss(n)) * (1 + noise * rng.normal())
            tuned = float(LAW.loss(n + k * n**alpha)) * (1 + noise * rng.normal())
            rows.append(
                {"backbone": "scratch", "policy": "scratch", "n": n, "seed": s, "val_loss": scratch}
            )
            rows.append({"backbone": "mpm", "policy": "full", "n": n, "seed": s, "val_loss": tuned})
    return rows


@pytest.mark.parametrize("table_seed", [1, 4, 7])
def test_k_and_alpha_are_recovered_from_a_noisy_table(table_seed: int) -> None:
    """D_T = 30 D_F^0.5, 0.1% Gaussian loss noise per run, 3 seeds: alpha within 0.05, k within 25%.

    The inversion amplifies noise where L_ft nears L_inf (dD/D = -dL / (beta B D^-beta)):
    0.1% of the loss is a 5% error of D_E at D_E = 13,000 here, 0.3% gives alpha 0.42-0.59.
    """
    rows = synthetic_rows(30.0, 0.5, 0.001, seeds=3, seed=table_seed)
    scratch, finetuned = losses_by_setting(rows)
    analysis = transfer_analysis(scratch, finetuned, fit, n_bootstrap=10, seed=0)
    (fitted,) = analysis.fits
    assert fitted.status == "fitted" and fitted.D_F == N and fitted.excluded == {}
    assert fitted.alpha == pytest.approx(0.5, abs=0.05)
    assert fitted.k == pytest.approx(30.0, rel=0.25)
    assert fitted.alpha_interval is not None and fitted.k_interval is not None
    assert fitted.alpha_interval[0] < fitted.alpha_interval[1]
    assert analysis.scratch["params"]["beta"] == pytest.approx(0.4, abs=0.03)
    assert analysis.bootstrap["used"] == 10
    for point in analysis.points:
        truth = 30.0 * point.D_F**0.5
        assert point.status == DEFINED and point.n_seeds == 3
        transferred, effective = point.D_T, point.D_E
        assert transferred == pytest.approx(truth, rel=0.2)
        assert effective == pytest.approx(point.D_F + transferred)
        assert point.D_T_interval is not None and point.defined_fraction == 1.0


def test_without_noise_the_recovery_is_exact() -> None:
    scratch, finetuned = losses_by_setting(synthetic_rows(30.0, 0.5, 0.0, seeds=1))
    analysis = transfer_analysis(scratch, finetuned, fit, n_bootstrap=10)
    (fitted,) = analysis.fits
    assert (fitted.k, fitted.alpha) == pytest.approx((30.0, 0.5), rel=1e-3)
    # One seed: nothing to resample, so no intervals, and the JSON says why.
    assert fitted.alpha_interval is None and analysis.bootstrap["used"] == 0
    assert "one seed" in analysis.bootstrap["reason"]


def test_undefined_points_are_reported_and_left_out_of_the_fit() -> None:
    rows = synthetic_rows(30.0, 0.5, 0.0, seeds=2)
    # A backbone better than any amount of scratch data at n = 10000 (below L_inf) and
    # one far beyond the extrapolation range at n = 3000; negative transfer at n = 100.
    rows += [
        {"backbone": "odd", "policy": "full", "n": 10_000, "seed": s, "val_loss": 0.45}
        for s in range(2)
    ]
    rows += [
        {
            "backbone": "odd",
            "policy": "full",
            "n": 3000,
            "seed": s,
            "val_loss": float(LAW.loss(1e7)),
        }
        for s in range(2)
    ]
    rows += [
        {"backbone": "odd", "policy": "full", "n": n, "seed": s, "val_loss": float(LAW.loss(d))}
        for n, d in ((100, 50), (300, 900), (1000, 4000))
        for s in range(2)
    ]
    scratch, finetuned = losses_by_setting(rows)
    analysis = transfer_analysis(scratch, finetuned, fit, n_bootstrap=5)
    odd = {p.D_F: p for p in analysis.points if p.backbone == "odd"}
    assert (odd[10_000].status, odd[10_000].D_E, odd[10_000].D_T) == (BELOW_ASYMPTOTE, None, None)
    assert (odd[3000].status, odd[3000].D_E) == (ABOVE_RANGE, None)
    negative = odd[100].D_T
    assert odd[100].status == DEFINED and negative == pytest.approx(-50, rel=1e-3)
    fitted = next(f for f in analysis.fits if f.backbone == "odd")
    assert fitted.D_F == (300, 1000)  # the two points with D_T > 0
    assert fitted.excluded == {
        100: "D_T <= 0 (negative transfer)",
        3000: ABOVE_RANGE,
        10_000: BELOW_ASYMPTOTE,
    }
    assert fitted.alpha == pytest.approx(np.log(3000 / 600) / np.log(1000 / 300))
    as_json = analysis.to_dict()
    assert (
        next(p for p in as_json["points"] if p["D_F"] == 10_000 and p["backbone"] == "odd")["D_E"]
        is None
    )
    assert as_json["fits"][1]["excluded"]["10000"] == BELOW_ASYMPTOTE


def test_without_a_scratch_law_every_point_says_so() -> None:
    rows = [r for r in synthetic_rows(30.0, 0.5, 0.0, seeds=2) if r["n"] in (100, 1000)]
    scratch, finetuned = losses_by_setting(rows)
    analysis = transfer_analysis(scratch, finetuned, fit, n_bootstrap=5)
    assert analysis.scratch["status"] == NO_SCRATCH_FIT
    assert "3 distinct D" in analysis.scratch["reason"]
    assert {p.status for p in analysis.points} == {NO_SCRATCH_FIT}
    assert all(p.D_E is None and p.D_T is None for p in analysis.points)
    (fitted,) = analysis.fits
    assert fitted.status == NO_SCRATCH_FIT and fitted.k is None
    assert "scratch law could not be fitted" in fitted.reason
    # No scratch runs at all: the same, with its own reason.
    empty = transfer_analysis({}, finetuned, fit, n_bootstrap=5)
    assert empty.scratch["reason"] == "no finished scratch runs"
