"""L-BFGS for many small unconstrained problems at once, step for step as scipy's L-BFGS-B.

The scaling fits solve thousands of 3- or 5-parameter problems (every start of
every bootstrap resample). One at a time through ``scipy.optimize.minimize``,
each objective evaluation costs about 100 us of Python overhead for a few
microseconds of arithmetic, so ``jetscale fit`` took minutes. Here every
problem advances together: one numpy call evaluates the objective of all
problems still running, and the optimizer's own bookkeeping is vectorised too.

The algorithm is scipy's ``L-BFGS-B`` without bounds (``scipy/optimize/src/lbfgsb.c``),
with its defaults, so each problem takes the steps scipy takes from the same start:

* ``maxcor`` = 10 correction pairs, ``B0 = theta I`` with ``theta = y'y / s'y``
  of the newest pair; an update is skipped when ``s'y <= eps * (-g's)``;
* the first step (and every step after the memory is dropped) is along
  ``-g``, of length 1 at the first iteration;
* the Moré-Thuente line search ``dcsrch`` (sufficient decrease 1e-3,
  curvature 0.9, xtol 0.1), at most ``maxls`` = 20 evaluations; a failed
  search drops the memory and restarts along ``-g``, or ends the problem
  (at its last accepted point) when the memory was empty already;
* stop when ``max |g_i| <= gtol`` or ``(f_old - f) / max(|f_old|, |f|, 1) <= ftol``.

The direction comes from the two-loop recursion instead of L-BFGS-B's compact
form: the same matrix, summed in another order. On a smooth problem the
iterates are scipy's to rounding (the tests check Rosenbrock's: the same
evaluations, x to 1e-9). On the fits' Huber losses, whose kinks amplify
rounding, the paths part after a few tens of evaluations, as scipy's own do
when the losses change in the 13th digit, and end at optima of the same loss
within scipy's tolerance. Each problem's arithmetic is its own: its result does
not depend on which other problems share the batch.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

#: ``fun(x, rows)``: the objective and its gradient at ``x`` (K, n) for the problems ``rows`` (K,).
BatchObjective = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]

EPS = float(np.finfo(np.float64).eps)
#: The line search's constants in L-BFGS-B (``lnsrlb``) and Moré-Thuente's extrapolation limits.
_LS_FTOL, _LS_GTOL, _LS_XTOL = 1e-3, 0.9, 0.1
_STPMAX = 1e10
_XTRAPL, _XTRAPU = 1.1, 4.0

#: Why a problem stopped (``BatchResult.status``).
CONVERGED_GRADIENT, CONVERGED_F, ABNORMAL, LIMIT = 0, 1, 2, 3


@dataclasses.dataclass(frozen=True)
class BatchResult:
    """Where each problem stopped: ``x`` (K, n), ``fun`` (K,), ``nfev`` and ``status`` (K,)."""

    x: np.ndarray
    fun: np.ndarray
    nfev: np.ndarray
    status: np.ndarray  # CONVERGED_GRADIENT, CONVERGED_F, ABNORMAL (line search failed), LIMIT


# Columns of the per-problem scalars (one row per problem): f, the iteration's start,
# and dcsrch's saved variables (brackt and stage as 0/1 and 1/2).
(F, FOLD, GDOLD, STP, THETA, FINIT, GINIT, GTEST) = range(8)
(STX, FX, GX, STY, FY, GY, STMIN, STMAX, WIDTH, WIDTH1, BRACKT, STAGE) = range(8, 20)
_N_SCALARS = 20


class _State:
    """Every problem's iterate, L-BFGS memory and line-search state, one row per problem."""

    def __init__(self, x0: np.ndarray, maxcor: int) -> None:
        k, n = x0.shape
        self.x = x0.astype(np.float64, copy=True)
        self.g = np.zeros((k, n))
        self.sc = np.zeros((k, _N_SCALARS))
        self.sc[:, THETA] = 1.0
        # memory, oldest pair first: (s, y, rho s, rho y) with rho = 1 / s'y, one block of
        # 4n per slot so that a step moves it in one copy; unused slots are zero and add nothing
        self.memory = np.zeros((k, maxcor, 4 * n))
        self.col = np.zeros(k, dtype=np.int64)
        self.iter = np.zeros(k, dtype=np.int64)
        self.ifun = np.zeros(k, dtype=np.int64)
        self.nfev = np.zeros(k, dtype=np.int64)
        self.status = np.full(k, -1, dtype=np.int64)
        self.searching = np.zeros(k, dtype=bool)  # False: the pending evaluation is the first
        # the line search along d from t (x at its start, z = t + d), where the gradient was r
        self.d = np.zeros((k, n))
        self.z = np.zeros((k, n))
        self.t = np.zeros((k, n))
        self.r = np.zeros((k, n))

    def drop_memory(self, rows: np.ndarray) -> None:
        self.memory[rows] = 0.0
        self.col[rows] = 0
        self.sc[rows, THETA] = 1.0


def minimize_lbfgs(
    fun: BatchObjective,
    x0: np.ndarray,
    *,
    maxcor: int = 10,
    ftol: float = 2.2204460492503131e-09,
    gtol: float = 1e-5,
    maxls: int = 20,
    maxfun: int = 15000,
    maxiter: int = 15000,
) -> BatchResult:
    """Minimise K problems from ``x0`` (K, n) together; defaults as ``scipy.optimize.minimize``'s.

    ``fun(x, rows)`` gets the points (k, n) of the k problems ``rows`` still
    running and returns their objectives (k,) and gradients (k, n). A problem
    whose every line search fails stops at its last accepted point with status
    ``ABNORMAL`` (scipy's "ABNORMAL" result, whose ``fun`` is still that point's).
    """
    x0 = np.atleast_2d(np.asarray(x0, dtype=np.float64))
    state = _State(x0, maxcor)
    limits = _Limits(maxcor, maxls, maxfun, maxiter, gtol, ftol / EPS * EPS)
    while True:
        rows = np.flatnonzero(state.status < 0)
        if len(rows) == 0:
            break
        f, g = fun(state.x[rows], rows)
        state.sc[rows, F], state.g[rows] = f, g
        state.nfev[rows] += 1
        searching = state.searching[rows]
        first = rows[~searching]
        if len(first):
            done = np.max(np.abs(state.g[first]), axis=1) <= gtol
            state.status[first[done]] = CONVERGED_GRADIENT
            _new_direction(state, first[~done], maxcor)
        if searching.any():
            _line_search_step(state, rows[searching], limits)
    return BatchResult(state.x, state.sc[:, F].copy(), state.nfev, state.status)


@dataclasses.dataclass(frozen=True)
class _Limits:
    maxcor: int
    maxls: int
    maxfun: int
    maxiter: int
    gtol: float
    tol: float  # factr * eps: the relative decrease of f that stops


def _line_search_step(state: _State, rows: np.ndarray, limits: _Limits) -> None:
    """Feed the evaluation at the trial step to dcsrch; accept, try another step, or restart."""
    gd = np.einsum("kn,kn->k", state.g[rows], state.d[rows])
    accepted = _dcsrch(state, rows, gd)
    if not accepted.all():
        # another trial step, unless the search has used its evaluations
        trying = rows[~accepted]
        state.ifun[trying] += 1
        over = state.ifun[trying] - 1 >= limits.maxls
        _set_trial(state, trying[~over])
        if over.any():
            _search_failed(state, trying[over], limits.maxcor)
    done = rows[accepted]
    if len(done) == 0:
        return
    # a new iterate: stop, or update the memory and search again
    gd = gd[accepted]
    state.iter[done] += 1
    f, fold = state.sc[done, F], state.sc[done, FOLD]
    limit = (state.iter[done] >= limits.maxiter) | (state.nfev[done] > limits.maxfun)
    small_g = ~limit & (np.max(np.abs(state.g[done]), axis=1) <= limits.gtol)
    scale = np.maximum(np.maximum(np.abs(fold), np.abs(f)), 1.0)
    small_step = ~limit & ~small_g & ((fold - f) <= limits.tol * scale)
    state.status[done[limit]] = LIMIT
    state.status[done[small_g]] = CONVERGED_GRADIENT
    state.status[done[small_step]] = CONVERGED_F
    going = ~(limit | small_g | small_step)
    done = done[going]
    _update_memory(state, done, gd[going], limits.maxcor)
    _new_direction(state, done, limits.maxcor)


def _search_failed(state: _State, rows: np.ndarray, maxcor: int) -> None:
    """Back to the search's start; drop the memory and restart, or end if it was empty."""
    state.x[rows], state.g[rows] = state.t[rows], state.r[rows]
    state.sc[rows, F] = state.sc[rows, FOLD]
    state.status[rows[state.col[rows] == 0]] = ABNORMAL
    restart = rows[state.col[rows] > 0]
    state.drop_memory(restart)
    _new_direction(state, restart, maxcor)


def _update_memory(state: _State, rows: np.ndarray, gd: np.ndarray, maxcor: int) -> None:
    """Add the pair (s, y) of the step just taken, as L-BFGS-B's ``matupd`` (skipping bad pairs)."""
    if len(rows) == 0:
        return
    stp, gdold = state.sc[rows, STP], state.sc[rows, GDOLD]
    y = state.g[rows] - state.r[rows]
    rr = np.einsum("kn,kn->k", y, y)
    unit = stp == 1.0
    dr = np.where(unit, gd - gdold, (gd - gdold) * stp)
    ddum = np.where(unit, -gdold, -gdold * stp)
    s = np.where(unit[:, None], state.d[rows], stp[:, None] * state.d[rows])
    keep = ~(dr <= EPS * ddum)
    if not keep.all():
        rows, s, y, rr, dr = rows[keep], s[keep], y[keep], rr[keep], dr[keep]
    rho = (1.0 / dr)[:, None]
    pair = np.concatenate([s, y, rho * s, rho * y], axis=1)
    state.memory[rows] = np.concatenate([state.memory[rows, 1:], pair[:, None]], axis=1)
    state.sc[rows, THETA] = rr / dr
    state.col[rows] = np.minimum(state.col[rows] + 1, maxcor)


def _new_direction(state: _State, rows: np.ndarray, maxcor: int) -> None:
    """Search direction at x and the line search's first trial step (``lnsrlb`` at START).

    A direction that does not descend (``g'd >= 0``) drops the memory and takes
    ``-g``; if the memory was empty, the problem ends (L-BFGS-B's info = -4).
    """
    while len(rows):
        x, g = state.x[rows], state.g[rows]
        z = x + _newton_step(state, rows, g, maxcor)
        d = z - x
        gd = np.einsum("kn,kn->k", g, d)
        uphill = gd >= 0.0
        retry = rows[:0]
        if uphill.any():
            bad = rows[uphill]
            state.status[bad[state.col[bad] == 0]] = ABNORMAL
            retry = bad[state.col[bad] > 0]
            state.drop_memory(retry)
            ok = ~uphill
            rows, x, g, z, d, gd = rows[ok], x[ok], g[ok], z[ok], d[ok], gd[ok]
        dnorm = np.sqrt(np.einsum("kn,kn->k", d, d))
        with np.errstate(divide="ignore"):
            stp = np.where(state.iter[rows] == 0, np.minimum(1.0 / dnorm, _STPMAX), 1.0)
        state.d[rows], state.z[rows], state.t[rows], state.r[rows] = d, z, x, g
        sc = state.sc[rows]
        f = sc[:, F]
        sc[:, FOLD], sc[:, STP], sc[:, GDOLD] = f, stp, gd
        # dcsrch at START
        sc[:, FINIT], sc[:, GINIT], sc[:, GTEST] = f, gd, _LS_FTOL * gd
        sc[:, STX], sc[:, FX], sc[:, GX] = 0.0, f, gd
        sc[:, STY], sc[:, FY], sc[:, GY] = 0.0, f, gd
        sc[:, STMIN], sc[:, STMAX] = 0.0, stp + _XTRAPU * stp
        sc[:, WIDTH], sc[:, WIDTH1] = _STPMAX, _STPMAX / 0.5
        sc[:, BRACKT], sc[:, STAGE] = 0.0, 1.0
        state.sc[rows] = sc
        state.ifun[rows] = 1
        state.searching[rows] = True
        _set_trial(state, rows)
        rows = retry


def _newton_step(state: _State, rows: np.ndarray, g: np.ndarray, maxcor: int) -> np.ndarray:
    """``-H g`` by the two-loop recursion; ``-g`` for problems without memory (theta = 1)."""
    first = maxcor - int(state.col[rows].max())  # slots before it are empty in every row
    n = g.shape[1]
    memory = state.memory[rows, first:]
    s, y, rho_s, rho_y = (memory[:, :, j * n : (j + 1) * n] for j in range(4))
    q = g.copy()
    alphas = []
    for i in range(maxcor - first - 1, -1, -1):
        alpha = np.einsum("kn,kn->k", rho_s[:, i], q)
        q -= alpha[:, None] * y[:, i]
        alphas.append(alpha)
    h = q / state.sc[rows, THETA, None]
    for i, alpha in enumerate(reversed(alphas)):
        h += s[:, i] * (alpha - np.einsum("kn,kn->k", rho_y[:, i], h))[:, None]
    return -h


def _set_trial(state: _State, rows: np.ndarray) -> None:
    """x at the trial step (the Newton point itself at step 1, as L-BFGS-B)."""
    stp = state.sc[rows, STP]
    state.x[rows] = np.where(
        (stp == 1.0)[:, None], state.z[rows], stp[:, None] * state.d[rows] + state.t[rows]
    )


def _dcsrch(state: _State, rows: np.ndarray, g: np.ndarray) -> np.ndarray:
    """One call of Moré-Thuente's ``dcsrch`` for ``rows``: True where the step is accepted.

    Elsewhere the row's STP is the next trial step. ``g`` is the slope along d.
    """
    sc = state.sc[rows]
    f, stp, stmin, stmax, gtest = sc[:, F], sc[:, STP], sc[:, STMIN], sc[:, STMAX], sc[:, GTEST]
    brackt = sc[:, BRACKT] == 1.0
    ftest = sc[:, FINIT] + stp * gtest
    sc[:, STAGE] = np.where((sc[:, STAGE] == 1.0) & (f <= ftest) & (g >= 0.0), 2.0, sc[:, STAGE])
    accepted = (
        (brackt & ((stp <= stmin) | (stp >= stmax) | ((stmax - stmin) <= _LS_XTOL * stmax)))
        | ((stp == _STPMAX) & (f <= ftest) & (g <= gtest))
        | ((stp == 0.0) & ((f > ftest) | (g >= gtest)))
        | ((f <= ftest) & (np.abs(g) <= _LS_GTOL * (-sc[:, GINIT])))
    )  # a warning or convergence: either way L-BFGS-B takes the step
    go = ~accepted
    if go.any():
        sc[go] = _dcsrch_next(sc[go], g[go], ftest[go])
    state.sc[rows] = sc
    return accepted


def _dcsrch_next(sc: np.ndarray, g: np.ndarray, ftest: np.ndarray) -> np.ndarray:
    """dcsrch past its tests: the next trial step and the updated interval, in ``sc``'s rows."""
    f, stp, stx, sty, gtest = sc[:, F], sc[:, STP], sc[:, STX], sc[:, STY], sc[:, GTEST]
    fx, gx, fy, gy = sc[:, FX], sc[:, GX], sc[:, FY], sc[:, GY]
    brackt = sc[:, BRACKT] == 1.0
    # the modified function psi in stage 1 after a lower but not sufficiently lower value
    shift = np.where((sc[:, STAGE] == 1.0) & (f <= fx) & (f > ftest), gtest, 0.0)
    stx, fxm, gxm, sty, fym, gym, stp, brackt = _dcstep(
        stx,
        fx - stx * shift,
        gx - shift,
        sty,
        fy - sty * shift,
        gy - shift,
        stp,
        f - stp * shift,
        g - shift,
        brackt,
        sc[:, STMIN],
        sc[:, STMAX],
    )
    out = sc.copy()
    out[:, FX], out[:, FY] = fxm + stx * shift, fym + sty * shift
    out[:, GX], out[:, GY] = gxm + shift, gym + shift
    width, width1 = sc[:, WIDTH], sc[:, WIDTH1]
    bisect = brackt & (np.abs(sty - stx) >= 0.66 * width1)
    stp = np.where(bisect, stx + 0.5 * (sty - stx), stp)
    out[:, WIDTH1] = np.where(brackt, width, width1)
    out[:, WIDTH] = np.where(brackt, np.abs(sty - stx), width)
    stmin = np.where(brackt, np.minimum(stx, sty), stp + _XTRAPL * (stp - stx))
    stmax = np.where(brackt, np.maximum(stx, sty), stp + _XTRAPU * (stp - stx))
    stp = np.minimum(np.maximum(stp, 0.0), _STPMAX)
    stuck = brackt & ((stp <= stmin) | (stp >= stmax) | (stmax - stmin <= _LS_XTOL * stmax))
    out[:, STP] = np.where(stuck, stx, stp)
    out[:, STX], out[:, STY], out[:, STMIN], out[:, STMAX] = stx, sty, stmin, stmax
    out[:, BRACKT] = brackt
    return out


def _dcstep(
    stx: np.ndarray,
    fx: np.ndarray,
    dx: np.ndarray,
    sty: np.ndarray,
    fy: np.ndarray,
    dy: np.ndarray,
    stp: np.ndarray,
    fp: np.ndarray,
    dp: np.ndarray,
    brackt: np.ndarray,
    stpmin: np.ndarray,
    stpmax: np.ndarray,
) -> tuple[np.ndarray, ...]:
    """Moré-Thuente's safeguarded cubic/quadratic step (``dcstep``), its four cases as masks.

    Returns the updated ``stx, fx, dx, sty, fy, dy``, the new step and ``brackt``.
    """
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        sgnd = dp * (dx / np.abs(dx))
        case1 = fp > fx
        case2 = ~case1 & (sgnd < 0.0)
        case3 = ~case1 & ~case2 & (np.abs(dp) < np.abs(dx))
        case4 = ~case1 & ~case2 & ~case3
        stpf = np.zeros_like(stp)  # each row gets its case's step; cases absent are skipped
        if not case4.all():
            cases = (case1, case2, case3)
            _cubic_steps(stpf, cases, stx, fx, dx, sty, stp, fp, dp, brackt, stpmin, stpmax)
        if case4.any():
            theta = 3.0 * (fp - fy) / (sty - stp) + dy + dp
            s = np.maximum(np.abs(theta), np.maximum(np.abs(dy), np.abs(dp)))
            gamma = s * np.sqrt((theta / s) ** 2 - (dy / s) * (dp / s))
            gamma = np.where(stp > sty, -gamma, gamma)
            r = ((gamma - dp) + theta) / (((gamma - dp) + gamma) + dy)
            step4 = np.where(brackt, stp + r * (sty - stp), np.where(stp > stx, stpmax, stpmin))
            stpf = np.where(case4, step4, stpf)
    brackt = brackt | case1 | case2
    # the interval that contains a minimizer
    new_sty = np.where(case1, stp, np.where(sgnd < 0.0, stx, sty))
    new_fy = np.where(case1, fp, np.where(sgnd < 0.0, fx, fy))
    new_dy = np.where(case1, dp, np.where(sgnd < 0.0, dx, dy))
    new_stx = np.where(case1, stx, stp)
    new_fx = np.where(case1, fx, fp)
    new_dx = np.where(case1, dx, dp)
    return new_stx, new_fx, new_dx, new_sty, new_fy, new_dy, stpf, brackt


def _cubic_steps(
    stpf: np.ndarray,
    cases: tuple[np.ndarray, np.ndarray, np.ndarray],
    stx: np.ndarray,
    fx: np.ndarray,
    dx: np.ndarray,
    sty: np.ndarray,
    stp: np.ndarray,
    fp: np.ndarray,
    dp: np.ndarray,
    brackt: np.ndarray,
    stpmin: np.ndarray,
    stpmax: np.ndarray,
) -> None:
    """dcstep's cases 1 to 3, which share the cubic through (stx, fx, dx) and (stp, fp, dp).

    Writes the step of each row in a present case into ``stpf``.
    """
    case1, case2, case3 = cases
    theta = 3.0 * (fx - fp) / (stp - stx) + dx + dp
    s = np.maximum(np.abs(theta), np.maximum(np.abs(dx), np.abs(dp)))
    root = (theta / s) ** 2 - (dx / s) * (dp / s)
    gamma = s * np.sqrt(np.where(case3, np.maximum(0.0, root), root))
    gamma = np.where(case1, np.where(stp < stx, -gamma, gamma), np.where(stp > stx, -gamma, gamma))
    if case1.any():  # a higher function value: the minimum is bracketed
        r = ((gamma - dx) + theta) / (((gamma - dx) + gamma) + dp)
        stpc = stx + r * (stp - stx)
        stpq = stx + ((dx / ((fx - fp) / (stp - stx) + dx)) / 2.0) * (stp - stx)
        step = np.where(np.abs(stpc - stx) < np.abs(stpq - stx), stpc, stpc + (stpq - stpc) / 2.0)
        np.copyto(stpf, step, where=case1)
    if not (case2.any() or case3.any()):
        return
    stpq = stp + (dp / (dp - dx)) * (stx - stp)  # the secant step
    if case2.any():  # a lower value, derivatives of opposite sign: bracketed
        r = ((gamma - dp) + theta) / (((gamma - dp) + gamma) + dx)
        stpc = stp + r * (stx - stp)
        np.copyto(stpf, np.where(np.abs(stpc - stp) > np.abs(stpq - stp), stpc, stpq), where=case2)
    if case3.any():  # a lower value, same signs, the derivative's magnitude decreases
        r = ((gamma - dp) + theta) / ((gamma + (dx - dp)) + gamma)
        stpc = np.where(
            (r < 0.0) & (gamma != 0.0),
            stp + r * (stx - stp),
            np.where(stp > stx, stpmax, stpmin),
        )
        closer = np.where(np.abs(stpc - stp) < np.abs(stpq - stp), stpc, stpq)
        closer = np.where(
            stp > stx,
            np.minimum(stp + 0.66 * (sty - stp), closer),
            np.maximum(stp + 0.66 * (sty - stp), closer),
        )
        farther = np.where(np.abs(stpc - stp) > np.abs(stpq - stp), stpc, stpq)
        farther = np.maximum(stpmin, np.minimum(stpmax, farther))
        np.copyto(stpf, np.where(brackt, closer, farther), where=case3)
