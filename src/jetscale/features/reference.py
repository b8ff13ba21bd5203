"""A deliberately plain per-jet NumPy implementation of the feature block.

It exists for two reasons: tests check the fused kernel against it on real
generated jets, and ``benchmarks/bench_features.py`` measures how much faster the
kernel is. It reads the same registry constants but shares no code with the kernel:
its :data:`FORMULAS` are written independently of the registry formulas, and a new
registry feature needs its line here (a test checks that every feature has one).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import awkward as ak
import numpy as np

from jetscale.features.registry import FeatureSpec, resolve_specs

Formula = Callable[[dict[str, np.ndarray], dict[str, float]], np.ndarray]

# Each formula maps one jet's constituent columns (float64) and its jet fields
# (``pt``, ``energy``, ``eta``, ... as floats) to raw values.
FORMULAS: dict[str, Formula] = {
    "part_pt_log": lambda c, jet: np.log(np.hypot(c["px"], c["py"])),
    "part_e_log": lambda c, jet: np.log(c["energy"]),
    "part_logptrel": lambda c, jet: np.log(np.hypot(c["px"], c["py"]) / jet["pt"]),
    "part_logerel": lambda c, jet: np.log(c["energy"] / jet["energy"]),
    "part_deltaR": lambda c, jet: np.hypot(c["deta"], c["dphi"]),
    "part_charge": lambda c, jet: c["charge"],
    "part_isChargedHadron": lambda c, jet: c["isChargedHadron"],
    "part_isNeutralHadron": lambda c, jet: c["isNeutralHadron"],
    "part_isPhoton": lambda c, jet: c["isPhoton"],
    "part_isElectron": lambda c, jet: c["isElectron"],
    "part_isMuon": lambda c, jet: c["isMuon"],
    "part_d0": lambda c, jet: np.tanh(c["d0val"]),
    "part_d0err": lambda c, jet: c["d0err"],
    "part_dz": lambda c, jet: np.tanh(c["dzval"]),
    "part_dzerr": lambda c, jet: c["dzerr"],
    "part_deta": lambda c, jet: c["deta"],
    "part_dphi": lambda c, jet: c["dphi"],
    "part_px_rel": lambda c, jet: c["px"] / jet["pt"],
    "part_py_rel": lambda c, jet: c["py"] / jet["pt"],
    "part_pz_rel": lambda c, jet: c["pz"] / jet["pt"],
    "part_e_rel": lambda c, jet: c["energy"] / jet["pt"],
    "part_px": lambda c, jet: c["px"],
    "part_py": lambda c, jet: c["py"],
    "part_pz": lambda c, jet: c["pz"],
    "part_energy": lambda c, jet: c["energy"],
    "part_pt": lambda c, jet: np.hypot(c["px"], c["py"]),
    "part_mask": lambda c, jet: np.ones_like(c["px"]),
}


def build_features_loop(
    jets: ak.Array,
    feature_set_name: str | Sequence[FeatureSpec] = "full21",
    max_particles: int = 128,
    pad_mode: str = "constant",
) -> tuple[np.ndarray, np.ndarray]:
    """Same contract as :func:`jetscale.features.build_features`, one jet at a time."""
    specs = resolve_specs(feature_set_name)
    jets_list = ak.to_list(jets)  # plain Python objects: the honest per-jet baseline
    x = np.empty((len(jets_list), max_particles, len(specs)), dtype=np.float32)
    mask = np.zeros((len(jets_list), max_particles), dtype=bool)
    pad = np.array([s.pad_value for s in specs], dtype=np.float32)
    for j, jet in enumerate(jets_list):
        consts = jet["constituents"]
        x[j] = pad
        if not consts:
            continue
        cols = {k: np.array([c[k] for c in consts], dtype=np.float64) for k in consts[0]}
        jet_fields = {k: float(v) for k, v in jet.items() if isinstance(v, int | float)}
        pt2 = cols["px"] ** 2 + cols["py"] ** 2  # float64, like the documented sort key
        order = np.argsort(-pt2, kind="stable")[:max_particles]
        cols = {k: v[order] for k, v in cols.items()}
        n = len(order)
        for f, spec in enumerate(specs):
            raw = FORMULAS[spec.name](cols, jet_fields)
            x[j, :n, f] = np.clip((raw - spec.center) * spec.scale, spec.lower, spec.upper)
        mask[j, :n] = True
        if pad_mode == "wrap":
            slots = np.arange(n, max_particles)
            x[j, n:] = x[j, slots % n]
    return x, mask
