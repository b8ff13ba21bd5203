"""New signal classes X<decay>_m<mass> and the jet pT window of ``jetscale generate``."""

from __future__ import annotations

import zlib
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import pytest
import uproot

from jetscale import schema
from jetscale.cli import main
from jetscale.generate import generate, generate_class, sample_file_name
from jetscale.generate.events import make_pythia
from jetscale.generate.outputs import UnitStore
from jetscale.generate.processes import (
    PTHAT_MAX,
    PTHAT_MIN,
    ProcessSpec,
    process_spec,
    pthat_window,
    pythia_settings,
    signal_spec,
)
from jetscale.generate.run import check_classes
from jetscale.generate.signals import (
    X_DECAYS,
    X_KEY_OFFSET,
    Signal,
    class_key,
    label_classes,
    label_index,
    parse_generate_classes,
    parse_signal,
)
from jetscale.generate.units import WorkUnit, unit_seeds
from jetscale.io import read_jets
from jetscale.task import parse_task

SEED = 5
LOW_WINDOW = (200.0, 400.0)


@pytest.fixture(scope="module")
def signal_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Xbb_m60 in the default and a 200-400 GeV window, and a little QCD, in one directory."""
    out = tmp_path_factory.mktemp("signals")
    files = {}
    for key, classes, jets, window in [
        ("Xbb_m60", ["Xbb_m60"], 200, None),
        ("Xbb_m60_low", ["Xbb_m60"], 100, LOW_WINDOW),
        ("QCD", ["QCD"], 20, None),
    ]:
        extra: dict[str, Any] = {} if window is None else {"pt_range": window}
        summary = generate(out, classes, jets, seed=SEED, progress=False, **extra)
        (files[key],) = summary.files
    return files


# --- names ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "decay", "mass", "partons"),
    [("Xbb_m60", "bb", 60, 2), ("Xqq_m150", "qq", 150, 2), ("X4q_m125", "4q", 125, 4)],
)
def test_signal_names_parse(name, decay, mass, partons):
    signal = parse_signal(name)
    assert signal == Signal(name, decay, mass)
    assert signal.n_partons == partons
    spec = process_spec(name)
    assert (spec.name, spec.resonance_id, spec.n_quarks, spec.n_leptons) == (name, 25, partons, 0)
    assert f"25:m0 = {mass}" in spec.settings
    assert "HiggsSM:ffbar2HZ = on" in spec.settings
    assert parse_signal("Hbb") is None  # the ten keep their specs
    assert process_spec("Hbb").settings[0] == "HiggsSM:ffbar2HZ = on"


@pytest.mark.parametrize(
    ("name", "match"),
    [
        ("Xzz_m60", "unknown decay 'zz'"),
        ("Xbb", "no mass"),
        ("Xbb_m", "mass '' is not a whole number"),
        ("Xbb_m060", "mass '060' is not a whole number"),
        ("Xbb_m6.5", "mass '6.5' is not a whole number"),
        ("X4q_m20", "at least 41 GeV"),
        ("X4q_m40", "at least 41 GeV"),
        ("Xcc_m9", "at least 10 GeV"),
        ("Top", "unknown JetClass class 'Top'"),
        ("xbb_m60", "unknown JetClass class"),
    ],
)
def test_bad_names_are_refused_before_any_event(tmp_path, name, match):
    with pytest.raises(ValueError, match=match) as caught:
        process_spec(name)
    assert repr(name) in str(caught.value)
    out = tmp_path / "out"
    with pytest.raises(ValueError, match=match):
        generate(out, ["QCD", name], 10, progress=False)
    assert not out.exists()  # refused before the output, let alone an event
    with pytest.raises(ValueError, match=match):
        generate_class(name, 10)
    with pytest.raises(ValueError, match=match):
        parse_generate_classes(f"QCD,{name}")


def test_accepted_forms_are_listed():
    with pytest.raises(ValueError, match=r"X<decay>_m<mass>.*bb, cc, qq, gg, 4q.*Xbb_m60"):
        parse_signal("Xbb")
    assert parse_generate_classes("all") == list(schema.CLASS_NAMES)
    assert parse_generate_classes("Xbb_m60, QCD") == ["Xbb_m60", "QCD"]


def test_cli_refuses_bad_names_and_windows(tmp_path, capsys):
    argv = ["generate", "--out", str(tmp_path / "g"), "--jets-per-class", "1", "--no-progress"]
    assert main([*argv, "--classes", "QCD,X4q_m20"]) == 2
    assert "'X4q_m20'" in capsys.readouterr().err
    for window in ("400,200", "abc", "-5,10", "0,100", "200,400,600", "100,7000"):
        with pytest.raises(SystemExit):
            main([*argv, "--classes", "QCD", f"--pt-range={window}"])
        assert "argument --pt-range" in capsys.readouterr().err
    assert not (tmp_path / "g").exists()


def test_too_heavy_a_signal_for_the_window_is_refused(tmp_path):
    with pytest.raises(ValueError, match=r"'Xbb_m300'.*DeltaR ~ 2m/pT = 1.50"):
        generate(tmp_path / "out", ["Xbb_m300"], 10, pt_range=LOW_WINDOW, progress=False)
    assert not (tmp_path / "out").exists()
    assert check_classes(["Xbb_m300"]) == (500.0, 1000.0)  # fine in the default window


# --- seeds, labels, windows, names of files ------------------------------------------------


def test_the_ten_classes_keep_their_seeds():
    # Values of the code before new signals existed: SeedSequence(seed, (class index, unit)).
    pythia = [853021812, 271434336, 733130934, 238667285, 642715559]
    pythia += [147317880, 881538243, 352277576, 328289678, 620240046]
    detector = [1505736466, 400738517, 708289599, 1642321413, 2972947822]
    detector += [4155535666, 3762826337, 3711167643, 3567380346, 1413655544]
    for k, name in enumerate(schema.CLASS_NAMES):
        assert class_key(name) == k
        pythia_seed, detector_seed = unit_seeds(7, name, 3)
        assert pythia_seed == pythia[k]
        assert int(detector_seed.generate_state(1)[0]) == detector[k]


def test_signal_keys_are_stable_and_distinct():
    assert class_key("Xbb_m60") == X_KEY_OFFSET + zlib.crc32(b"Xbb_m60") == 5758522508
    names = [f"X{d}_m{m}" for d in X_DECAYS for m in range(41, 2001)]
    keys = {class_key(n) for n in names}
    assert len(keys) == len(names)
    assert min(keys) >= X_KEY_OFFSET > len(schema.CLASS_NAMES)
    assert unit_seeds(1, "Xbb_m60", 0)[0] != unit_seeds(1, "Xbb_m61", 0)[0]


def test_labels_index_the_ten_then_the_signal():
    assert label_classes("Tbl") == schema.CLASS_NAMES
    assert label_index("Tbl") == schema.class_index("Tbl")
    assert label_classes("Xbb_m60") == (*schema.CLASS_NAMES, "Xbb_m60")
    assert label_index("Xbb_m60") == 10


def test_pthat_window_follows_the_jet_window():
    assert pthat_window() == (PTHAT_MIN, PTHAT_MAX) == (450.0, 1100.0)
    lines = pythia_settings(process_spec("QCD"), seed=1)
    assert "PhaseSpace:pTHatMin = 450.0" in lines and "PhaseSpace:pTHatMax = 1100.0" in lines
    lines = pythia_settings(process_spec("QCD"), seed=1, pt_range=LOW_WINDOW)
    assert "PhaseSpace:pTHatMin = 180.0" in lines and "PhaseSpace:pTHatMax = 440.0" in lines


def test_file_names_and_identity_carry_a_non_default_window(tmp_path):
    assert sample_file_name("Hbb", "cms", 1) == "Hbb_cms_s1.root"
    assert sample_file_name("Hbb", "cms", 1, (500.0, 1000.0)) == "Hbb_cms_s1.root"
    assert sample_file_name("Xbb_m60", "cms", 1, (200, 400)) == "Xbb_m60_cms_s1_pt200-400.root"
    assert sample_file_name("QCD", "cms", 2, (250.5, 400)) == "QCD_cms_s2_pt250.5-400.root"
    store = UnitStore(tmp_path, 500, "")
    default = WorkUnit("QCD", 0, 500, "cms", 1)
    assert "pt_range" not in store.identity(default)  # as before the option existed
    low = WorkUnit("QCD", 0, 500, "cms", 1, pt_range=LOW_WINDOW)
    assert store.identity(low)["pt_range"] == [200.0, 400.0]
    assert store.path(low) != store.path(default)


def test_bad_windows_are_refused(tmp_path):
    for window in [(400, 200), (-5, 10), (0, 100), (100, 7000), ("a", 3), (1, 2, 3)]:
        with pytest.raises(ValueError, match="pt_range"):
            generate(tmp_path / "out", ["QCD"], 10, pt_range=window, progress=False)
    assert not (tmp_path / "out").exists()


# --- Pythia ---------------------------------------------------------------------------------


def _resonance_decays(spec: ProcessSpec, n_events: int) -> tuple[list[float], list[int]]:
    """Masses of particle 25 and |id| of its daughters in ``n_events`` events of ``spec``."""
    pythia = make_pythia(pythia_settings(spec, seed=3))
    masses, daughters = [], []
    for _ in range(n_events):
        assert pythia.next()
        process = pythia.process
        for i in range(process.size()):
            if process[i].idAbs() == 25:
                masses.append(process[i].m())
                daughters += [process[d].idAbs() for d in process[i].daughterList()]
    return masses, daughters


def test_xqq_decays_to_u_d_s_alike_at_the_chosen_mass():
    masses, daughters = _resonance_decays(process_spec("Xqq_m60"), 60)
    assert np.all(np.abs(np.array(masses) - 60.0) < 6.0)  # the mass window, +-10 %
    assert np.median(masses) == pytest.approx(60.0, abs=0.1)
    flavours, counts = np.unique(daughters, return_counts=True)
    assert flavours.tolist() == [1, 2, 3]
    assert counts.min() > 20  # about 40 each of 120: not the Yukawa-weighted s sbar alone


def test_pythia_cannot_start_x_to_4q_at_40_gev():
    # The reason for the 41 GeV floor of X4q: Pythia gives H -> W W* no width there.
    with pytest.raises(RuntimeError, match="initialisation failed"):
        make_pythia(pythia_settings(signal_spec(Signal("X4q_m40", "4q", 40)), seed=1))
    masses, daughters = _resonance_decays(process_spec("X4q_m41"), 5)
    assert set(daughters) == {24} and np.allclose(masses, 41.0, atol=4.1)


# --- generated jets -------------------------------------------------------------------------


def test_signal_softdrop_mass_peaks_at_its_mass(signal_files):
    for key in ("Xbb_m60", "Xbb_m60_low"):
        with uproot.open(signal_files[key]) as file:
            sdmass = file["tree"]["jet_sdmass"].array(library="np")
        median = float(np.median(sdmass[sdmass > 20]))
        assert 45.0 < median < 75.0, f"{key}: soft-drop mass median {median:.1f} GeV"


def test_jet_pt_follows_the_window(signal_files):
    assert signal_files["Xbb_m60"].name == f"Xbb_m60_cms_s{SEED}.root"
    assert signal_files["Xbb_m60_low"].name == f"Xbb_m60_cms_s{SEED}_pt200-400.root"
    for key, (low, high) in [("Xbb_m60", (500, 1000)), ("Xbb_m60_low", LOW_WINDOW)]:
        with uproot.open(signal_files[key]) as file:
            pt = file["tree"]["jet_pt"].array(library="np")
        assert np.all((pt > low) & (pt < high))
        assert pt.min() < low + 0.3 * (high - low)  # the window is filled, not just its top
    units = signal_files["Xbb_m60"].parent / "units"
    assert (units / f"Xbb_m60_cms_s{SEED}_pt200-400").is_dir()
    assert (units / f"Xbb_m60_cms_s{SEED}").is_dir()


def test_signal_file_labels(signal_files):
    path = signal_files["Xbb_m60"]
    with uproot.open(path) as file:
        tree = file["tree"]
        assert tree.num_entries == 200
        for branch in schema.LABEL_BRANCHES:
            assert not tree[branch].array(library="np").any(), branch
        assert tree["label_Xbb_m60"].array(library="np").all()
        assert set(schema.ALL_BRANCHES) <= set(tree.keys())
    assert np.all(ak.to_numpy(read_jets(path).label) == -1)  # not one of JetClass's ten
    task = parse_task("Xbb_m60,QCD")
    assert np.all(ak.to_numpy(read_jets(path, task=task).label) == 0)
    assert np.all(ak.to_numpy(read_jets(signal_files["QCD"], task=task).label) == 1)
    assert np.all(ak.to_numpy(read_jets(signal_files["QCD"]).label) == 0)
    # the unit files carry the class names too
    unit = next((path.parent / "units" / path.stem).glob("unit_*.parquet"))
    assert np.all(ak.to_numpy(read_jets(unit, task=task).label) == 0)


def test_generate_class_labels_signal_jets_after_the_ten(signal_files):
    jets = generate_class("Xbb_m60", 5, seed=SEED)
    assert np.all(ak.to_numpy(jets.label) == 10)
    # the same jets as the file's first ones
    first = read_jets(signal_files["Xbb_m60"], task=parse_task("Xbb_m60,QCD"))[:5]
    np.testing.assert_allclose(ak.to_numpy(jets.pt), ak.to_numpy(first.pt), rtol=1e-6)


def test_a_rerun_keeps_the_units_of_each_window(signal_files):
    out = signal_files["Xbb_m60"].parent
    summary = generate(out, ["Xbb_m60"], 100, seed=SEED, pt_range=LOW_WINDOW, progress=False)
    assert summary.units_reused == 1 and summary.units_generated == 0
