"""Detector response: stable visible particles to detector-level particles.

:func:`apply_detector` runs the model of the card: the Delphes chain of a
:class:`~jetscale.generate.cards.DelphesCard` (:mod:`jetscale.generate.delphes`),
or the parametric response below for a
:class:`~jetscale.generate.cards.ParametricCard`.

Pure functions of flat numpy arrays (one entry per generator particle, many events
concatenated) and a ``numpy.random.Generator``. Every particle consumes the same
fixed set of random numbers whatever happens to it, so the output depends only on
the input arrays, the card and the generator state.

What happens to a stable particle (units GeV, mm):

* neutrinos are dropped;
* a charged particle with ``|eta| < tracking.eta_max``, ``pT > tracking.pt_min`` and
  a production vertex within ``tracking.max_vertex_radius`` of the beam line is
  tracked with probability ``tracking.efficiency``. Its pT is smeared by
  ``sigma(pT)/pT = const (+) slope*pT`` (direction and mass kept); electrons and
  muons are identified with the particle-ID efficiencies, otherwise flagged as
  charged hadrons. It gets impact parameters (see :func:`impact_parameters`)
  smeared by ``sigma = const (+) slope/pT`` with ``d0err = dzerr`` set to that sigma;
* a charged particle that is not tracked becomes a neutral calorimeter deposit:
  electrons in the ECAL (flagged photon), hadrons in the HCAL (flagged neutral
  hadron); untracked muons are lost (they leave only a minimum-ionising signal);
* photons go to the ECAL, other neutral hadrons to the HCAL. Energies are smeared
  by ``sigma(E)/E = stochastic/sqrt(E) (+) constant``; a deposit keeps the true
  direction, is massless, and is kept if ``|eta| < eta_max`` and the smeared
  energy exceeds ``energy_min``. Neutral deposits have ``d0 = dz = 0`` and zero errors.
"""

from __future__ import annotations

import numpy as np

from jetscale.generate.cards import CaloCard, DelphesCard, DetectorCard, ParametricCard
from jetscale.generate.particles import GenParticles, RecoParticles

__all__ = ["GenParticles", "RecoParticles", "apply_detector", "impact_parameters"]

#: |PDG id| of particles the detector does not see.
INVISIBLE_IDS = (12, 14, 16)
ELECTRON_ID = 11
MUON_ID = 13
PHOTON_ID = 22


def impact_parameters(
    vx: np.ndarray, vy: np.ndarray, vz: np.ndarray, px: np.ndarray, py: np.ndarray, pz: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Signed transverse and longitudinal impact parameters (mm) w.r.t. the origin.

    Straight-line approximation (no magnetic-field bending): the track leaves the
    production vertex ``(vx, vy, vz)`` along ``p``. ``d0 = (vx*py - vy*px)/pT`` is the
    signed distance of closest approach to the beam line and ``dz`` the z of that
    point, ``dz = vz - (vx*px + vy*py)/pT * pz/pT`` (the Delphes conventions).
    """
    pt = np.hypot(px, py)
    d0 = (vx * py - vy * px) / pt
    dz = vz - (vx * px + vy * py) / pt * (pz / pt)
    return d0, dz


def quadrature(a: np.ndarray | float, b: np.ndarray | float) -> np.ndarray:
    """``a (+) b = sqrt(a**2 + b**2)``."""
    return np.hypot(a, b)


def calo_resolution(energy: np.ndarray, calo: CaloCard) -> np.ndarray:
    """Relative energy resolution ``stochastic/sqrt(E) (+) constant`` (E in GeV)."""
    return quadrature(calo.stochastic / np.sqrt(np.maximum(energy, 1e-12)), calo.constant)


def apply_detector(
    gen: GenParticles, card: DetectorCard, rng: np.random.Generator
) -> RecoParticles:
    """Detector-level particles from generator particles with the card's model."""
    if isinstance(card, DelphesCard):
        from jetscale.generate.delphes import apply_delphes

        return apply_delphes(gen, card, rng)
    return _apply_parametric(gen, card, rng)


def _apply_parametric(
    gen: GenParticles, card: ParametricCard, rng: np.random.Generator
) -> RecoParticles:
    """The parametric response (see the module docstring)."""
    n = len(gen)
    # Fixed draws per particle keep the stream aligned whatever each particle does.
    u_track = rng.random(n)
    u_id = rng.random(n)
    g_momentum = rng.standard_normal(n)
    g_d0 = rng.standard_normal(n)
    g_dz = rng.standard_normal(n)

    abs_id = np.abs(gen.pdgid)
    visible = ~np.isin(abs_id, INVISIBLE_IDS)
    pt = np.hypot(gen.px, gen.py)
    p = np.sqrt(pt**2 + gen.pz**2)
    with np.errstate(divide="ignore", invalid="ignore"):
        eta = np.arcsinh(np.where(pt > 0, gen.pz / pt, np.sign(gen.pz) * np.inf))
    abs_eta = np.abs(eta)
    charged = visible & (gen.charge != 0) & (pt > 0)
    radius = np.hypot(gen.vx, gen.vy)

    trk = card.tracking
    tracked = (
        charged
        & (abs_eta < trk.eta_max)
        & (pt > trk.pt_min)
        & (radius < trk.max_vertex_radius)
        & (u_track < trk.efficiency)
    )
    is_electron = abs_id == ELECTRON_ID
    is_muon = abs_id == MUON_ID
    pid = card.particle_id
    electron_id = (
        tracked & is_electron & (abs_eta < pid.electron_eta_max) & (u_id < pid.electron_efficiency)
    )
    muon_id = tracked & is_muon & (abs_eta < pid.muon_eta_max) & (u_id < pid.muon_efficiency)

    to_ecal = visible & ~tracked & ((abs_id == PHOTON_ID) | (charged & is_electron))
    to_hcal = visible & ~tracked & ~to_ecal & ~is_muon & (pt > 0)

    # Tracks: smear pT, keep direction and mass.
    sigma_pt = quadrature(trk.pt_resolution_const, trk.pt_resolution_slope * pt)
    scale_track = np.maximum(1.0 + sigma_pt * g_momentum, 1e-3)
    mass2 = np.maximum(gen.energy**2 - p**2, 0.0)

    # Calorimeter deposits: smear energy, massless along the true direction.
    sigma_ecal = calo_resolution(gen.energy, card.ecal)
    sigma_hcal = calo_resolution(gen.energy, card.hcal)
    energy_calo = gen.energy * (1.0 + np.where(to_ecal, sigma_ecal, sigma_hcal) * g_momentum)
    ecal_kept = to_ecal & (abs_eta < card.ecal.eta_max) & (energy_calo > card.ecal.energy_min)
    hcal_kept = to_hcal & (abs_eta < card.hcal.eta_max) & (energy_calo > card.hcal.energy_min)

    keep = tracked | ecal_kept | hcal_kept
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(tracked, scale_track, energy_calo / np.where(p > 0, p, 1.0))
    px, py, pz = gen.px * scale, gen.py * scale, gen.pz * scale
    energy = np.where(tracked, np.sqrt((p * scale) ** 2 + mass2), energy_calo)

    ip = card.impact_parameter
    with np.errstate(divide="ignore", invalid="ignore"):
        d0_true, dz_true = impact_parameters(gen.vx, gen.vy, gen.vz, gen.px, gen.py, gen.pz)
        pt_reco = pt * scale_track
        sigma_d0 = quadrature(ip.d0_const, ip.d0_slope / pt_reco)
        sigma_dz = quadrature(ip.dz_const, ip.dz_slope / pt_reco)
    zero = np.zeros(n)
    d0val = np.where(tracked, d0_true + sigma_d0 * g_d0, zero)
    dzval = np.where(tracked, dz_true + sigma_dz * g_dz, zero)
    d0err = np.where(tracked, sigma_d0, zero)
    dzerr = np.where(tracked, sigma_dz, zero)

    flags = {
        "isChargedHadron": tracked & ~electron_id & ~muon_id,
        "isNeutralHadron": hcal_kept,
        "isPhoton": ecal_kept,
        "isElectron": electron_id,
        "isMuon": muon_id,
    }
    return RecoParticles(
        event=gen.event[keep],
        px=px[keep],
        py=py[keep],
        pz=pz[keep],
        energy=energy[keep],
        charge=np.where(tracked, gen.charge, 0.0)[keep],
        d0val=d0val[keep],
        d0err=d0err[keep],
        dzval=dzval[keep],
        dzerr=dzerr[keep],
        **{name: flag[keep].astype(np.int32) for name, flag in flags.items()},
    )
