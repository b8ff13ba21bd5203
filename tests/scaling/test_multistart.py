"""The batched multi-start fit: its objective is the scalar one, and it reaches the optimum the
reference (scipy from one start at a time) reaches."""

from __future__ import annotations

import numpy as np
import pytest

from jetscale.scaling import data_law, fit_data_law, fit_parametric_law, multistart, parametric_law
from jetscale.scaling.multistart import lse_huber
from jetscale.scaling.parametric_fit import HUBER_DELTA, PARAMETERS, huber_objective

TRUTH = {"E": 0.6, "A": 40.0, "alpha": 0.34, "B": 300.0, "beta": 0.28}


def table(noise: float, seed: int = 3) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A 6 x 6 grid of (N, D) runs from the law with multiplicative log-normal noise."""
    n, d = np.meshgrid(np.logspace(4, 7, 6), np.logspace(5, 8, 6))
    n, d = n.ravel(), d.ravel()
    rng = np.random.default_rng(seed)
    return n, d, parametric_law(n, d, **TRUTH) * np.exp(rng.normal(0.0, noise, len(n)))


def test_batched_objective_is_the_scalar_one() -> None:
    n, d, loss = table(noise=0.2)  # residuals on both sides of delta
    args = (np.log(n), np.log(d), np.log(loss))
    theta = np.random.default_rng(0).normal([3.5, 5.0, -0.4, 0.3, 0.25], 0.5, (7, 5))
    values, grads = lse_huber(
        theta,
        np.broadcast_to(np.stack(args[:2]), (7, 2, 36)),
        np.tile(args[2], (7, 1)),
        HUBER_DELTA,
    )
    for k in range(7):
        value, grad = huber_objective(theta[k], *args)
        assert values[k] == value  # the same arithmetic
        np.testing.assert_allclose(grads[k], grad, rtol=1e-12, atol=1e-18)


def test_the_fast_fit_reaches_the_reference_optimum() -> None:
    """The 72-start fit, batched and one start at a time through scipy: the same optimum.

    The tolerances are those of the optimizer, not of the method: scipy's own fit
    moves by as much when the losses change in the 13th digit (L-BFGS-B stops at a
    relative decrease of 2.2e-9, and the Huber loss's kinks amplify rounding).
    """
    n, d, loss = table(noise=0.02)
    fast = fit_parametric_law(n, d, loss, n_bootstrap=0, method="batched")
    reference = fit_parametric_law(n, d, loss, n_bootstrap=0, method="scipy")
    assert fast.huber_loss == pytest.approx(reference.huber_loss, rel=1e-6)
    for name in PARAMETERS:
        assert fast.params[name] == pytest.approx(reference.params[name], rel=1e-3), name
    curve = {
        k: np.log(parametric_law(n, d, **f.params)) for k, f in (("fast", fast), ("ref", reference))
    }
    np.testing.assert_allclose(curve["fast"], curve["ref"], rtol=0, atol=2e-5)


def test_the_fast_data_law_fit_reaches_the_reference_optimum() -> None:
    d = np.logspace(4, 8, 9)
    loss = data_law(d, 0.8, 30.0, 0.3) * np.exp(np.random.default_rng(1).normal(0.0, 0.005, 9))
    fast = fit_data_law(d, loss, n_bootstrap=0, method="batched")
    reference = fit_data_law(d, loss, n_bootstrap=0, method="scipy")
    for name, value in reference.params.items():
        assert fast.params[name] == pytest.approx(value, rel=1e-4), name
    np.testing.assert_allclose(
        np.log(data_law(d, **fast.params)), np.log(data_law(d, **reference.params)), atol=2e-6
    )


def test_batches_change_no_result(monkeypatch: pytest.MonkeyPatch) -> None:
    """Resamples fitted one per batch give the fit of all in one, bit for bit."""
    n, d, loss = table(noise=0.02)
    together = fit_parametric_law(n, d, loss, n_bootstrap=6)
    monkeypatch.setattr(multistart, "BATCH_ELEMENTS", 1)
    assert fit_parametric_law(n, d, loss, n_bootstrap=6) == together


def test_an_unknown_method_is_refused() -> None:
    n, d, loss = table(noise=0.01)
    with pytest.raises(
        ValueError, match=r"method must be one of \('batched', 'scipy'\), got 'adam'"
    ):
        fit_parametric_law(n, d, loss, method="adam")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="method must be one of"):
        fit_data_law(d[:9], loss[:9], method="adam")  # type: ignore[arg-type]
