"""Re-simulated views of one hard process (RS3L): named variations and the views' Pythias.

Re-simulation (Harris, Kagan, Krupa, Maier, Woodward, "Re-Simulation-based
Self-Supervised Learning for Pre-Training Foundation Models") fixes an event at
the hard process and runs everything after it several times: parton shower,
multiparton interactions, hadronisation and decays, and the detector response,
each time with its own random numbers and, if asked, a named variation of the
physics (:data:`VARIATIONS`) or of the detector (``detector=<card>``). The
views of one event then differ exactly by what the simulator does not know.

How the hard process stays fixed: one Pythia instance generates hard processes
only (``PartonLevel:all = off``, ``HadronLevel:all = off``; resonance decays
are part of the process level, so H -> b bbar or t -> b q q' are fixed too),
and every view is its own Pythia instance reading that record through the Les
Houches interface (``Beams:frameType = 5``) from :class:`HardProcessFeed`: the
in-memory equivalent of writing the hard process to an LHE file and reading it
back, without the file. Pythia's own ``LHAupFromPYTHIA8`` would do the same,
but from Python it can only be given a copy of the generator's ``Info``, taken
once, so the shower starting scale and the PDF information of every event after
the first would be stale; the feed reads them afresh for every event.

A view's Pythia keeps the class's particle settings (masses, widths, forced
decays: :func:`~jetscale.generate.processes.particle_settings`), never its
process switches (which would make it generate hard processes of its own).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from jetscale.generate.cards import card_digest, parse_card, read_card_text
from jetscale.generate.events import require_pythia

#: Named variations of the physics after the hard process: Pythia settings on top
#: of the defaults (Monash 2013 tune). ``renormMultFac`` multiplies the shower's
#: renormalisation scale *squared* (pT^2), so 4 and 1/4 are mu_R x 2 and x 1/2,
#: the conventional scale variations ("up" = the scale up, i.e. less radiation).
#: ``StringPT:sigma`` (0.335 GeV) is the width of the hadrons' transverse momenta
#: in string breaks, varied by +-20 %.
VARIATIONS: dict[str, tuple[str, ...]] = {
    "nominal": (),
    "fsr_up": ("TimeShower:renormMultFac = 4",),
    "fsr_down": ("TimeShower:renormMultFac = 0.25",),
    "isr_up": ("SpaceShower:renormMultFac = 4",),
    "isr_down": ("SpaceShower:renormMultFac = 0.25",),
    "hadronisation_pt_up": ("StringPT:sigma = 0.402",),
    "hadronisation_pt_down": ("StringPT:sigma = 0.268",),
}
#: A variation of the detector: ``detector=<card>`` (a shipped card's name or a ``.toml`` file).
DETECTOR_VARIATION = "detector="
#: The fewest views a re-simulation can have: one view is plain generation.
MIN_VIEWS = 2
#: Settings of the Pythia instance that generates the hard processes only.
HARD_PROCESS_ONLY = ("PartonLevel:all = off", "HadronLevel:all = off")
#: The one process of the views' Les Houches input (its number is only a label).
_LHA_PROCESS = 9999


@dataclass(frozen=True)
class ViewSpec:
    """What one view of every group varies: its name, Pythia settings and detector card."""

    name: str  # a key of VARIATIONS, or "detector=<card>"
    settings: tuple[str, ...] = ()
    #: The TOML of the view's detector card; empty: the run's own card.
    card_text: str = ""

    def identity(self) -> dict[str, Any]:
        """What the view's jets depend on, for the unit's identity."""
        return {
            "name": self.name,
            "settings": list(self.settings),
            "card_sha256": card_digest(self.card_text) if self.card_text else None,
        }


def view_specs(resimulate: int, variations: Sequence[str] | None = None) -> tuple[ViewSpec, ...]:
    """The views of ``--resimulate K [--variations ...]``, checked before any event.

    ``variations`` names each view (``K`` names, :data:`VARIATIONS` or
    ``detector=<card>``); ``None`` makes all ``K`` views ``nominal`` (new random
    numbers only). Raises ValueError for ``K < 2``, a count that is not ``K``, an
    unknown name or a card that does not parse, and for a setting Pythia rejects.
    """
    if isinstance(resimulate, bool) or not isinstance(resimulate, int) or resimulate < MIN_VIEWS:
        msg = (
            f"--resimulate needs at least {MIN_VIEWS} views of each hard process, got "
            f"{resimulate!r} (K = 1 is plain generation: leave --resimulate out)"
        )
        raise ValueError(msg)
    names = ["nominal"] * resimulate if variations is None else [v.strip() for v in variations]
    if len(names) != resimulate:
        msg = (
            f"--variations names {len(names)} views ({', '.join(names)}) but --resimulate "
            f"asks for {resimulate}: give one name per view"
        )
        raise ValueError(msg)
    views = tuple(_view_spec(name) for name in names)
    _check_settings(views)
    return views


def _view_spec(name: str) -> ViewSpec:
    if name.startswith(DETECTOR_VARIATION):
        card = name.removeprefix(DETECTOR_VARIATION)
        text, source = read_card_text(card)  # CardError (a ValueError) names a bad card
        parse_card(text, source)
        return ViewSpec(name, (), text)
    if name not in VARIATIONS:
        known = ", ".join([*VARIATIONS, f"{DETECTOR_VARIATION}<card>"])
        msg = f"unknown variation {name!r}; known: {known}"
        raise ValueError(msg)
    return ViewSpec(name, VARIATIONS[name])


def _check_settings(views: Sequence[ViewSpec]) -> None:
    """Every setting of every view, read by a Pythia instance that is never initialised."""
    pythia = require_pythia().Pythia("", False)
    for view in views:
        for line in view.settings:
            if not pythia.readString(line):
                msg = f"variation {view.name!r}: Pythia rejected the setting {line!r}"
                raise ValueError(msg)


def view_settings(particle_settings: Sequence[str], view: ViewSpec, seed: int) -> list[str]:
    """The readString lines of one view's Pythia: Les Houches input, seed, particles, variation."""
    return [
        "Beams:frameType = 5",
        "Random:setSeed = on",
        f"Random:seed = {seed}",
        "Print:quiet = on",
        "Next:numberCount = 0",
        *particle_settings,
        *view.settings,
    ]


_FEED_CLASS: type | None = None


def hard_process_feed(source: Any) -> Any:
    """A :class:`HardProcessFeed` reading the current hard process of the Pythia ``source``.

    Built on first use: it subclasses ``pythia8mc.LHAup``, and Pythia is optional.
    """
    global _FEED_CLASS
    if _FEED_CLASS is None:
        _FEED_CLASS = _make_feed_class(require_pythia().LHAup)
    return _FEED_CLASS(source)


def _make_feed_class(lha_up: type) -> type:
    class HardProcessFeed(lha_up):
        """Les Houches input that hands a view's Pythia the source's current hard process.

        Every ``next()`` of the view calls :meth:`setEvent`, which copies the
        source's process record as it is now (a retried event gets the same one):
        incoming partons (status -1), decayed resonances (2) and outgoing
        particles (1), with colours, masses, lifetimes and scales, the event's
        factorisation scale as the shower starting scale, and its PDF information.
        """

        def __init__(self, source: Any) -> None:
            super().__init__(3)  # strategy 3: unweighted events of weight 1
            self.source = source

        def setInit(self) -> bool:
            info = self.source.infoPython()
            self.setBeamA(info.idA(), info.eA())
            self.setBeamB(info.idB(), info.eB())
            self.setStrategy(3)
            self.addProcess(_LHA_PROCESS, 1.0, 0.0, 1.0)
            return True

        def setEvent(self, _process_id: int = 0) -> bool:
            info = self.source.infoPython()  # a fresh copy: this event's scales and PDFs
            process = self.source.process
            self.setProcess(_LHA_PROCESS, 1.0, info.QFac(), info.alphaEM(), info.alphaS())
            # Entry 0 of the process record is the system, 1-2 the beams; the Les
            # Houches list starts at the incoming partons (its entry 1 is record entry 3).
            for i in range(3, process.size()):
                particle = process[i]
                incoming = i in (3, 4)
                status = -1 if incoming else (1 if particle.isFinal() else 2)
                mother1 = 0 if incoming else max(particle.mother1() - 2, 0)
                mother2 = 0 if incoming else max(particle.mother2() - 2, 0)
                self.addParticle(
                    particle.id(),
                    status,
                    mother1,
                    mother2,
                    particle.col(),
                    particle.acol(),
                    particle.px(),
                    particle.py(),
                    particle.pz(),
                    particle.e(),
                    particle.m(),
                    particle.tau(),
                    9.0,  # spin unknown
                    particle.scale(),
                )
            self.setPdf(
                info.id1pdf(),
                info.id2pdf(),
                info.x1pdf(),
                info.x2pdf(),
                info.QFac(),
                info.pdf1(),
                info.pdf2(),
                True,
            )
            return True

    return HardProcessFeed
