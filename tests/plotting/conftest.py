"""Tagger histograms filled from synthetic probabilities, shared by the plotting tests."""

from __future__ import annotations

from dataclasses import dataclass

import hist
import numpy as np
import pytest

from jetscale.plotting.tagger_histograms import (
    UNLABELLED,
    fill_tagger_histograms,
    tagger_histograms,
)

CLASSES = ["QCD", "Hbb", "Tbqq"]
#: Soft-drop mass peak (GeV) and width of each class; QCD falls instead.
MASS = {"Hbb": (125.0, 12.0), "Tbqq": (172.0, 18.0)}


@dataclass
class Sample:
    """One filled chunk: its true classes and the per-jet values it was filled with."""

    truth: np.ndarray  # (N,) class names, or "unlabelled"
    prob: np.ndarray  # (N, n_classes)
    sdmass: np.ndarray  # (N,) GeV
    weight: np.ndarray  # (N,)


def dirichlet(rng: np.random.Generator, index: np.ndarray, n_classes: int) -> np.ndarray:
    """Dirichlet draws, concentrated on the true class ``index`` (a Gamma draw per class)."""
    alpha = 1.0 + 4.0 * np.eye(n_classes)[index]  # (N, n_classes)
    gamma = rng.gamma(alpha)
    return gamma / gamma.sum(axis=1, keepdims=True)


def sdmass(rng: np.random.Generator, truth: np.ndarray) -> np.ndarray:
    out = rng.exponential(50.0, len(truth))
    for name, (mean, width) in MASS.items():
        selected = truth == name
        out[selected] = rng.normal(mean, width, selected.sum())
    return out


@dataclass
class Filled:
    histograms: dict[str, hist.Hist]
    samples: dict[str, Sample]
    classes: list[str]


def fill(seed: int = 3) -> Filled:
    """A labelled JetClass dataset and two unlabelled NanoAOD-like ones (with weights)."""
    rng = np.random.default_rng(seed)
    histograms = tagger_histograms(CLASSES)
    samples = {}
    index = rng.integers(0, len(CLASSES), 3000)
    truth = np.asarray(CLASSES)[index]
    samples["JetClass"] = Sample(
        truth, dirichlet(rng, index, len(CLASSES)), sdmass(rng, truth), np.ones(len(truth))
    )
    for dataset, cls in (("QCD_HT1000", "QCD"), ("/TTToHadronic/Run3Summer22/NANOAODSIM", "Tbqq")):
        n = 1500
        masses = sdmass(rng, np.full(n, cls))
        prob = dirichlet(rng, np.full(n, CLASSES.index(cls)), len(CLASSES))
        samples[dataset] = Sample(np.full(n, UNLABELLED), prob, masses, rng.uniform(0.5, 1.5, n))
    for dataset, s in samples.items():
        fill_tagger_histograms(
            histograms,
            dataset,
            s.truth,
            s.prob,
            CLASSES,
            pt=rng.uniform(300, 1200, len(s.truth)),
            sdmass=s.sdmass,
            weight=s.weight,
        )
    return Filled(histograms, samples, CLASSES)


@pytest.fixture(scope="session")
def filled() -> Filled:
    return fill()
