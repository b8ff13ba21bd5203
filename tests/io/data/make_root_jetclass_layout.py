"""Write two small files in the layout of the real JetClass files, with ROOT itself.

The real JetClass files (Qu, Li, Qian 2022) were written by ROOT: ``part_*``
branches are ``std::vector<float>`` (uproot reads them as STL vectors, not as the
``float[]`` arrays with a counter branch that uproot writes), ``jet_*`` floats,
``label_*`` one-hot ``bool`` and ``aux_*`` extras. uproot cannot write STL
vectors, so these fixtures are written by ROOT's own TTree, with the labels
``bool`` in one file and ``float`` in the other (converted JetClass copies carry
float labels). The values are also saved to ``root_jetclass_layout.npz``, which
the tests compare jetscale's reader against.

Regenerate (outside the project's environment; the ROOT wheel is 250 MB):
    python -m venv /tmp/rootenv && /tmp/rootenv/bin/pip install root numpy
    /tmp/rootenv/bin/python tests/io/data/make_root_jetclass_layout.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import ROOT

HERE = Path(__file__).resolve().parent
CLASSES = ("QCD", "Hbb", "Hcc", "Hgg", "H4q", "Hqql", "Zqq", "Wqq", "Tbqq", "Tbl")
PART = (
    "px", "py", "pz", "energy", "deta", "dphi", "d0val", "d0err", "dzval", "dzerr", "charge",
    "isChargedHadron", "isNeutralHadron", "isPhoton", "isElectron", "isMuon",
)  # fmt: skip
JET = ("pt", "eta", "phi", "energy", "nparticles", "sdmass", "tau1", "tau2", "tau3", "tau4")


def jets(rng: np.random.Generator, n: int) -> dict[str, list[np.ndarray] | np.ndarray]:
    """Physical-looking jets: consistent four-momenta around a jet axis, PID one-hot."""
    counts = rng.integers(1, 40, n)
    out: dict[str, list[np.ndarray] | np.ndarray] = {f"part_{f}": [] for f in PART}
    jet_pt, jet_eta, jet_phi = (
        rng.uniform(500, 1000, n),
        rng.uniform(-2, 2, n),
        rng.uniform(-3, 3, n),
    )
    for i, k in enumerate(counts):
        frac = rng.exponential(1.0, k)
        pt = jet_pt[i] * frac / frac.sum()
        deta, dphi = rng.normal(0, 0.2, k), rng.normal(0, 0.2, k)
        eta, phi = jet_eta[i] + deta, jet_phi[i] + dphi
        px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
        energy = np.sqrt(px**2 + py**2 + pz**2 + 0.14**2)
        pid = rng.integers(0, 5, k)
        charge = np.where(pid == 0, rng.choice([-1.0, 1.0], k), 0.0)
        values = {
            "px": px, "py": py, "pz": pz, "energy": energy, "deta": deta, "dphi": dphi,
            "d0val": rng.normal(0, 0.05, k), "d0err": rng.uniform(0.005, 0.2, k),
            "dzval": rng.normal(0, 0.1, k), "dzerr": rng.uniform(0.005, 0.2, k), "charge": charge,
        }  # fmt: skip
        for j, flag in enumerate(PART[11:]):
            values[flag] = (pid == j).astype(float)
        for field in PART:
            out[f"part_{field}"].append(np.asarray(values[field], dtype=np.float32))  # type: ignore[union-attr]
    out["jet_pt"], out["jet_eta"], out["jet_phi"] = jet_pt, jet_eta, jet_phi
    out["jet_energy"] = jet_pt * np.cosh(jet_eta) * 1.01
    out["jet_nparticles"] = counts.astype(float)
    out["jet_sdmass"] = rng.uniform(10, 200, n)
    for t in range(1, 5):
        out[f"jet_tau{t}"] = rng.uniform(0, 1, n)
    out["aux_genpart_pt"] = rng.uniform(400, 1100, n)
    return out


def write(path: Path, data: dict, label: int, label_type: str) -> None:
    n = len(data["jet_pt"])
    file = ROOT.TFile(str(path), "RECREATE")
    tree = ROOT.TTree("tree", "tree")
    vectors = {name: ROOT.std.vector("float")() for name in data if name.startswith("part_")}
    scalars = {name: np.zeros(1, dtype=np.float32) for name in data if not name.startswith("part_")}
    dtype = np.bool_ if label_type == "bool" else np.float32
    labels = {f"label_{c}": np.zeros(1, dtype=dtype) for c in CLASSES}
    for name, vec in vectors.items():
        tree.Branch(name, vec)
    for name, buf in scalars.items():
        tree.Branch(name, buf, f"{name}/F")
    for name, buf in labels.items():
        tree.Branch(name, buf, f"{name}/{'O' if label_type == 'bool' else 'F'}")
    for i in range(n):
        for name, vec in vectors.items():
            vec.clear()
            for value in data[name][i]:
                vec.push_back(float(value))
        for name, buf in scalars.items():
            buf[0] = data[name][i]
        for index, buf in enumerate(labels.values()):
            buf[0] = index == label
        tree.Fill()
    tree.Write()
    file.Close()


def main() -> None:
    rng = np.random.default_rng(2022)
    saved = {}
    for name, label, label_type, n in (("HToBB", 1, "bool", 40), ("ZJetsToNuNu", 0, "float", 60)):
        data = jets(rng, n)
        write(HERE / f"{name}_rootlayout.root", data, label, label_type)
        for key, value in data.items():
            if key.startswith("part_"):
                saved[f"{name}/{key}/counts"] = np.array([len(v) for v in value])
                saved[f"{name}/{key}"] = np.concatenate(value)
            else:
                saved[f"{name}/{key}"] = np.asarray(value, dtype=np.float32)
        saved[f"{name}/label"] = np.full(n, label)
    np.savez_compressed(HERE / "root_jetclass_layout.npz", **saved)


if __name__ == "__main__":
    main()
