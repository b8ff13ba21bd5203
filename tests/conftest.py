"""Shared fixtures: small synthetic jets (fast, for unit tests) and paths to shared data."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import awkward as ak
import hist
import numpy as np
import pytest
import vector

from jetscale.histograms.tagger import fill_tagger_histograms, tagger_histograms
from jetscale.schema import UNLABELLED

# One OpenMP/torch thread per test process (and the processes it starts): the suite
# runs on shared 2-core machines, where torch's default of one thread per core
# oversubscribes the CPUs with everything else running and a 2-second test can take
# minutes. No test measures multi-threaded speed; benchmarks set their own threads.
os.environ.setdefault("OMP_NUM_THREADS", "1")

SHARED_NANOAOD = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "nanoaod"
FLAGS = ("isChargedHadron", "isNeutralHadron", "isPhoton", "isElectron", "isMuon")


def synthetic_jets(n_jets: int, seed: int = 0, mean_particles: float = 40.0) -> ak.Array:
    """Jets in the internal layout with physical, non-degenerate values (not sorted by pT).

    Constituent pT fractions are exponential, directions Gaussian around the jet
    axis, four-vectors built with ``vector`` so px/py/pz/E are consistent.
    """
    rng = np.random.default_rng(seed)
    counts = rng.poisson(mean_particles, n_jets) + 1
    n = int(counts.sum())
    jet_pt = rng.uniform(500, 1000, n_jets)
    jet_eta = rng.uniform(-2, 2, n_jets)
    jet_phi = rng.uniform(-np.pi, np.pi, n_jets)
    owner = np.repeat(np.arange(n_jets), counts)
    frac = rng.exponential(1.0, n)
    frac /= np.bincount(owner, weights=frac)[owner]
    deta, dphi = rng.normal(0, 0.2, n), rng.normal(0, 0.2, n)
    p4 = vector.array(
        {
            "pt": frac * jet_pt[owner],
            "eta": jet_eta[owner] + deta,
            "phi": jet_phi[owner] + dphi,
            "mass": np.full(n, 0.14),
        }
    )
    columns = {
        "px": p4.px,
        "py": p4.py,
        "pz": p4.pz,
        "energy": p4.E,
        "deta": deta,
        "dphi": dphi,
        "d0val": rng.normal(0, 0.05, n),
        "d0err": rng.uniform(0.005, 0.2, n),
        "dzval": rng.normal(0, 0.1, n),
        "dzerr": rng.uniform(0.005, 0.2, n),
        "charge": rng.integers(-1, 2, n),
    }
    constituents = {
        k: ak.unflatten(np.asarray(v, dtype=np.float32), counts) for k, v in columns.items()
    }
    pid = rng.integers(0, 5, n)
    for index, flag in enumerate(FLAGS):
        constituents[flag] = ak.unflatten((pid == index).astype(np.int32), counts)
    jet_p4 = vector.array(
        {"pt": jet_pt, "eta": jet_eta, "phi": jet_phi, "mass": rng.uniform(10, 200, n_jets)}
    )
    content = {
        "pt": jet_pt,
        "eta": jet_eta,
        "phi": jet_phi,
        "energy": jet_p4.E,
        "nparticles": counts,
        "sdmass": rng.uniform(0, 200, n_jets),
        **{f"tau{k}": rng.uniform(0, 1, n_jets) for k in range(1, 5)},
    }
    record = {k: np.asarray(v, dtype=np.float32) for k, v in content.items()}
    record["label"] = rng.integers(0, 10, n_jets).astype(np.int32)
    record["constituents"] = ak.zip(constituents)
    return ak.zip(record, depth_limit=1)


@pytest.fixture(scope="session")
def make_jets() -> Callable[..., ak.Array]:
    """``synthetic_jets`` as a fixture (test modules must not import conftest by name)."""
    return synthetic_jets


@pytest.fixture(scope="session")
def nanoaod_dir() -> Path:
    """The shared NanoAOD samples; missing in CI is a failure, not a skip."""
    if not SHARED_NANOAOD.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"shared NanoAOD samples missing at {SHARED_NANOAOD}")
        pytest.skip(f"shared NanoAOD samples not found at {SHARED_NANOAOD}")
    return SHARED_NANOAOD


#: dask's fixed default ports: the scheduler's and the dashboard's (its HTTP server's).
DASK_DEFAULT_PORTS = (8786, 8787)


@pytest.fixture
def dask_default_ports_taken() -> Iterator[tuple[int, ...]]:
    """dask's default ports held by listening sockets, as another cluster on the machine holds them.

    A port something else holds already stays taken, which serves as well.
    """
    held = []
    try:
        for port in DASK_DEFAULT_PORTS:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            # Binds over a closed cluster's TIME_WAIT, never over a listener.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(("", port))
            except OSError:  # in use: taken already
                sock.close()
                continue
            sock.listen()
            held.append(sock)
        yield DASK_DEFAULT_PORTS
    finally:
        for sock in held:
            sock.close()


#: Classes and jets per class of the shared physics sample (about 30-40 s on 2 cores).
SAMPLE_CLASSES = ["QCD", "Hbb", "Wqq", "Zqq", "Tbqq"]
SAMPLE_JETS = 150
SAMPLE_SEED = 13  # not 11 or 12: those seeds made the shipped models' training and validation data


@pytest.fixture(scope="session")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A modest Pythia sample written by the public ``generate`` with two workers, once per session."""
    pytest.importorskip("pythia8mc")
    pytest.importorskip("fastjet")
    from jetscale.generate import generate

    out = tmp_path_factory.mktemp("generated")
    return generate(
        out,
        SAMPLE_CLASSES,
        SAMPLE_JETS,
        detector="cms",
        seed=SAMPLE_SEED,
        workers=2,
        progress=False,
    )


@pytest.fixture(scope="session")
def sample_config() -> dict[str, Any]:
    """Classes, jets per class and seed of the ``generated`` sample."""
    return {"classes": SAMPLE_CLASSES, "jets": SAMPLE_JETS, "seed": SAMPLE_SEED}


#: Tagger histograms filled from synthetic probabilities (plots and output writers).
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
