"""Random jet directions for contrastive pretraining: the views of a group must not share one.

The views of a re-simulated group (``jetscale generate --resimulate``) share
their hard process, and with it the direction of the jet: the resonance or
parton they are matched to is the same four-vector in every view. Features that
carry the jet's absolute direction (``full21``'s ``part_px_rel``, ``part_py_rel``
and ``part_pz_rel``, whose sums over a jet are cos(phi), sin(phi) and sinh(eta)
of the jet; ``part_e_log`` against ``part_pt_log``, which gives each
constituent's |eta|) then let a contrastive loss tell the groups apart by where
their jets point, a shortcut that says nothing about what the jets are. The
foundation demo measured it: a backbone pretrained that way encodes the jet's
|eta| with a linear R^2 of 0.97 and its class barely above chance
(docs/transfer.md).

The remedy is to make the direction useless for matching: every view is
rotated about the beam axis by its own uniform random angle and boosted along
the beam so that its jet takes the rapidity of another jet of the same window
(a random permutation). Both are symmetries of an unpolarised proton-proton
collision up to the detector's acceptance (the azimuth exactly, the boost for
the jet's internal structure, which depends on rapidity differences only), so
the jets stay physical, and the directions keep the data's own distribution, so
the backbone sees during pretraining the inputs it will see when fine-tuned.
Contrastive learning has used such symmetries as augmentations before (JetCLR:
Dillon, Kasieczka, Olischlager, Plehn, Sorrenson, Vogel 2022, rotations in the
eta-phi plane); RS3L's own augmentations are the re-simulations alone.

Lorentz transformations through :mod:`vector` (``rotateZ``, ``boostZ``), on
the constituents and on the jet's own four-vector alike.
"""

from __future__ import annotations

import awkward as ak
import numpy as np
import vector

vector.register_awkward()


def randomise_directions(jets: ak.Array, rng: np.random.Generator) -> ak.Array:
    """``jets`` (the readers' layout) each rotated in azimuth and boosted along the beam at random.

    Jet ``i`` is rotated by ``U(-pi, pi)`` and boosted by the rapidity
    difference to jet ``perm[i]`` (``rng.permutation``), so its rapidity becomes
    that jet's. The constituents' ``px``, ``py``, ``pz``, ``energy`` and ``deta``
    (recomputed from the boosted four-vectors: pseudorapidity differences move
    slightly under a boost for massive particles) and the jet's ``eta``, ``phi``
    and ``energy`` change; ``pt``, masses, ``dphi`` and every other field stay.
    """
    n = len(jets)
    if n == 0:
        return jets
    jet = _lorentz_vectors(jets, ("pt", "eta", "phi", "energy"))
    rapidity = ak.to_numpy(jet.rapidity)
    if not np.isfinite(rapidity).all():  # energy <= |pz|: nothing to boost to another rapidity
        bad = int(np.flatnonzero(~np.isfinite(rapidity))[0])
        msg = (
            f"{int((~np.isfinite(rapidity)).sum())} jet(s) without a rapidity (energy <= |pz|), "
            f"e.g. jet {bad}: pt {jets['pt'][bad]}, eta {jets['eta'][bad]}, "
            f"energy {jets['energy'][bad]}"
        )
        raise ValueError(msg)
    angle = rng.uniform(-np.pi, np.pi, n)
    beta = np.tanh(rapidity[rng.permutation(n)] - rapidity)
    moved_jet = jet.rotateZ(angle).boostZ(beta=beta)
    jet_eta = ak.to_numpy(moved_jet.eta)

    parts = jets["constituents"]
    moved = _lorentz_vectors(parts, ("px", "py", "pz", "energy"))
    moved = moved.rotateZ(ak.Array(angle)).boostZ(beta=ak.Array(beta))
    changed = {"px": moved.px, "py": moved.py, "pz": moved.pz, "energy": moved.E}
    if "deta" in parts.fields:
        changed["deta"] = moved.eta - ak.Array(jet_eta)
    constituents = parts
    for field, values in changed.items():
        constituents = ak.with_field(constituents, ak.values_astype(values, np.float32), field)

    out = ak.with_field(jets, constituents, "constituents")
    for field, column in (("eta", jet_eta), ("phi", moved_jet.phi), ("energy", moved_jet.E)):
        out = ak.with_field(out, np.asarray(column, np.float32), field)
    return out


def _lorentz_vectors(record: ak.Array, fields: tuple[str, str, str, str]) -> ak.Array:
    """``vector`` four-vectors of four fields of ``record``, in float64 (the readers give float32)."""
    return ak.zip(
        {field: ak.values_astype(record[field], np.float64) for field in fields},
        with_name="Momentum4D",
    )
