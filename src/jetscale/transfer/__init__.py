"""Foundation models and transfer: what pretrained and fine-tuned taggers learn.

Pretraining on unlabelled jets, fine-tuning for new tasks and detectors, and
representation similarity between trained models:

* :mod:`.cka` -- linear CKA and the unbiased minibatch estimator (NumPy only);
* :mod:`.representations` -- jet-level representations of every layer of a model;
* :mod:`.compare` -- the CKA matrix of two models on the same jets
  (``jetscale cka RUN_A RUN_B --data FILES``);
* :mod:`.finetune` -- loading a backbone, and the fine-tuning policies;
* :mod:`.mpm` -- masked particle modelling (pretraining on unlabelled jets).

The CKA maths needs NumPy only; the representations need the ``ml`` extra (torch)
and load when first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from jetscale._optional import lazy_attributes
from jetscale.transfer.cka import (
    ESTIMATORS,
    MinibatchCKA,
    cka_matrix,
    linear_cka,
    minibatches,
    unbiased_cka,
    unbiased_hsic,
)

if TYPE_CHECKING:  # the lazy names, for type checkers
    from jetscale.transfer.compare import LayerCKA, compare_models
    from jetscale.transfer.representations import (
        jet_representations,
        layer_names,
        load_model,
        read_jets_for,
    )

#: torch-backed names -> the submodule that defines them (imported on first use).
_TORCH = {
    "LayerCKA": "compare",
    "compare_models": "compare",
    "jet_representations": "representations",
    "layer_names": "representations",
    "load_model": "representations",
    "read_jets_for": "representations",
}

__all__ = [
    "ESTIMATORS",
    "LayerCKA",
    "MinibatchCKA",
    "cka_matrix",
    "compare_models",
    "jet_representations",
    "layer_names",
    "linear_cka",
    "load_model",
    "minibatches",
    "read_jets_for",
    "unbiased_cka",
    "unbiased_hsic",
]


__getattr__ = lazy_attributes(__name__, _TORCH, requires=("torch", "ml"))
