"""The Delphes chain of JetClass's CMS card: generator particles to energy-flow candidates.

JetClass was simulated with Delphes 3.5 and the card of
jet-universe/jetclass_generation (``delphes_card.tcl``). This module runs the same
modules, in the same order, on flat arrays of many events:

1. **ParticlePropagator** (:func:`~jetscale.generate.tracker.propagate`): every
   stable particle produced inside the solenoid (R = 1.29 m, |z| = 3 m, 3.8 T) is
   carried to the calorimeter surface, charged ones on helices; particles produced
   outside are gone. Charged tracks get the helix perigee: d0, dz (mm) and the
   perigee momentum.
2. **Tracking efficiency** per species (charged hadrons, electrons, muons) from the
   card's tables in (pT, |eta| at the calorimeter surface).
3. **TrackSmearing**: d0 and dz smeared with the card's tables (3 |eta| x 34 pT
   bins, arXiv:1405.6569), the errors being the table values. The track keeps its
   true (perigee) momentum: TrackSmearing rebuilds every track from the
   propagator's momentum, which undoes the card's MomentumSmearing, so jetscale
   does not smear it in the first place (the smeared pT only picked the table bin;
   the true pT does here).
4. **ECal, then HCal** (:func:`~jetscale.generate.calorimeter.simulate`): every
   visible particle, tracked or not, deposits its energy share in the tower at its
   calorimeter entry point; each tower's energy is smeared, thresholded, and either
   yields one neutral (photon, neutral hadron) carrying the excess over the tracks'
   energy, or rescales its tracks to the measured energy (to zero when the tower
   fails its threshold: the track is then lost, as ``makeNtuples`` drops pT <= 0).
5. **EFlowMerger**: the surviving tracks, the ECal photons and the HCal neutral
   hadrons are the event's particles, which the jet finder clusters.

Flags follow JetClass's ntuples, from the PDG id: a track of an electron or muon
is ``isElectron``/``isMuon`` (every one, no identification efficiency), any other
track ``isChargedHadron``, an ECal neutral ``isPhoton``, an HCal neutral
``isNeutralHadron``. (JetClass flags only pi, K and p tracks as charged hadrons and
leaves other charged hadrons without a flag; jetscale keeps exactly one flag per
particle and calls them charged hadrons. Pythia decays the hyperons concerned, so
such tracks are very rare.)
"""

from __future__ import annotations

import numpy as np

from jetscale.generate.calorimeter import NEUTRAL_FLAGS, CaloInput, CalorimeterOutput, simulate
from jetscale.generate.cards import DelphesCard
from jetscale.generate.particles import GenParticles, RecoParticles
from jetscale.generate.tracker import propagate, smear_impact_parameters, tracking_efficiency

#: |PDG id| of particles that leave no signal (Delphes gives them zero calorimeter fractions).
INVISIBLE_IDS = (12, 14, 16)
ELECTRON_ID = 11
MUON_ID = 13


def apply_delphes(gen: GenParticles, card: DelphesCard, rng: np.random.Generator) -> RecoParticles:
    """Energy-flow candidates of every event (see the module docstring), in event order.

    The random stream is fixed per input: three draws per particle (tracking,
    d0, dz), then the calorimeters' draws per tower hit, so the output depends only
    on the inputs, the card and the generator state.
    """
    n = len(gen)
    u_track = rng.random(n)
    g_d0 = rng.standard_normal(n)
    g_dz = rng.standard_normal(n)

    solenoid = card.solenoid
    at_calo = propagate(
        gen.px,
        gen.py,
        gen.pz,
        gen.energy,
        gen.charge,
        gen.vx,
        gen.vy,
        gen.vz,
        radius=solenoid.radius,
        half_length=solenoid.half_length,
        bz=solenoid.bz,
    )
    abs_id = np.abs(gen.pdgid)
    visible = ~np.isin(abs_id, INVISIBLE_IDS) & at_calo.inside & at_calo.reached_calorimeter
    pt = np.hypot(gen.px, gen.py)
    charged = visible & (gen.charge != 0) & (pt > 0)
    is_electron, is_muon = abs_id == ELECTRON_ID, abs_id == MUON_ID

    efficiency = np.zeros(n)
    abs_eta_calo = np.abs(np.where(visible, at_calo.eta_calo, 0.0))
    for species, chosen in (
        ("electron", charged & is_electron),
        ("muon", charged & is_muon),
        ("charged_hadron", charged & ~is_electron & ~is_muon),
    ):
        efficiency[chosen] = tracking_efficiency(
            pt[chosen], abs_eta_calo[chosen], card.tracking[species]
        )
    tracked = charged & (u_track < efficiency)
    track = np.flatnonzero(tracked)

    # Tracks: the perigee momentum (the true |p| and pz), the true mass.
    p2 = pt**2 + gen.pz**2
    mass2 = np.maximum(gen.energy**2 - p2, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        eta_momentum = np.arcsinh(np.where(pt > 0, gen.pz / np.where(pt > 0, pt, 1.0), 0.0))
    ip_all = smear_impact_parameters(
        at_calo.d0[track],
        at_calo.dz[track],
        pt[track],
        eta_momentum[track],
        card.track_smearing,
        g_d0[track],
        g_dz[track],
    )

    deposits = np.flatnonzero(visible)
    particles = CaloInput(
        gen.event[deposits],
        gen.energy[deposits],
        at_calo.eta_calo[deposits],
        at_calo.phi_calo[deposits],
        abs_id[deposits],
    )

    def tracks_with(rows: np.ndarray, scale: np.ndarray) -> CaloInput:
        # Delphes rescales pT at fixed eta, phi and mass: |p| scales, E follows.
        energy = np.sqrt(p2[rows] * scale**2 + mass2[rows])
        return CaloInput(
            gen.event[rows], energy, at_calo.eta_calo[rows], at_calo.phi_calo[rows], abs_id[rows]
        )

    ecal = simulate(card.ecal, particles, tracks_with(track, np.ones(len(track))), rng)
    # Only tracks inside an ECal tower are in its output (Delphes' ECal/eflowTracks);
    # a track the ECal zeroed at threshold goes on with E = m, as in Delphes.
    passed = np.flatnonzero(ecal.track_inside)
    hcal = simulate(card.hcal, particles, tracks_with(track[passed], ecal.track_scale[passed]), rng)
    scale = ecal.track_scale[passed] * hcal.track_scale
    kept = scale > 0  # a track of a tower below threshold has pT 0: JetClass drops it

    ip_rows = passed[kept]  # rows of the surviving tracks among all tracked particles
    t = track[ip_rows]
    s = scale[kept]
    photons, hadrons = _neutrals(ecal), _neutrals(hcal)
    n_tracks = len(t)
    zeros = [np.zeros(len(photons[0])), np.zeros(len(hadrons[0]))]
    event = np.concatenate([gen.event[t], photons[0], hadrons[0]])
    order = np.argsort(event, kind="stable")

    def joined(track_values: np.ndarray, photon: np.ndarray, hadron: np.ndarray) -> np.ndarray:
        return np.concatenate([track_values, photon, hadron])[order]

    flag_track = {
        "isChargedHadron": ~is_electron[t] & ~is_muon[t],
        "isElectron": is_electron[t],
        "isMuon": is_muon[t],
        "isPhoton": np.zeros(n_tracks, dtype=bool),
        "isNeutralHadron": np.zeros(n_tracks, dtype=bool),
    }
    # The flag of each calorimeter's neutrals follows its card's neutral_pid.
    flag_photon = {NEUTRAL_FLAGS[card.ecal.neutral_pid]: np.ones(len(photons[0]), dtype=bool)}
    flag_hadron = {NEUTRAL_FLAGS[card.hcal.neutral_pid]: np.ones(len(hadrons[0]), dtype=bool)}
    flags = {
        name: joined(
            values,
            flag_photon.get(name, np.zeros(len(photons[0]), dtype=bool)),
            flag_hadron.get(name, np.zeros(len(hadrons[0]), dtype=bool)),
        ).astype(np.int32)
        for name, values in flag_track.items()
    }
    energy_track = np.sqrt(p2[t] * s**2 + mass2[t])
    return RecoParticles(
        event=event[order],
        px=joined(at_calo.px_perigee[t] * s, photons[1], hadrons[1]),
        py=joined(at_calo.py_perigee[t] * s, photons[2], hadrons[2]),
        pz=joined(gen.pz[t] * s, photons[3], hadrons[3]),
        energy=joined(energy_track, photons[4], hadrons[4]),
        charge=joined(gen.charge[t], *zeros),
        d0val=joined(ip_all.d0val[ip_rows], *zeros),
        d0err=joined(ip_all.d0err[ip_rows], *zeros),
        dzval=joined(ip_all.dzval[ip_rows], *zeros),
        dzerr=joined(ip_all.dzerr[ip_rows], *zeros),
        **flags,
    )


def _neutrals(
    out: CalorimeterOutput,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(event, px, py, pz, energy)`` of a calorimeter's neutral candidates (massless)."""
    energy = out.neutral_energy
    pt = energy / np.cosh(out.neutral_eta)
    return (
        out.neutral_event,
        pt * np.cos(out.neutral_phi),
        pt * np.sin(out.neutral_phi),
        pt * np.sinh(out.neutral_eta),
        energy,
    )
