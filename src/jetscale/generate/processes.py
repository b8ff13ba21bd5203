"""Pythia 8 process settings for each JetClass class and each new signal X.

Each class has its own hard process at 13 TeV, generated in a pT-hat window
around the jet pT window (:func:`pthat_window`), with the decays of interest
forced so that (almost) every event contains a candidate:

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
* ``X<decay>_m<mass>`` (:mod:`.signals`): produced as the Higgs samples (ZH,
  Z -> nu nu) with the Higgs (25) given the mass ``25:m0``, a narrow width forced
  to ``mass / 1000`` (an SM Higgs of 300 GeV would be 9 GeV wide and one of
  1 TeV 565 GeV) and a mass window of +-10 %. Decays: ``bb``, ``cc``, ``gg`` as
  Hbb, Hcc, Hgg; ``4q`` as H4q (W W*, both W -> q q'); ``qq`` to u, d and s
  quarks in equal parts (three added channels of equal branching ratio, so the
  Yukawa couplings, which would make it nearly all s sbar, do not apply).

Forced decays change cross sections, not kinematics, and JetClass samples are
exclusive anyway. q stands for d, u, s, c, b.
"""

from __future__ import annotations

from dataclasses import dataclass

from jetscale.generate.jets import DEFAULT_PT_RANGE
from jetscale.generate.signals import Signal, parse_signal

#: Centre-of-mass energy, GeV.
SQRT_S = 13000.0
#: pT-hat window, GeV, of the default 500-1000 GeV jet window: wider than it so
#: that recoil, radiation and detector smearing do not sculpt the jet pT spectrum at
#: its edges. Other jet windows scale it (:func:`pthat_window`).
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


#: Forced decays of X (particle 25), by decay name (see :data:`.signals.X_DECAYS`).
_X_DECAY_SETTINGS: dict[str, tuple[str, ...]] = {
    "bb": ("25:onIfMatch = 5 -5",),
    "cc": ("25:onIfMatch = 4 -4",),
    "gg": ("25:onIfMatch = 21 21",),
    # The SM channels to d, u, s stay off: new ones of equal partial width (meMode 100:
    # branching ratio times the stored width) make the three flavours equally likely.
    "qq": tuple(f"25:addChannel = 1 0.3333 100 {q} -{q}" for q in (1, 2, 3)),
    "4q": ("25:onIfMatch = 24 -24", "24:onMode = off", f"24:onIfAny = {_QUARKS}"),
}
#: Forced width of X relative to its mass: far below the jet mass resolution at any mass.
X_RELATIVE_WIDTH = 0.001
#: Half-width of X's mass window relative to its mass (``25:mMin``, ``25:mMax``).
X_MASS_WINDOW = 0.1


def signal_spec(signal: Signal) -> ProcessSpec:
    """The :class:`ProcessSpec` of a new signal X, without the checks of its name."""
    mass = float(signal.mass)
    settings = (
        *_ZH,
        f"25:m0 = {mass:g}",
        f"25:mMin = {mass * (1 - X_MASS_WINDOW):g}",
        f"25:mMax = {mass * (1 + X_MASS_WINDOW):g}",
        "25:doForceWidth = on",
        f"25:mWidth = {mass * X_RELATIVE_WIDTH:g}",
        *_X_DECAY_SETTINGS[signal.decay],
    )
    return ProcessSpec(signal.name, settings, 25, n_quarks=signal.n_partons)


def process_spec(name: str) -> ProcessSpec:
    """The :class:`ProcessSpec` of a JetClass class or an ``X<decay>_m<mass>`` signal.

    Raises a ValueError naming ``name`` and the accepted forms for any other name.
    """
    signal = parse_signal(name)
    return _SPECS[name] if signal is None else signal_spec(signal)


def pthat_window(pt_range: tuple[float, float] = DEFAULT_PT_RANGE) -> tuple[float, float]:
    """Pythia's pT-hat window (GeV) for the jet pT window ``pt_range`` (GeV).

    ``(0.9 min, 1.1 max)``: 450-1100 GeV for the default 500-1000 GeV, as always.
    Computed as ``min * 9 / 10`` and ``max * 11 / 10``, which are exact for whole
    GeV, so the default settings, and with them the events, stay exactly as they were.
    """
    low, high = pt_range
    return low * 9 / 10, high * 11 / 10


#: Setting groups that switch hard processes on: the part of a class's settings that
#: re-simulated views must not have (they take the hard process from outside).
_PROCESS_SWITCHES = ("HiggsSM:", "Top:", "WeakBosonAndParton:")


def particle_settings(spec: ProcessSpec, unit_index: int = 0) -> list[str]:
    """The lines of :func:`pythia_settings` about particles (masses, widths, forced decays).

    What a Pythia instance that showers and hadronises a hard process generated
    elsewhere needs: everything but the beams, the pT-hat window, the seed and
    the process switches (with those on it would also generate hard processes
    of its own).
    """
    lines = pythia_settings(spec, 0, unit_index)
    common = len(pythia_settings(ProcessSpec("", (), None), 0))
    return [line for line in lines[common:] if not line.startswith(_PROCESS_SWITCHES)]


def pythia_settings(
    spec: ProcessSpec,
    seed: int,
    unit_index: int = 0,
    pt_range: tuple[float, float] = DEFAULT_PT_RANGE,
) -> list[str]:
    """All Pythia readString lines for one work unit of ``spec``, seeded with ``seed``.

    The pT-hat window follows the jet window ``pt_range`` (GeV, :func:`pthat_window`).
    Hadronisation, multiparton interactions and the Pythia default decay table stay
    on (B, D hadrons, K0S and hyperons decay, with production vertices in mm).
    """
    pthat_min, pthat_max = pthat_window(pt_range)
    lines = [
        f"Beams:eCM = {SQRT_S}",
        f"PhaseSpace:pTHatMin = {pthat_min}",
        f"PhaseSpace:pTHatMax = {pthat_max}",
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
