"""The scaling laws, written as named functions before anything is fitted to them.

Notation follows Hoffmann et al. 2022 ("Chinchilla") and Muennighoff et al. 2023:
``N`` non-embedding parameters, ``D`` training jets seen (tokens there), ``U``
unique training jets, ``R = epochs - 1`` repetitions, ``C`` training FLOPs.
Losses are per-jet cross-entropies in nats.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike


def data_law(D: ArrayLike, L_inf: float, B: float, beta: float) -> np.ndarray:
    """Loss of one model size versus data: ``L(D) = L_inf + B / D**beta``."""
    return L_inf + B / np.asarray(D, dtype=np.float64) ** beta


def parametric_law(
    N: ArrayLike, D: ArrayLike, E: float, A: float, alpha: float, B: float, beta: float
) -> np.ndarray:
    """Chinchilla's ``L(N, D) = E + A / N**alpha + B / D**beta``: E is the irreducible loss."""
    n = np.asarray(N, dtype=np.float64)
    d = np.asarray(D, dtype=np.float64)
    return E + A / n**alpha + B / d**beta


def effective_data(U: ArrayLike, R: ArrayLike, R_star: float) -> np.ndarray:
    """Muennighoff et al.'s effective data ``D' = U + U R* (1 - exp(-R / R*))``.

    ``R`` repetitions beyond the first epoch add data with exponentially
    decaying value; ``D'`` saturates at ``U (1 + R*)``, so ``1 + R*`` is the
    largest effective-dataset gain repetition can give.
    """
    u = np.asarray(U, dtype=np.float64)
    r = np.asarray(R, dtype=np.float64)
    return u + u * R_star * (1.0 - np.exp(-r / R_star))


def compute_optimal(
    C: ArrayLike, A: float, alpha: float, B: float, beta: float
) -> tuple[np.ndarray, np.ndarray]:
    """``(N_opt, D_opt)`` minimizing the parametric law at fixed compute ``C = 6 N D``.

    The convention C = 6 N D (forward plus backward pass, two FLOPs per
    multiply-add, per parameter and training jet-token) is Hoffmann et al.'s;
    it ignores attention's quadratic term, which jetscale's exact FLOP counter
    includes. Closed form (their eq. 4): with G = (alpha A / (beta B))**(1/(alpha+beta)),
    N_opt = G (C/6)**(beta/(alpha+beta)) and D_opt = (C/6)**(alpha/(alpha+beta)) / G.
    """
    c = np.asarray(C, dtype=np.float64) / 6.0
    g = (alpha * A / (beta * B)) ** (1.0 / (alpha + beta))
    return g * c ** (beta / (alpha + beta)), c ** (alpha / (alpha + beta)) / g
