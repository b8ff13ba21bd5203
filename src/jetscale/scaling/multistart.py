"""The Huber fit of a log-sum-exp law from many starts, every start and resample at once.

L(N, D) and L(D) are both fitted as ``log L ~ LSE(c_1 - s_1 x_1, ..., c_m - s_m x_m, e)``
with ``x_j`` the logs of the scale variables (log N, log D): parameters
``theta = (c_1, ..., c_m, e, s_1, ..., s_m)``, i.e. ``(a, b, e, alpha, beta)``
for L(N, D) and ``(b, e, beta)`` for L(D). :func:`best_of_starts` minimises the
summed Huber loss from every start of every resample as one batch
(:func:`jetscale.scaling.batched_lbfgs.minimize_lbfgs`, scipy's L-BFGS-B step for
step) and keeps each resample's best start, as a loop over scipy fits would.
"""

from __future__ import annotations

import numpy as np

from jetscale.scaling.batched_lbfgs import minimize_lbfgs

#: Most terms (problems x LSE terms x points) evaluated at once: about 34 MB per array.
BATCH_ELEMENTS = 1 << 22


def logsumexp(terms: np.ndarray, axis: int = 0) -> np.ndarray:
    """Stable log-sum-exp over ``axis``.

    Hand-written because ``scipy.special.logsumexp`` (array-API dispatch) costs
    about 0.5 ms per call on a few dozen points, and the fits call it
    tens of thousands of times: it made a bootstrapped fit take minutes.
    """
    top = terms.max(axis=axis, keepdims=True)
    return np.squeeze(top, axis=axis) + np.log(np.exp(terms - top).sum(axis=axis))


def huber_loss(r: np.ndarray, delta: float) -> tuple[np.ndarray, np.ndarray]:
    """Huber loss of residuals ``r`` (quadratic within ``delta``, linear outside) and its derivative."""
    loss = np.where(np.abs(r) <= delta, 0.5 * r**2, delta * (np.abs(r) - 0.5 * delta))
    return loss, np.clip(r, -delta, delta)


def lse_huber(
    theta: np.ndarray, log_x: np.ndarray, log_l: np.ndarray, delta: float
) -> tuple[np.ndarray, np.ndarray]:
    """Summed Huber loss (K,) of ``LSE(c - s x, e) - log_l`` and its gradient (K, 2m + 1).

    ``theta`` (K, 2m + 1) as in the module docstring, ``log_x`` (K, m, P) and
    ``log_l`` (K, P): problem k's points. The loss is computed as in
    :func:`jetscale.scaling.parametric_fit.huber_objective`; the gradient differs
    in rounding only (the softmax weights reuse the log-sum-exp's exponentials,
    which saves a third of the time).
    """
    k, m, p = log_x.shape
    coef, e, slope = theta[:, :m], theta[:, m], theta[:, m + 1 :]
    terms = np.empty((k, m + 1, p))
    np.multiply(slope[:, :, None], log_x, out=terms[:, :m])
    np.subtract(coef[:, :, None], terms[:, :m], out=terms[:, :m])  # c_j - s_j x_j
    terms[:, m] = e[:, None]
    top = terms.max(axis=1)
    terms -= top[:, None]
    np.exp(terms, out=terms)  # (K, m + 1, P), each term's share of the sum times total
    total = terms.sum(axis=1)
    pred = top + np.log(total)  # (K, P): the log-sum-exp
    loss, dr = huber_loss(pred - log_l, delta)
    dr_share = dr / total  # d loss / d term = dr * terms / total (the softmax weights)
    grad_coef = np.einsum("kp,ktp->kt", dr_share, terms)  # c_1..c_m, e
    grad_slope = -np.einsum("kp,kjp,kjp->kj", dr_share, terms[:, :m], log_x)
    return loss.sum(axis=-1), np.concatenate([grad_coef, grad_slope], axis=1)


def best_of_starts(
    log_x: np.ndarray, log_l: np.ndarray, starts: np.ndarray, delta: float
) -> tuple[np.ndarray, np.ndarray]:
    """Each resample's best optimum over its starts: ``theta`` (R, 2m + 1) and loss (R,).

    ``log_x`` (R, m, P) and ``log_l`` (R, P) are R resamples of P points,
    ``starts`` (R, S, 2m + 1) their starting points. Like a loop keeping the
    first strictly lower finite loss, ties go to the earlier start; a resample
    whose every start ends at a non-finite loss gets loss ``inf`` (the caller
    says what failed). Resamples go in batches of at most :data:`BATCH_ELEMENTS`
    terms, which bounds the memory and changes no result (a problem's arithmetic
    does not depend on its batch).
    """
    n_resamples, n_starts, _ = starts.shape
    _, m, n_points = log_x.shape
    per_resample = n_starts * (m + 1) * n_points
    step = max(1, BATCH_ELEMENTS // per_resample)
    fits = [
        _best_of_starts(log_x[i : i + step], log_l[i : i + step], starts[i : i + step], delta)
        for i in range(0, n_resamples, step)
    ]
    return np.concatenate([t for t, _ in fits]), np.concatenate([v for _, v in fits])


def _best_of_starts(
    log_x: np.ndarray, log_l: np.ndarray, starts: np.ndarray, delta: float
) -> tuple[np.ndarray, np.ndarray]:
    n_resamples, n_starts, n_params = starts.shape
    which = np.repeat(np.arange(n_resamples), n_starts)  # problem -> resample

    def objective(theta: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return lse_huber(theta, log_x[which[rows]], log_l[which[rows]], delta)

    result = minimize_lbfgs(objective, starts.reshape(-1, n_params))
    values = np.where(np.isfinite(result.fun), result.fun, np.inf).reshape(n_resamples, n_starts)
    best = np.argmin(values, axis=1)
    picked = np.arange(n_resamples)
    theta = result.x.reshape(n_resamples, n_starts, n_params)[picked, best]
    return theta, values[picked, best]
