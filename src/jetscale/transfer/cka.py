"""Centered Kernel Alignment (CKA): how alike two representations of the same jets are.

A representation is an ``(n, p)`` array: n jets, p features (one layer's output).
CKA compares two of them, ``X (n, p)`` and ``Y (n, q)``, through the similarity
structure they give the jets, so it is invariant to orthogonal transforms and
isotropic scaling of either (p and q may differ) but not to general invertible
linear maps (Kornblith et al. 2019, "Similarity of neural network representations
revisited"). Two estimators:

``linear``
    CKA(X, Y) = ||Y^T X||_F^2 / (||X^T X||_F ||Y^T Y||_F) on column-centred X and
    Y, over all n jets at once (:func:`linear_cka`). It is biased: independent
    random representations score well above 0 when p is not small against n
    (about 0.11 for n = 64, p = q = 8; 0.50 for p = q = 64).
``unbiased``
    The minibatch estimator of Nguyen, Raghu and Kornblith 2021 ("Do wide and deep
    networks learn the same things?"): the unbiased HSIC of Song et al. 2012
    (:func:`unbiased_hsic`) on each minibatch's linear Gram matrices, averaged
    over minibatches, then CKA = mean HSIC(K, L) / sqrt(mean HSIC(K, K) mean
    HSIC(L, L)). Independent representations score about 0; memory is bounded
    by the minibatch, not the number of jets.

Everything is computed in float64. A representation that is constant over the
jets has no similarity structure: its CKA is NaN. The unbiased estimate can be
slightly negative (or, for tiny batches, above 1).

Written here rather than taken from a package: the CKA packages on PyPI
(``torch-cka``, ``cka-pytorch``, ``pytorch-cka``, ``ckatorch``, ``repsim``) are
small single-maintainer projects, none widely used, some unmaintained since
2021; they compute in the model's dtype, know nothing of padded constituents,
and build each pair's Gram matrices afresh. The estimators are a few lines of
NumPy, checked against naive implementations in ``tests/transfer/test_cka.py``.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

Estimator = Literal["unbiased", "linear"]
#: The estimators, the default first.
ESTIMATORS: tuple[Estimator, ...] = ("unbiased", "linear")
#: Jets per minibatch of the unbiased estimator unless told otherwise.
DEFAULT_BATCH_SIZE = 256
#: The unbiased HSIC divides by n (n - 3): a minibatch needs at least this many jets.
MIN_BATCH_JETS = 4


def representation(x: ArrayLike, name: str = "representation") -> np.ndarray:
    """``x`` as a float64 ``(n, p)`` array; a 1-D array is one feature per jet."""
    array = np.asarray(x, dtype=np.float64)
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2:
        msg = f"{name} must be (jets, features), got shape {array.shape}"
        raise ValueError(msg)
    return array


def _same_jets(x: np.ndarray, y: np.ndarray) -> None:
    if len(x) != len(y):
        msg = (
            f"CKA compares representations of the same jets: got {len(x)} and {len(y)} jets (rows)"
        )
        raise ValueError(msg)


def linear_cka(x: ArrayLike, y: ArrayLike) -> float:
    """Linear CKA of ``x (n, p)`` and ``y (n, q)`` over all n jets (the biased estimator)."""
    a, b = representation(x, "x"), representation(y, "y")
    _same_jets(a, b)
    a = a - a.mean(axis=0)
    b = b - b.mean(axis=0)
    cross = np.linalg.norm(b.T @ a) ** 2
    with np.errstate(invalid="ignore", divide="ignore"):
        return float(cross / (np.linalg.norm(a.T @ a) * np.linalg.norm(b.T @ b)))


def gram(x: ArrayLike) -> np.ndarray:
    """The linear kernel ``x x^T``: float64 ``(n, n)``."""
    a = representation(x, "x")
    return a @ a.T


def unbiased_hsic(k: ArrayLike, l: ArrayLike) -> float:  # noqa: E741 (the paper's name)
    """Song et al.'s unbiased HSIC of two ``(n, n)`` Gram matrices (n >= 4).

    HSIC_1(K, L) = [tr(K~ L~) + 1^T K~ 1 1^T L~ 1 / ((n-1)(n-2)) - 2/(n-2) 1^T K~ L~ 1]
    / (n (n-3)), with K~ and L~ the Gram matrices with zeroed diagonals.
    """
    kt, lt = np.array(k, dtype=np.float64), np.array(l, dtype=np.float64)
    n = len(kt)
    if kt.shape != (n, n) or lt.shape != (n, n):
        msg = f"Gram matrices must be square and alike, got {kt.shape} and {lt.shape}"
        raise ValueError(msg)
    _check_batch(n)
    np.fill_diagonal(kt, 0.0)
    np.fill_diagonal(lt, 0.0)
    return float(
        _hsic(
            np.sum(kt * lt),
            kt.sum() * lt.sum(),
            kt.sum(axis=1) @ lt.sum(axis=1),
            n,
        )
    )


def unbiased_cka(x: ArrayLike, y: ArrayLike) -> float:
    """CKA of one minibatch from unbiased HSICs of the linear Gram matrices of ``x`` and ``y``."""
    accumulator = MinibatchCKA(1, 1, "unbiased")
    accumulator.update([x], [y])
    return float(accumulator.matrix()[0, 0])


def _hsic(trace: ArrayLike, sums: ArrayLike, row_dots: ArrayLike, n: int) -> np.ndarray:
    """HSIC_1 from tr(K~L~), (1^T K~ 1)(1^T L~ 1) and 1^T K~ L~ 1 (any matching shapes)."""
    return (
        np.asarray(trace)
        + np.asarray(sums) / ((n - 1) * (n - 2))
        - 2.0 / (n - 2) * np.asarray(row_dots)
    ) / (n * (n - 3))


def _check_batch(n: int) -> None:
    if n < MIN_BATCH_JETS:
        msg = f"the unbiased HSIC needs at least {MIN_BATCH_JETS} jets per minibatch, got {n}"
        raise ValueError(msg)


class MinibatchCKA:
    """CKA between every layer of model A and every layer of model B, fed minibatch by minibatch.

    ``update(a, b)`` takes one minibatch: ``a`` holds the ``n_a`` representations
    of model A (each ``(n, p_i)``), ``b`` the ``n_b`` of model B, all of the same
    n jets. ``matrix()`` is the ``(n_a, n_b)`` CKA matrix of everything seen.

    ``"unbiased"``: each layer's Gram matrix is built once per minibatch (from
    the minibatch-centred representation: the estimator is invariant to
    translations, and centring first avoids cancellation) and reused for every
    pair; the pairs' HSICs are two matrix products over the stacked
    zero-diagonal Gram matrices. ``"linear"``: the exact full-data
    linear CKA from streamed sums (cross-products shifted by the first
    minibatch's means, so centring loses no precision), the same as
    :func:`linear_cka` on all jets at once.
    """

    def __init__(self, n_a: int, n_b: int, estimator: Estimator = "unbiased") -> None:
        if estimator not in ESTIMATORS:
            msg = f"unknown CKA estimator {estimator!r}; choose one of {', '.join(ESTIMATORS)}"
            raise ValueError(msg)
        if n_a < 1 or n_b < 1:
            msg = f"need at least one layer per model, got {n_a} and {n_b}"
            raise ValueError(msg)
        self.n_a, self.n_b, self.estimator = n_a, n_b, estimator
        self.n_jets = 0
        self.n_batches = 0
        # unbiased: sums over minibatches of HSIC_1 of every pair and of each layer with itself
        self._hsic_ab = np.zeros((n_a, n_b))
        self._hsic_aa = np.zeros(n_a)
        self._hsic_bb = np.zeros(n_b)
        # linear: shifts, column sums and cross-products of the shifted representations
        self._shift: tuple[list[np.ndarray], list[np.ndarray]] | None = None
        self._sum_a: list[np.ndarray] = []
        self._sum_b: list[np.ndarray] = []
        self._aa: list[np.ndarray] = []
        self._bb: list[np.ndarray] = []
        self._ab: np.ndarray | None = None  # (sum p_i, sum q_j), every pair's block

    def update(self, a: Sequence[ArrayLike], b: Sequence[ArrayLike]) -> None:
        """Add one minibatch: ``n_a`` arrays of model A, ``n_b`` of model B, the same n jets."""
        xs = [representation(x, f"model A layer {i}") for i, x in enumerate(a)]
        ys = [representation(y, f"model B layer {j}") for j, y in enumerate(b)]
        if (len(xs), len(ys)) != (self.n_a, self.n_b):
            msg = f"expected {self.n_a} and {self.n_b} layers, got {len(xs)} and {len(ys)}"
            raise ValueError(msg)
        n = len(xs[0])
        for layer in (*xs, *ys):
            _same_jets(xs[0], layer)
        if self.estimator == "unbiased":
            self._update_unbiased(xs, ys, n)
        else:
            self._update_linear(xs, ys)
        self.n_jets += n
        self.n_batches += 1

    def _update_unbiased(self, xs: list[np.ndarray], ys: list[np.ndarray], n: int) -> None:
        _check_batch(n)
        grams_a, rows_a, sums_a = _zero_diagonal_grams(xs)  # (n_a, n*n), (n_a, n), (n_a,)
        grams_b, rows_b, sums_b = _zero_diagonal_grams(ys)
        self._hsic_ab += _hsic(grams_a @ grams_b.T, np.outer(sums_a, sums_b), rows_a @ rows_b.T, n)
        self._hsic_aa += _hsic(
            np.einsum("ij,ij->i", grams_a, grams_a), sums_a**2, np.sum(rows_a**2, axis=1), n
        )
        self._hsic_bb += _hsic(
            np.einsum("ij,ij->i", grams_b, grams_b), sums_b**2, np.sum(rows_b**2, axis=1), n
        )

    def _update_linear(self, xs: list[np.ndarray], ys: list[np.ndarray]) -> None:
        if self._shift is None:
            self._shift = ([x.mean(axis=0) for x in xs], [y.mean(axis=0) for y in ys])
            self._sum_a = [np.zeros(x.shape[1]) for x in xs]
            self._sum_b = [np.zeros(y.shape[1]) for y in ys]
            self._aa = [np.zeros((x.shape[1], x.shape[1])) for x in xs]
            self._bb = [np.zeros((y.shape[1], y.shape[1])) for y in ys]
            self._ab = np.zeros((sum(x.shape[1] for x in xs), sum(y.shape[1] for y in ys)))
        assert self._ab is not None
        shifted_a = [x - s for x, s in zip(xs, self._shift[0], strict=True)]
        shifted_b = [y - s for y, s in zip(ys, self._shift[1], strict=True)]
        for i, x in enumerate(shifted_a):
            if x.shape[1] != len(self._sum_a[i]):
                msg = f"model A layer {i} has {x.shape[1]} features, earlier {len(self._sum_a[i])}"
                raise ValueError(msg)
            self._sum_a[i] += x.sum(axis=0)
            self._aa[i] += x.T @ x
        for j, y in enumerate(shifted_b):
            if y.shape[1] != len(self._sum_b[j]):
                msg = f"model B layer {j} has {y.shape[1]} features, earlier {len(self._sum_b[j])}"
                raise ValueError(msg)
            self._sum_b[j] += y.sum(axis=0)
            self._bb[j] += y.T @ y
        # One product for every pair: the layers side by side.
        self._ab += np.hstack(shifted_a).T @ np.hstack(shifted_b)

    def matrix(self) -> np.ndarray:
        """``(n_a, n_b)`` CKA of every pair (NaN where a layer is constant over the jets)."""
        if self.n_batches == 0:
            msg = "no minibatch given: CKA needs jets"
            raise ValueError(msg)
        with np.errstate(invalid="ignore", divide="ignore"):
            if self.estimator == "unbiased":
                # Means over minibatches; the 1/n_batches factors cancel.
                norm = np.sqrt(np.outer(self._hsic_aa, self._hsic_bb))
                return self._hsic_ab / norm
            return self._linear_matrix()

    def _linear_matrix(self) -> np.ndarray:
        assert self._ab is not None
        n = self.n_jets
        self_a = np.array(
            [
                np.linalg.norm(aa - np.outer(s, s) / n)
                for aa, s in zip(self._aa, self._sum_a, strict=True)
            ]
        )
        self_b = np.array(
            [
                np.linalg.norm(bb - np.outer(s, s) / n)
                for bb, s in zip(self._bb, self._sum_b, strict=True)
            ]
        )
        cross = self._ab - np.outer(np.concatenate(self._sum_a), np.concatenate(self._sum_b)) / n
        edges_a = np.cumsum([0, *(len(s) for s in self._sum_a)])
        edges_b = np.cumsum([0, *(len(s) for s in self._sum_b)])
        result = np.empty((self.n_a, self.n_b))
        for i in range(self.n_a):
            for j in range(self.n_b):
                block = cross[edges_a[i] : edges_a[i + 1], edges_b[j] : edges_b[j + 1]]
                result[i, j] = np.sum(block**2) / (self_a[i] * self_b[j])
        return result


def _zero_diagonal_grams(xs: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each layer's Gram matrix with a zeroed diagonal, flattened and stacked; row sums; totals."""
    n = len(xs[0])
    grams = np.empty((len(xs), n * n))
    for index, x in enumerate(xs):
        k = grams[index].reshape(n, n)
        # HSIC_1 is invariant to translating the batch; centring first keeps a layer with
        # large means (ReLU outputs, logits) from losing digits to cancellation.
        centred = x - x.mean(axis=0)
        np.matmul(centred, centred.T, out=k)
        np.fill_diagonal(k, 0.0)
    rows = grams.reshape(len(xs), n, n).sum(axis=2)
    return grams, rows, rows.sum(axis=1)


def minibatches(n_jets: int, batch_size: int = DEFAULT_BATCH_SIZE) -> list[slice]:
    """``n_jets`` cut into ``max(n_jets // batch_size, 1)`` consecutive minibatches.

    The remainder is spread over them, so each holds ``batch_size`` to
    ``2 batch_size - 1`` jets (all of them if fewer than ``batch_size``): no small
    last minibatch whose unbiased HSIC would be noisy or undefined.
    """
    if batch_size < MIN_BATCH_JETS:
        msg = f"batch_size must be at least {MIN_BATCH_JETS}, got {batch_size}"
        raise ValueError(msg)
    if n_jets < 1:
        msg = "no jets to cut into minibatches"
        raise ValueError(msg)
    edges = np.linspace(0, n_jets, max(n_jets // batch_size, 1) + 1).round().astype(int)
    return [slice(int(a), int(b)) for a, b in itertools.pairwise(edges)]


def cka_matrix(
    a: Mapping[str, ArrayLike],
    b: Mapping[str, ArrayLike],
    estimator: Estimator = "unbiased",
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> np.ndarray:
    """``(len(a), len(b))`` CKA of precomputed representations ``{layer: (n, p)}`` of the same jets.

    Row i is ``a``'s i-th layer, column j ``b``'s j-th. Every representation must
    hold the same n jets in the same order; a different count is refused. The
    unbiased estimator cuts the jets into :func:`minibatches` of ``batch_size``.
    """
    xs = {name: representation(x, f"layer {name!r} of the first model") for name, x in a.items()}
    ys = {name: representation(y, f"layer {name!r} of the second model") for name, y in b.items()}
    counts = {f"first model's {k!r}": len(v) for k, v in xs.items()}
    counts |= {f"second model's {k!r}": len(v) for k, v in ys.items()}
    if len(set(counts.values())) > 1:
        listed = ", ".join(f"{k}: {v}" for k, v in counts.items())
        msg = f"CKA compares representations of the same jets, but the jet counts differ ({listed})"
        raise ValueError(msg)
    if not xs or not ys:
        msg = "cka_matrix needs at least one layer of each model"
        raise ValueError(msg)
    accumulator = MinibatchCKA(len(xs), len(ys), estimator)
    n_jets = next(iter(counts.values()))
    for part in minibatches(n_jets, batch_size) if estimator == "unbiased" else [slice(None)]:
        accumulator.update([x[part] for x in xs.values()], [y[part] for y in ys.values()])
    return accumulator.matrix()
