"""CKA between every layer of one model and every layer of another, on the same jets."""

from __future__ import annotations

import dataclasses
import time

import awkward as ak
import numpy as np
import torch
from torch import nn

from jetscale.transfer.cka import DEFAULT_BATCH_SIZE, Estimator, MinibatchCKA
from jetscale.transfer.representations import layer_names, representation_batches


@dataclasses.dataclass(frozen=True)
class LayerCKA:
    """The CKA matrix of two models: row i is layer ``layers_a[i]``, column j ``layers_b[j]``."""

    layers_a: tuple[str, ...]
    layers_b: tuple[str, ...]
    matrix: np.ndarray  # (len(layers_a), len(layers_b)) float64
    estimator: Estimator
    n_jets: int
    n_batches: int
    representation_s: float  # wall time of feature building and forward passes
    cka_s: float  # wall time of the CKA accumulation over all layer pairs


def compare_models(
    model_a: nn.Module,
    model_b: nn.Module,
    jets: ak.Array,
    estimator: Estimator = "unbiased",
    batch_size: int = DEFAULT_BATCH_SIZE,
    device: str | torch.device = "cpu",
) -> LayerCKA:
    """CKA of every layer pair of two models on ``jets`` (each model builds its own features).

    The models (with a ``config``, as :func:`~jetscale.transfer.representations.load_model`
    gives them, already on ``device``) see the same minibatches of the same jets:
    :func:`~jetscale.transfer.representations.representation_batches` feeds both
    from one batch of ``jets``. The same model twice gives 1 on the diagonal.
    """
    names_a, names_b = layer_names(model_a), layer_names(model_b)
    accumulator = MinibatchCKA(len(names_a), len(names_b), estimator)
    representation_s = cka_s = 0.0
    start = time.perf_counter()
    for reps_a, reps_b in representation_batches([model_a, model_b], jets, batch_size, device):
        middle = time.perf_counter()
        accumulator.update(list(reps_a.values()), list(reps_b.values()))
        end = time.perf_counter()
        representation_s += middle - start
        cka_s += end - middle
        start = end
    middle = time.perf_counter()
    matrix = accumulator.matrix()
    cka_s += time.perf_counter() - middle
    return LayerCKA(
        tuple(names_a),
        tuple(names_b),
        matrix,
        estimator,
        accumulator.n_jets,
        accumulator.n_batches,
        representation_s,
        cka_s,
    )
