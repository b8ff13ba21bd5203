"""The JetClass file schema and jetscale's internal jet layout.

JetClass (Qu, Li, Qian 2022) stores one jet per entry of a TTree called ``tree``.
jetscale reads those branches into one internal awkward layout, and every other
reader (parquet, CMS NanoAOD fat jets with their PF candidates) maps into the same layout:

``jets`` -- an awkward record array, one record per jet, with jet-level fields
``pt, eta, phi, energy, nparticles, sdmass, tau1..tau4`` (GeV, radians), an int
``label`` (index into :data:`CLASS_NAMES`, -1 when the file carries no labels), and a
jagged record field ``constituents`` whose fields are :data:`CONSTITUENT_FIELDS`
(the JetClass ``part_*`` names without the prefix).

Keeping the JetClass names (minus ``part_``) makes the mapping to and from files
trivial and lets physicists recognise every field.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import numpy as np

TREE_NAME: Final = "tree"

#: The ten JetClass classes in the order of the ``label_*`` branches.
CLASS_NAMES: Final[tuple[str, ...]] = (
    "QCD",
    "Hbb",
    "Hcc",
    "Hgg",
    "H4q",
    "Hqql",
    "Zqq",
    "Wqq",
    "Tbqq",
    "Tbl",
)
LABEL_BRANCHES: Final[tuple[str, ...]] = tuple(f"label_{name}" for name in CLASS_NAMES)

#: Branch-name prefixes of constituent and jet fields in JetClass files (and in formulas).
CONSTITUENT_PREFIX: Final = "part_"
JET_PREFIX: Final = "jet_"

#: Per-constituent float branches (JetClass names carry a ``part_`` prefix).
CONSTITUENT_FLOAT_FIELDS: Final[tuple[str, ...]] = (
    "px",
    "py",
    "pz",
    "energy",
    "deta",
    "dphi",
    "d0val",
    "d0err",
    "dzval",
    "dzerr",
    "charge",
)
#: Per-constituent particle-ID flags, stored as int32 in JetClass.
CONSTITUENT_INT_FIELDS: Final[tuple[str, ...]] = (
    "isChargedHadron",
    "isNeutralHadron",
    "isPhoton",
    "isElectron",
    "isMuon",
)
CONSTITUENT_FIELDS: Final[tuple[str, ...]] = CONSTITUENT_FLOAT_FIELDS + CONSTITUENT_INT_FIELDS
PARTICLE_BRANCHES: Final[tuple[str, ...]] = tuple(
    CONSTITUENT_PREFIX + f for f in CONSTITUENT_FIELDS
)


def constituent_dtype(field: str) -> type[np.int32] | type[np.float32]:
    """The dtype of a constituent field in memory: int32 for the PID flags, float32 otherwise."""
    return np.int32 if field in CONSTITUENT_INT_FIELDS else np.float32


#: Jet-level float branches (``jet_nparticles`` is a float in the real files too).
JET_FIELDS: Final[tuple[str, ...]] = (
    "pt",
    "eta",
    "phi",
    "energy",
    "nparticles",
    "sdmass",
    "tau1",
    "tau2",
    "tau3",
    "tau4",
)
JET_BRANCHES: Final[tuple[str, ...]] = tuple(JET_PREFIX + f for f in JET_FIELDS)

#: Jet-level fields of re-simulated files (``jetscale generate --resimulate K``), with
#: their dtypes: ``group`` is the same for every view of one hard-process object (a
#: resonance, or the hard parton of a QCD event) and unique within its file; ``view``
#: indexes the file's views (their variation names are in the file's
#: :data:`VIEWS_KEY` metadata); ``hard_*`` are that object's kinematics in the hard
#: process (GeV), identical in every view of a group.
VIEW_JET_FIELDS: Final[dict[str, type[np.generic]]] = {
    "group": np.int64,
    "view": np.int32,
    "hard_pt": np.float64,
    "hard_eta": np.float64,
    "hard_phi": np.float64,
    "hard_mass": np.float64,
}
#: Key of the JSON string (a ``TObjString``) describing a re-simulated file's views.
VIEWS_KEY: Final = "jetscale_views"

#: Every branch a complete JetClass file has.
ALL_BRANCHES: Final[tuple[str, ...]] = PARTICLE_BRANCHES + LABEL_BRANCHES + JET_BRANCHES


#: The class of jets without a truth label (data, NanoAOD): label -1.
UNLABELLED: Final = "unlabelled"


def class_names_of(labels: np.ndarray, names: Sequence[str] = CLASS_NAMES) -> np.ndarray:
    """Class name (from ``names``) of each label index, :data:`UNLABELLED` for -1 (no per-jet loop)."""
    table = np.asarray([*names, UNLABELLED], dtype=object)
    return table[np.asarray(labels, dtype=np.int64)]  # -1 picks the last entry


def class_index(name: str) -> int:
    """Index of a JetClass class name (case-sensitive, e.g. ``"Tbqq"``)."""
    try:
        return CLASS_NAMES.index(name)
    except ValueError:
        msg = f"unknown JetClass class {name!r}; known classes: {', '.join(CLASS_NAMES)}"
        raise ValueError(msg) from None


def parse_classes(spec: str) -> list[str]:
    """Parse a CLI class list such as ``"all"`` or ``"QCD,Tbqq"``."""
    if spec.strip().lower() == "all":
        return list(CLASS_NAMES)
    names = [s.strip() for s in spec.split(",") if s.strip()]
    if not names:
        msg = "empty class list; use 'all' or a comma-separated list such as 'QCD,Tbqq'"
        raise ValueError(msg)
    for name in names:
        class_index(name)
    return names
