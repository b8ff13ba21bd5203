"""Class names :func:`~jetscale.generate.generate` accepts: JetClass's ten and new signals X.

A new signal is a spin-0 resonance X of a chosen mass decaying to a chosen
final state, named ``X<decay>_m<mass>``: ``decay`` one of :data:`X_DECAYS`
(``bb``, ``cc``, ``qq`` for u, d, s, ``gg``, ``4q`` for X -> W W* -> 4 quarks)
and ``mass`` an integer in GeV without leading zeros (``Xbb_m60``, ``Xqq_m150``,
``X4q_m125``). :mod:`.processes` turns a name into Pythia settings.

Each generated class has an integer key for its seeds (:func:`class_key`): the
JetClass index for the ten, so their seeds never change, and ``2**32`` plus the
CRC-32 of the name for X, which no JetClass index can equal. Jets of an X class
carry label :func:`label_index` into :func:`label_classes`, JetClass's ten names
followed by the X name, so files get the ten ``label_*`` branches (false) and
``label_<name>`` (true).
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass

from jetscale import schema

#: Partons (quarks or gluons) X decays to, by decay name.
X_DECAYS: dict[str, int] = {"bb": 2, "cc": 2, "qq": 2, "gg": 2, "4q": 4}
#: Lowest X mass, GeV, of the two-body decays: above the b-quark pair threshold (9.6 GeV).
X_MASS_MIN = 10
#: Lowest X mass, GeV, of X -> W W* -> 4q: Pythia gives the Higgs no W W* width at or
#: below 40 GeV (both W masses are at least 10 GeV, ``24:mMin``), so it cannot start.
X4Q_MASS_MIN = 41
#: Seed keys of X classes start here, beyond every JetClass index.
X_KEY_OFFSET = 2**32

_FORMS = (
    "accepted names are JetClass's classes ("
    + ", ".join(schema.CLASS_NAMES)
    + ") and new signals X<decay>_m<mass> with decay one of "
    + ", ".join(X_DECAYS)
    + " and mass a whole number of GeV (e.g. Xbb_m60, Xqq_m150, X4q_m125)"
)
_X_NAME = re.compile(r"X(?P<decay>[A-Za-z0-9]*)(?:_m(?P<mass>.*))?")


@dataclass(frozen=True)
class Signal:
    """A new signal class X: its name, decay (a key of :data:`X_DECAYS`) and mass in GeV."""

    name: str
    decay: str
    mass: int  # GeV

    @property
    def n_partons(self) -> int:
        """Quarks or gluons among X's decay products (followed through the W bosons)."""
        return X_DECAYS[self.decay]


def parse_signal(name: str) -> Signal | None:
    """The :class:`Signal` of an ``X<decay>_m<mass>`` name; None for a JetClass name.

    Raises a ValueError naming ``name`` and the accepted forms for anything else,
    or for a decay that Pythia cannot make at that mass.
    """
    if name in schema.CLASS_NAMES:
        return None
    match = _X_NAME.fullmatch(name)
    if match is None:
        msg = f"unknown JetClass class {name!r}; {_FORMS}"
        raise ValueError(msg)
    decay, mass_text = match["decay"], match["mass"]
    problem = None
    if decay not in X_DECAYS:
        problem = f"unknown decay {decay!r}"
    elif mass_text is None:
        problem = f"no mass (write X{decay}_m<mass>, e.g. X{decay}_m60)"
    elif not re.fullmatch(r"[1-9][0-9]*", mass_text):
        problem = f"mass {mass_text!r} is not a whole number of GeV (digits, no leading zero)"
    if problem is not None:
        msg = f"unknown JetClass class {name!r}, and not a new signal X<decay>_m<mass>: {problem}; {_FORMS}"
        raise ValueError(msg)
    signal = Signal(name, decay, int(mass_text))
    lowest = X4Q_MASS_MIN if decay == "4q" else X_MASS_MIN
    if signal.mass < lowest:
        why = (
            "Pythia has no H -> W W* decay at or below 40 GeV"
            if decay == "4q"
            else "new signals start above the b-quark pair threshold of 9.6 GeV"
        )
        msg = (
            f"signal class {name!r}: X -> {decay} needs a mass of at least {lowest} GeV "
            f"({why}), got {signal.mass} GeV"
        )
        raise ValueError(msg)
    return signal


def check_class_name(name: str) -> None:
    """Raise a ValueError naming ``name`` and the accepted forms unless it can be generated."""
    parse_signal(name)


def parse_generate_classes(text: str) -> list[str]:
    """A class list of ``jetscale generate``: ``"all"`` (JetClass's ten) or ``"QCD,Xbb_m60"``."""
    if text.strip().lower() == "all":
        return list(schema.CLASS_NAMES)
    names = [s.strip() for s in text.split(",") if s.strip()]
    if not names:
        msg = f"empty class list {text!r}; use 'all' or a comma-separated list of {_FORMS}"
        raise ValueError(msg)
    for name in names:
        check_class_name(name)
    return names


def class_key(name: str) -> int:
    """The integer that keys a class's seeds: its JetClass index, or ``2**32 + crc32(name)`` for X."""
    if parse_signal(name) is None:
        return schema.class_index(name)
    return X_KEY_OFFSET + zlib.crc32(name.encode())


def label_classes(name: str) -> tuple[str, ...]:
    """The class names a generated class's ``label`` indexes: the ten, plus ``name`` for X."""
    if parse_signal(name) is None:
        return schema.CLASS_NAMES
    return (*schema.CLASS_NAMES, name)


def label_index(name: str) -> int:
    """The ``label`` of a generated class's jets: an index into :func:`label_classes`."""
    return label_classes(name).index(name)


def check_signal_window(name: str, pt_max: float, radius: float) -> None:
    """Refuse an X too heavy for the jet window, before any event is generated.

    X's decay products spread over about ``DeltaR = 2 m / pT``; above the jet radius
    even at the top of the window (``pt_max``, GeV) almost no jet contains them all,
    and the generator would run for a long time before failing.
    """
    signal = parse_signal(name)
    if signal is None or 2 * signal.mass / pt_max <= radius:
        return
    msg = (
        f"signal class {name!r}: the decay products of a {signal.mass} GeV X at pT <= "
        f"{pt_max:g} GeV spread over DeltaR ~ 2m/pT = {2 * signal.mass / pt_max:.2f}, more "
        f"than the jet radius {radius:g}; raise the pT window (--pt-range) to at least "
        f"{2 * signal.mass / radius:g} GeV at its top, or choose a lower mass"
    )
    raise ValueError(msg)
