"""Generator-level and detector-level particles: the arrays every detector model exchanges."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class GenParticles:
    """Stable generator-level particles of many events, concatenated (float64 except ids)."""

    event: np.ndarray  # (N,) int64, index of the event each particle belongs to
    px: np.ndarray  # (N,) GeV
    py: np.ndarray
    pz: np.ndarray
    energy: np.ndarray
    pdgid: np.ndarray  # (N,) int64
    charge: np.ndarray  # (N,) in units of e
    vx: np.ndarray  # (N,) production vertex, mm
    vy: np.ndarray
    vz: np.ndarray

    def __len__(self) -> int:
        return len(self.px)


@dataclass(frozen=True)
class RecoParticles:
    """Detector-level particles, in the same event order as the input (float64/int32)."""

    event: np.ndarray  # (M,) int64
    px: np.ndarray  # (M,) GeV
    py: np.ndarray
    pz: np.ndarray
    energy: np.ndarray
    charge: np.ndarray
    d0val: np.ndarray  # (M,) mm
    d0err: np.ndarray
    dzval: np.ndarray
    dzerr: np.ndarray
    isChargedHadron: np.ndarray  # (M,) int32 flags, exactly one set per particle
    isNeutralHadron: np.ndarray
    isPhoton: np.ndarray
    isElectron: np.ndarray
    isMuon: np.ndarray

    def __len__(self) -> int:
        return len(self.px)
