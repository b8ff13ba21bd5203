"""Pythia 8 process settings for each JetClass class.

Each class has its own hard process at 13 TeV, generated in a pT-hat window
around the 500-1000 GeV jet window, with the decays of interest forced so that
(almost) every event contains a candidate:

* ``QCD``: Z(-> nu nu) + jet (``WeakBosonAndParton``, Z only), as JetClass's
  ``ZJetsToNuNu`` sample: the recoiling jets, mostly quark jets (qg -> Zq dominates);
  every jet in the window counts, no truth matching.
* ``Hbb, Hcc, Hgg``: ZH (``HiggsSM:ffbar2HZ``) with Z -> nu nu and H -> bb / cc / gg.
* ``H4q``: ZH, Z -> nu nu, H -> W W* with both W -> q q'.
* ``Hqql``: ZH, Z -> nu nu, H -> W W* with one W -> q q' and the other W -> l nu
  (l = e, mu: JetClass counts only those as the lepton). Pythia forces decays per charge, so work units alternate:
  even units decay W+ -> q q' and W- -> l nu, odd units the reverse; a sample of
  several units therefore holds both lepton charges in equal parts.
* ``Wqq``, ``Zqq``: boosted boson + parton (``WeakBosonAndParton``), Z only
  (``WeakZ0:gmZmode = 2``), boson -> q q'.
* ``Tbqq``: ttbar with every W -> q q'; ``Tbl``: ttbar with every W -> l nu
  (l = e, mu, as JetClass), so both tops are candidates.

Forced decays change cross sections, not kinematics, and JetClass samples are
exclusive anyway. q stands for d, u, s, c, b.
"""

from __future__ import annotations

from dataclasses import dataclass

from jetscale import schema

#: Centre-of-mass energy, GeV.
SQRT_S = 13000.0
#: pT-hat window, GeV: wider than the 500-1000 GeV jet window so that recoil,
#: radiation and detector smearing do not sculpt the jet pT spectrum at its edges.
PTHAT_MIN = 450.0
PTHAT_MAX = 1100.0

_QUARKS = "1 2 3 4 5"
_LEPTONS = "11 13"  # JetClass matches e and mu only: tau decays are not Hqql/Tbl jets
_Z_TO_NUNU = ("23:onMode = off", "23:onIfAny = 12 14 16")
_ZH = ("HiggsSM:ffbar2HZ = on", *_Z_TO_NUNU, "25:onMode = off")
_TTBAR = ("Top:gg2ttbar = on", "Top:qqbar2ttbar = on", "24:onMode = off")
_W_PLUS_J = ("WeakBosonAndParton:qqbar2Wg = on", "WeakBosonAndParton:qg2Wq = on")
_Z_PLUS_J = (
    "WeakBosonAndParton:qqbar2gmZg = on",
    "WeakBosonAndParton:qg2gmZq = on",
    "WeakZ0:gmZmode = 2",
)


@dataclass(frozen=True)
class ProcessSpec:
    """How to generate one class and what a truth-matched jet must contain."""

    name: str  # JetClass class name
    settings: tuple[str, ...]  # Pythia readString lines (besides the common ones)
    resonance_id: int | None  # |PDG id| of the resonance to match; None for QCD
    n_quarks: int = 0  # quarks (or gluons) among the resonance's decay products
    n_leptons: int = 0  # charged leptons among them
    alternate_w_charge: bool = False  # Hqql: swap which W decays leptonically per unit


_SPECS: dict[str, ProcessSpec] = {
    "QCD": ProcessSpec("QCD", (*_Z_PLUS_J, *_Z_TO_NUNU), None),
    "Hbb": ProcessSpec("Hbb", (*_ZH, "25:onIfMatch = 5 -5"), 25, n_quarks=2),
    "Hcc": ProcessSpec("Hcc", (*_ZH, "25:onIfMatch = 4 -4"), 25, n_quarks=2),
    "Hgg": ProcessSpec("Hgg", (*_ZH, "25:onIfMatch = 21 21"), 25, n_quarks=2),
    "H4q": ProcessSpec(
        "H4q",
        (*_ZH, "25:onIfMatch = 24 -24", "24:onMode = off", f"24:onIfAny = {_QUARKS}"),
        25,
        n_quarks=4,
    ),
    "Hqql": ProcessSpec(
        "Hqql",
        (*_ZH, "25:onIfMatch = 24 -24", "24:onMode = off"),
        25,
        n_quarks=2,
        n_leptons=1,
        alternate_w_charge=True,
    ),
    "Zqq": ProcessSpec(
        "Zqq", (*_Z_PLUS_J, "23:onMode = off", f"23:onIfAny = {_QUARKS}"), 23, n_quarks=2
    ),
    "Wqq": ProcessSpec(
        "Wqq", (*_W_PLUS_J, "24:onMode = off", f"24:onIfAny = {_QUARKS}"), 24, n_quarks=2
    ),
    "Tbqq": ProcessSpec("Tbqq", (*_TTBAR, f"24:onIfAny = {_QUARKS}"), 6, n_quarks=3),
    "Tbl": ProcessSpec("Tbl", (*_TTBAR, f"24:onIfAny = {_LEPTONS}"), 6, n_quarks=1, n_leptons=1),
}


def process_spec(name: str) -> ProcessSpec:
    """The :class:`ProcessSpec` of a JetClass class name."""
    schema.class_index(name)  # raises a ValueError listing the classes
    return _SPECS[name]


def pythia_settings(spec: ProcessSpec, seed: int, unit_index: int = 0) -> list[str]:
    """All Pythia readString lines for one work unit of ``spec``, seeded with ``seed``.

    Hadronisation, multiparton interactions and the Pythia default decay table stay
    on (B, D hadrons, K0S and hyperons decay, with production vertices in mm).
    """
    lines = [
        f"Beams:eCM = {SQRT_S}",
        f"PhaseSpace:pTHatMin = {PTHAT_MIN}",
        f"PhaseSpace:pTHatMax = {PTHAT_MAX}",
        "Random:setSeed = on",
        f"Random:seed = {seed}",
        "Print:quiet = on",
        "Next:numberCount = 0",
        "Init:showChangedSettings = off",
        "Init:showChangedParticleData = off",
        *spec.settings,
    ]
    if spec.alternate_w_charge:
        hadronic, leptonic = ("24:onPosIfAny", "24:onNegIfAny")[:: 1 if unit_index % 2 == 0 else -1]
        lines += [f"{hadronic} = {_QUARKS}", f"{leptonic} = {_LEPTONS}"]
    return lines
