"""CMS NanoAOD fat jets and their PF candidates in jetscale's internal jet layout.

:func:`fatjets_from_nanoaod` maps coffea NanoEvents (``NanoAODSchema``; eager,
virtual or dask) of two formats into the layout of :mod:`jetscale.schema`, so
:func:`jetscale.features.build_features` and the ONNX taggers run on CMS AK8 jets:

``"pfnano"``
    PFNano: the association table ``FatJetPFCands`` (``jetIdx``, ``pFCandsIdx``)
    points into ``PFCands`` (pt, eta, phi, mass, pdgId, charge, d0, d0Err, dz,
    dzErr, puppiWeight). There is no ``FatJet_nConstituents``: the entries are
    grouped by ``jetIdx``, so a fat jet without entries gets zero constituents and
    never shifts the others.
``"nanoaod_v15"``
    NanoAOD v15: ``FatJetPFCand`` (``jetIdx``, ``pfCandIdx``) points into
    ``PFCand`` (pt, eta, phi, mass, pdgId only). Charge comes from pdgId and there
    are no impact parameters, so only the ``kin`` and ``kinpid`` feature sets apply
    (:func:`available_constituent_fields`).

Conventions (chosen to make the constituents JetClass-like, checked on the real files):

* **PUPPI.** CMS AK8 jets are clustered from PUPPI-weighted candidates. PFNano's
  ``PFCands_pt``/``mass`` are *unweighted* and ``PFCands_puppiWeight`` is separate,
  so the four-momentum is scaled by the weight (as CMSSW does for ParticleNet's
  PUPPI-jet inputs); a candidate with weight <= 0 is not part of a PUPPI jet and
  is dropped. NanoAOD v15's ``PFCand`` four-momenta are *already* weighted (no
  weight branch). With this choice the constituents add up to the uncorrected
  jet, ``pt * (1 - rawFactor)``, within 0.3 % in pT and mass in both formats.
* **Jet pT.** ``pt``/``energy``/``mass`` are NanoAOD's JEC-corrected values (what
  an analysis cuts on); ``pt_raw`` carries the uncorrected pT the constituents add
  up to, so the constituents' pT fractions of ``pt`` add up to about
  ``1 - rawFactor`` (0.92 on the sample files) rather than 1.
* **Particle ID.** One-hot from |pdgId|: 211 charged hadron, 130 neutral hadron,
  22 photon, 11 electron, 13 muon. Forward-calorimeter candidates (HF hadronic,
  pdgId 1, and HF electromagnetic, pdgId 2) are neutral hadron and photon, like
  Delphes' calorimeter towers in JetClass, so every constituent keeps exactly one
  flag (CMSSW's ParticleNet leaves them all zero). Any other pdgId sets no flag.
* **Charge.** PFNano's ``charge`` branch; in v15 from pdgId: ``sign(pdgId)`` for
  211, ``-sign(pdgId)`` for 11 and 13 (a negative lepton has positive pdgId), else 0.
* **Impact parameters** (PFNano only) in mm, like JetClass (NanoAOD stores cm).
  PFNano writes -1 in all four branches for a candidate without track details
  (every neutral); those become 0 for value and error, JetClass's value for
  particles without a track.
* **Angles.** ``deta = sign(jet eta) * (cand eta - jet eta)``, JetClass's
  convention (flipped for backward jets); ``dphi`` is ``cand phi - jet phi``
  wrapped to (-pi, pi].
* **Jet ID.** NanoAOD's ``FatJet_jetId`` bitmask: bit 1 loose (always unset from
  2017 on), bit 2 tight, bit 3 tight-lepton-veto. ``"tight"`` requires bit 2,
  ``"loose"`` bit 1 or 2 (tight implies loose). NanoAOD v15 dropped the branch
  (JME recommends recomputing the ID from the energy fractions): then no ID cut
  is applied, the output field ``jetId`` is -1 and :func:`jet_id_available` is
  False, so a processor can log or count it.
* **Zero constituents.** A selected jet without entries (v15 stores none for
  some forward jets, |eta| > 3) is kept with ``nparticles == 0`` and an empty
  ``constituents`` list, like :func:`jetscale.io.clean_jets`: jet counts stay
  aligned with the events, and ``build_features`` returns it fully padded with an
  all-False mask. Cut on ``nparticles > 0`` before trusting a tagger score.

The mapping is pure awkward (no NumPy conversion, no loop over events): eager and
virtual NanoEvents are mapped directly, a dask-awkward collection partition by
partition with the same kernel, so all three give identical jets.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterable
from typing import Any, Final

import awkward as ak
import numpy as np
import uproot
import vector

from jetscale import schema
from jetscale.io.errors import JetFileError

#: The NanoAOD flavours with fat-jet constituents that jetscale understands.
NANOAOD_FORMATS: Final[tuple[str, ...]] = ("pfnano", "nanoaod_v15")

#: ``FatJetSelection.jet_id`` values.
JET_ID_CHOICES: Final[tuple[str, ...]] = ("tight", "loose", "none")
CM_TO_MM: Final = 10.0
#: Constituent fields that need track impact parameters (absent from NanoAOD v15).
TRACK_FIELDS: Final[tuple[str, ...]] = ("d0val", "d0err", "dzval", "dzerr")
#: ``FatJet_jetId`` bits a jet must have one of, per working point.
_JET_ID_BITS: Final[dict[str, int]] = {"tight": 0b010, "loose": 0b011}


@dataclasses.dataclass(frozen=True)
class _Format:
    """Collection and field names of one NanoAOD flavour."""

    association: str  # table of (fat jet, candidate) pairs
    candidates: str
    candidate_index: str  # field of ``association`` that indexes ``candidates``
    candidate_fields: tuple[str, ...]  # required fields of ``candidates``


_FORMATS: Final[dict[str, _Format]] = {
    "pfnano": _Format(
        "FatJetPFCands",
        "PFCands",
        "pFCandsIdx",
        ("pt", "eta", "phi", "mass", "pdgId", "charge", "d0", "d0Err", "dz", "dzErr"),
    ),
    "nanoaod_v15": _Format(
        "FatJetPFCand", "PFCand", "pfCandIdx", ("pt", "eta", "phi", "mass", "pdgId")
    ),
}
_FORMAT_LABELS: Final[dict[str, str]] = {"pfnano": "PFNano", "nanoaod_v15": "NanoAOD v15"}
_FATJET_FIELDS: Final[tuple[str, ...]] = ("pt", "eta", "phi", "mass", "msoftdrop")


@dataclasses.dataclass(frozen=True)
class FatJetSelection:
    """Which fat jets to map: ``pt > min_pt`` and ``|eta| < max_abs_eta`` (strict, as CMS does).

    ``min_pt`` is the JEC-corrected NanoAOD pT in GeV. ``jet_id`` is ``"tight"``,
    ``"loose"`` or ``"none"``; files without ``FatJet_jetId`` (NanoAOD v15) get no
    ID cut, visible through :func:`jet_id_available` and ``jetId == -1``.
    """

    min_pt: float = 200.0  # GeV: the AK8 boosted regime the taggers were trained for
    max_abs_eta: float = 2.4  # tracker acceptance, where candidates carry tracks
    jet_id: str = "tight"  # one of JET_ID_CHOICES

    def __post_init__(self) -> None:
        if self.jet_id not in JET_ID_CHOICES:
            msg = f"jet_id must be 'tight', 'loose' or 'none', got {self.jet_id!r}"
            raise ValueError(msg)
        if not np.isfinite(self.min_pt) or not self.max_abs_eta > 0:
            msg = f"min_pt must be finite and max_abs_eta positive, got {self.min_pt!r}, {self.max_abs_eta!r}"
            raise ValueError(msg)


def available_constituent_fields(fmt: str) -> tuple[str, ...]:
    """Internal constituent fields a format provides (v15 has no impact parameters).

    Use it to choose a feature set: e.g. ``full21`` needs ``d0val``, so it runs on
    PFNano but not on NanoAOD v15, where only ``kin``/``kinpid`` apply.
    """
    _check_format(fmt)
    if fmt == "nanoaod_v15":
        return tuple(f for f in schema.CONSTITUENT_FIELDS if f not in TRACK_FIELDS)
    return schema.CONSTITUENT_FIELDS


def detect_nanoaod_format(events: Any, source: str | None = None) -> str:
    """The NanoAOD flavour of ``events`` from the collections present (reads no data).

    Raises :class:`~jetscale.io.errors.JetFileError` (a ``ValueError``) naming the
    file (``source``, else ``events.metadata["filename"]``) and what is missing when
    there is no ``FatJet`` or no fat-jet PF candidates (e.g. plain NanoAOD): a
    constituent-based tagger cannot run on such a file.
    """
    where = _source_name(events, source)
    return _detect(set(ak.fields(events)), lambda name: set(ak.fields(events[name])), where)


def nanoaod_format_of_file(path: str | os.PathLike[str]) -> str:
    """The NanoAOD flavour of a ROOT file from its ``Events`` branch names (reads no data).

    For choosing a model before any NanoEvents exist; raises like
    :func:`detect_nanoaod_format`, and also when the file has no ``Events`` tree.
    """
    try:
        with uproot.open(path) as file:
            branches = file["Events"].keys()
    except Exception as err:
        problem = f"cannot read a NanoAOD 'Events' tree ({type(err).__name__}: {err})"
        raise JetFileError(path, problem) from err
    return nanoaod_format_of_branches(branches, str(path))


def nanoaod_format_of_branches(branches: Iterable[str], source: str) -> str:
    """The NanoAOD flavour from ``Events`` branch names, for callers that have the file open."""
    fields: dict[str, set[str]] = {}
    for branch in branches:
        collection, underscore, field = branch.partition("_")  # coffea's collection naming
        if underscore:
            fields.setdefault(collection, set()).add(field)
    return _detect(set(fields), lambda name: fields.get(name, set()), source)


def jet_id_available(events: Any) -> bool:
    """Whether ``events.FatJet`` has ``jetId`` (NanoAOD v15 has none: then no ID cut applies)."""
    return "jetId" in ak.fields(events["FatJet"])


def fatjets_from_nanoaod(
    events: Any,
    selection: FatJetSelection = FatJetSelection(),  # frozen, so a shared default is safe
    fmt: str | None = None,
) -> Any:
    """Selected fat jets of every event in jetscale's internal layout, ``events * var * jet``.

    ``events`` are coffea NanoEvents (eager, virtual or dask-awkward); ``fmt`` is
    one of :data:`NANOAOD_FORMATS`, detected when ``None``. Jet fields: ``pt, eta,
    phi, energy, mass, pt_raw`` (GeV; ``pt_raw`` when ``FatJet_rawFactor`` exists),
    ``sdmass`` (soft-drop mass), ``tau1..tau4`` (when present), ``nparticles``
    (float32), ``label`` (int32, -1: data carry no truth class), ``jetId`` (int32
    bitmask, -1 when the file has none) and ``fatjet_index`` (int32 position in the
    event's ``FatJet`` collection, to write scores back). ``constituents`` is a
    jagged record with :func:`available_constituent_fields`, in association-table
    order. Units and conventions are in the module docstring. Returns a dask-awkward
    array for dask input, an awkward array otherwise.
    """
    fmt = detect_nanoaod_format(events) if fmt is None else _require_format(events, fmt)
    if type(events).__module__.startswith("dask_awkward"):
        import dask_awkward as dak

        return dak.map_partitions(
            _fatjets_kernel,
            events,
            selection.min_pt,
            selection.max_abs_eta,
            selection.jet_id,
            fmt,
            label="jetscale-nanoaod-fatjets",
        )
    return _fatjets_kernel(events, selection.min_pt, selection.max_abs_eta, selection.jet_id, fmt)


def _fatjets_kernel(events: Any, min_pt: float, max_abs_eta: float, jet_id: str, fmt: str) -> Any:
    """The mapping of one chunk: a pure function of awkward arrays (eager, virtual, typetracer)."""
    fatjet = events["FatJet"]
    jet_fields = set(ak.fields(fatjet))
    keep = (fatjet["pt"] > min_pt) & (abs(fatjet["eta"]) < max_abs_eta)
    if "jetId" in jet_fields:
        jet_id_bits = fatjet["jetId"]
        if jet_id != "none":
            keep = keep & ((jet_id_bits & _JET_ID_BITS[jet_id]) != 0)
    else:
        jet_id_bits = ak.zeros_like(fatjet["pt"], dtype=np.int32) - 1
    grouped = _group_candidates(events, fmt)[keep]  # (events, jets, candidates)
    jets = fatjet[keep]

    jet_p4 = _momentum4d(jets["pt"], jets["eta"], jets["phi"], jets["mass"])
    content: dict[str, Any] = {
        "pt": _f32(jets["pt"]),
        "eta": _f32(jets["eta"]),
        "phi": _f32(jets["phi"]),
        "energy": _f32(jet_p4.E),
        "nparticles": _f32(ak.num(grouped, axis=2)),
        "sdmass": _f32(jets["msoftdrop"]),
    }
    for tau in ("tau1", "tau2", "tau3", "tau4"):
        if tau in jet_fields:
            content[tau] = _f32(jets[tau])
    content["label"] = ak.zeros_like(jets["pt"], dtype=np.int32) - 1
    content["mass"] = _f32(jets["mass"])
    if "rawFactor" in jet_fields:
        content["pt_raw"] = _f32(jets["pt"] * (1.0 - jets["rawFactor"]))
    content["jetId"] = ak.values_astype(jet_id_bits[keep], np.int32)
    content["fatjet_index"] = ak.values_astype(ak.local_index(fatjet["pt"], axis=1)[keep], np.int32)
    content["constituents"] = _constituents(grouped, jet_p4, fmt)
    return ak.without_parameters(ak.zip(content, depth_limit=2))


def _group_candidates(events: Any, fmt: str) -> Any:
    """Candidates of every fat jet, ``(events, all fat jets, candidates)``, from the association table.

    Linear in the table size: entries are sorted by ``jetIdx`` (stable, so each
    jet keeps the table's order), counted per jet through their runs, and split
    with ``unflatten``. Only the few (jet, run) pairs of an event are compared, so
    a jet without entries gets a count of 0 instead of shifting its neighbours.
    Entries whose ``jetIdx`` is outside the event's ``FatJet`` are ignored.
    """
    names = _FORMATS[fmt]
    table = events[names.association]
    candidates = events[names.candidates]
    n_jets = ak.num(events["FatJet"], axis=1)
    jet_idx = table["jetIdx"]
    entries = candidates[table[names.candidate_index]]  # (events, entries)
    valid = (jet_idx >= 0) & (jet_idx < n_jets)
    if "puppiWeight" in ak.fields(candidates):
        valid = valid & (entries["puppiWeight"] > 0)  # not part of the PUPPI jet
    jet_idx, entries = jet_idx[valid], entries[valid]
    order = ak.argsort(jet_idx, axis=1, stable=True)
    jet_idx, entries = jet_idx[order], entries[order]

    runs = ak.run_lengths(jet_idx)  # (events, runs): one run per jet with entries
    run_jet = ak.unflatten(
        ak.firsts(ak.unflatten(ak.flatten(jet_idx), ak.flatten(runs)), axis=1), ak.num(runs)
    )
    all_jets = ak.local_index(events["FatJet"]["pt"], axis=1)
    matches = all_jets[:, :, np.newaxis] == run_jet[:, np.newaxis, :]  # (events, jets, runs)
    counts = ak.sum(ak.where(matches, runs[:, np.newaxis, :], 0), axis=2)  # (events, jets)
    per_jet = ak.unflatten(ak.flatten(entries), ak.flatten(counts))
    return ak.unflatten(per_jet, ak.num(counts))


def _constituents(cands: Any, jet_p4: Any, fmt: str) -> Any:
    """Internal constituent fields of grouped candidates ``(events, jets, candidates)``."""
    weight = cands["puppiWeight"] if "puppiWeight" in ak.fields(cands) else 1.0
    p4 = _momentum4d(cands["pt"] * weight, cands["eta"], cands["phi"], cands["mass"] * weight)
    pdg_id = cands["pdgId"]
    abs_pdg_id = abs(pdg_id)
    flags = {
        "isChargedHadron": abs_pdg_id == 211,
        "isNeutralHadron": (abs_pdg_id == 130) | (abs_pdg_id == 1),  # 1: HF hadronic
        "isPhoton": (abs_pdg_id == 22) | (abs_pdg_id == 2),  # 2: HF electromagnetic
        "isElectron": abs_pdg_id == 11,
        "isMuon": abs_pdg_id == 13,
    }
    if "charge" in ak.fields(cands):
        charge = cands["charge"]
    else:
        sign = np.sign(pdg_id)
        lepton = flags["isElectron"] | flags["isMuon"]
        charge = ak.where(flags["isChargedHadron"], sign, ak.where(lepton, -sign, 0))
    columns: dict[str, Any] = {
        "px": _f32(p4.px),
        "py": _f32(p4.py),
        "pz": _f32(p4.pz),
        "energy": _f32(p4.E),
        # JetClass's sign convention: flipped for backward jets.
        "deta": _f32(ak.where(jet_p4.eta > 0, 1.0, -1.0) * p4.deltaeta(jet_p4)),
        # vector wraps to [-pi, pi); the negated reverse difference lies in (-pi, pi]
        "dphi": _f32(-jet_p4.deltaphi(p4)),
    }
    if fmt == "pfnano":
        for value, error, name in (("d0", "d0Err", "d0"), ("dz", "dzErr", "dz")):
            has_track = cands[error] > 0  # PFNano writes -1 without track details
            columns[f"{name}val"] = _f32(ak.where(has_track, cands[value] * CM_TO_MM, 0.0))
            columns[f"{name}err"] = _f32(ak.where(has_track, cands[error] * CM_TO_MM, 0.0))
    columns["charge"] = _f32(charge)
    columns.update({name: ak.values_astype(flag, np.int32) for name, flag in flags.items()})
    return ak.zip({f: columns[f] for f in available_constituent_fields(fmt)})


def _momentum4d(pt: Any, eta: Any, phi: Any, mass: Any) -> Any:
    """A vector ``Momentum4D`` array in float64, so px/py/pz/E lose no precision before float32."""
    return vector.zip(
        {
            "pt": ak.values_astype(pt, np.float64),
            "eta": ak.values_astype(eta, np.float64),
            "phi": ak.values_astype(phi, np.float64),
            "mass": ak.values_astype(mass, np.float64),
        }
    )


def _f32(array: Any) -> Any:
    return ak.values_astype(array, np.float32)


def _check_format(fmt: str) -> None:
    if fmt not in NANOAOD_FORMATS:
        msg = f"unknown NanoAOD format {fmt!r}; known: {', '.join(NANOAOD_FORMATS)}"
        raise ValueError(msg)


def _detect(present: set[str], fields_of: Callable[[str], set[str]], where: str) -> str:
    """The format whose collections are in ``present``, fields checked; else a clear error."""
    if "FatJet" not in present:
        raise JetFileError(where, "no FatJet collection: cannot map fat jets", "FatJet")
    for fmt, names in _FORMATS.items():
        if names.association in present and names.candidates in present:
            _check_fields(fields_of, fmt, where)
            return fmt
    wanted = " or ".join(
        f"{names.association!r} + {names.candidates!r} ({_FORMAT_LABELS[fmt]})"
        for fmt, names in _FORMATS.items()
    )
    found = sorted(
        name
        for names in _FORMATS.values()
        for name in (names.association, names.candidates)
        if name in present
    )
    have = f"only {', '.join(map(repr, found))} present" if found else "neither is present"
    problem = (
        f"no PF candidates for fat jets: needs collections {wanted}, {have}; "
        "a constituent-based tagger needs PFNano or NanoAOD v15 input"
    )
    raise JetFileError(where, problem)


def _require_format(events: Any, fmt: str) -> str:
    """``fmt`` itself, after checking that ``events`` carry its collections and fields."""
    _check_format(fmt)
    names = _FORMATS[fmt]
    present = set(ak.fields(events))
    missing = [n for n in ("FatJet", names.association, names.candidates) if n not in present]
    where = _source_name(events, None)
    if missing:
        problem = f"format {fmt!r} needs collections missing from the events: {', '.join(map(repr, missing))}"
        raise JetFileError(where, problem, missing[0])
    _check_fields(lambda name: set(ak.fields(events[name])), fmt, where)
    return fmt


def _check_fields(fields_of: Callable[[str], set[str]], fmt: str, where: str) -> None:
    names = _FORMATS[fmt]
    needed = {
        "FatJet": _FATJET_FIELDS,
        names.association: ("jetIdx", names.candidate_index),
        names.candidates: names.candidate_fields,
    }
    for collection, fields in needed.items():
        present = fields_of(collection)
        for field in fields:
            if field not in present:
                problem = f"{_FORMAT_LABELS[fmt]} collection {collection!r} lacks field {field!r}"
                raise JetFileError(where, problem, f"{collection}_{field}")


def _source_name(events: Any, source: str | None) -> str:
    """The file to name in errors: ``source``, else coffea's ``metadata["filename"]``."""
    if source is not None:
        return str(source)
    try:
        metadata = events.metadata
    except AttributeError:
        metadata = None
    if isinstance(metadata, dict) and metadata.get("filename"):
        return str(metadata["filename"])
    return "<events without metadata['filename']>"
