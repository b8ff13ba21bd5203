"""generate on dask and in a process pool: the same files as in one process, lost workers, restarts.

Small samples (two classes of two 20-jet units) keep each run to seconds; every
run compared uses the same unit size, on which the jets of a seed depend.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import awkward as ak
import pytest
import uproot

from jetscale.generate import GenerationIncompleteError, generate
from jetscale.generate.outputs import UNITS_DIR
from jetscale.generate.units import KILL_UNIT_ENV

pytest.importorskip("distributed")
pytestmark = pytest.mark.dask

CLASSES = ["QCD", "Wqq"]
SEED = 4
RUN: dict[str, Any] = {
    "classes": CLASSES,
    "jets_per_class": 40,
    "seed": SEED,
    "unit_jets": 20,  # two units per class
    "progress": False,
}
FILES = [f"{name}_cms_s{SEED}.root" for name in CLASSES]


def _unit(out: Path, name: str, index: int) -> Path:
    return out / UNITS_DIR / f"{name}_cms_s{SEED}" / f"unit_{index:05d}.parquet"


def _stamps(out: Path) -> dict[str, int]:
    """``{unit file: mtime_ns}`` of every unit file under ``out``."""
    return {
        p.name + p.parent.name: p.stat().st_mtime_ns for p in (out / UNITS_DIR).rglob("*.parquet")
    }


def _assert_same_file(a: Path, b: Path) -> None:
    """Every branch of two JetClass files is equal, value by value and type by type."""
    with uproot.open(a) as file_a, uproot.open(b) as file_b:
        tree_a, tree_b = file_a["tree"], file_b["tree"]
        assert tree_a.keys() == tree_b.keys()
        assert tree_a.num_entries == tree_b.num_entries > 0
        arrays_a, arrays_b = tree_a.arrays(library="ak"), tree_b.arrays(library="ak")
    for branch in tree_a.keys():  # noqa: SIM118 (an uproot tree, not a dict)
        assert arrays_a[branch].type == arrays_b[branch].type, branch
        assert ak.array_equal(arrays_a[branch], arrays_b[branch]), branch


def _assert_same_files(a: Path, b: Path, names: list[str] = FILES) -> None:
    for name in names:
        _assert_same_file(a / name, b / name)


def _no_temporaries(out: Path) -> None:
    assert [p for p in out.rglob(".*") if p.name != ".jetscale.lock"] == []


@pytest.fixture(scope="module")
def serial(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample generated in this process: the reference every other run must equal."""
    out = tmp_path_factory.mktemp("serial")
    summary = generate(out, workers=1, **RUN)
    assert [p.name for p in summary.files] == FILES
    assert summary.units_generated == 4 and summary.units_reused == 0
    return out


def test_dask_and_the_process_pool_write_the_files_of_one_process(
    serial: Path, tmp_path: Path
) -> None:
    pool = generate(tmp_path / "pool", workers=2, **RUN)
    on_dask = generate(tmp_path / "dask", workers=2, executor="dask", **RUN)
    for summary in (pool, on_dask):
        assert [p.name for p in summary.files] == FILES
        assert summary.jets_per_class == dict.fromkeys(CLASSES, 40)
        assert summary.units_generated == 4 and not summary.failed
    _assert_same_files(serial, tmp_path / "pool")
    _assert_same_files(serial, tmp_path / "dask")


@pytest.mark.parametrize("executor", ["dask", "processes"])
def test_a_killed_worker_loses_its_unit_and_a_rerun_completes_the_files(
    serial: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, executor: str
) -> None:
    out = tmp_path / "out"
    monkeypatch.setenv(KILL_UNIT_ENV, "QCD:1")  # the process starting QCD unit 1 exits
    with pytest.raises(GenerationIncompleteError, match=r"QCD unit 1.*run the same command"):
        generate(out, workers=2, executor=executor, **RUN)
    monkeypatch.delenv(KILL_UNIT_ENV)

    lost = _unit(out, "QCD", 1)
    assert not lost.exists()  # never marked finished
    assert not (out / FILES[0]).exists()  # nor its class file written
    _assert_same_file(serial / FILES[1], out / FILES[1])  # the other class is complete
    assert _unit(out, "Wqq", 0).exists() and _unit(out, "Wqq", 1).exists()
    if executor == "dask":  # a dead dask worker takes only its unit with it
        assert _unit(out, "QCD", 0).exists()
    _no_temporaries(out)
    kept = _stamps(out)

    again = generate(out, workers=2, executor=executor, **RUN)
    assert not again.failed
    assert again.units_reused == len(kept) and again.units_generated == 4 - len(kept)
    assert {k: v for k, v in _stamps(out).items() if k in kept} == kept  # not rewritten
    _assert_same_files(serial, out)
    _no_temporaries(out)


def test_a_rerun_generates_only_missing_or_unreadable_units(serial: Path, tmp_path: Path) -> None:
    out = tmp_path / "copy"
    shutil.copytree(serial, out)
    _unit(out, "QCD", 0).unlink()
    _unit(out, "Wqq", 1).write_bytes(b"not parquet")  # e.g. damaged by a copy
    kept = {k: v for k, v in _stamps(out).items() if k != "unit_00001.parquetWqq_cms_s4"}

    summary = generate(out, workers=1, **RUN)
    assert summary.units_generated == 2 and summary.units_reused == 2
    assert summary.jets_generated == 40
    assert {k: v for k, v in _stamps(out).items() if k in kept} == kept
    _assert_same_files(serial, out)

    files = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in out.glob("*.root")}
    nothing = generate(out, workers=1, **RUN)  # all finished: nothing is rewritten
    assert nothing.units_generated == 0 and nothing.units_reused == 4
    # uproot stamps each file it writes with a new UUID: rewriting a class file would
    # change its bytes, and a sweep that knows its data by content would refuse it.
    assert {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in out.glob("*.root")} == files
    _assert_same_files(serial, out)
    # A class file changed since it was assembled is assembled again.
    qcd = next(out.glob("QCD_*.root"))
    qcd.write_bytes(b"damaged")
    generate(out, workers=1, **RUN)
    _assert_same_files(serial, out)


def test_units_of_another_card_content_are_not_reused(tmp_path: Path) -> None:
    from jetscale.generate.cards import read_card_text

    text, _ = read_card_text("coarse")
    card = tmp_path / "coarse_copy.toml"
    card.write_text(text)
    run = {"classes": ["QCD"], "jets_per_class": 20, "seed": SEED, "progress": False}
    out = tmp_path / "out"
    first = generate(out, detector=str(card), **run)
    assert [p.name for p in first.files] == [f"QCD_coarse_copy_s{SEED}.root"]
    before = uproot.open(first.files[0])["tree"].arrays(["part_px"], library="ak")

    # A new description and comment change no parameter: the unit is reused.
    card.write_text("# copied\n" + text.replace('description = "', 'description = "Copy of '))
    assert generate(out, detector=str(card), **run).units_reused == 1

    # Same card name, another value: the unit is made again, with the new card.
    card.write_text(text.replace("pt_min = 1.0", "pt_min = 2.0"))
    again = generate(out, detector=str(card), **run)
    assert again.units_generated == 1 and again.units_reused == 0
    after = uproot.open(again.files[0])["tree"].arrays(["part_px"], library="ak")
    assert len(after) == 20 and not ak.array_equal(before, after)


def test_executor_arguments_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown executor 'threads'"):
        generate(tmp_path, ["QCD"], 10, executor="threads", progress=False)
    with pytest.raises(ValueError, match="needs executor 'dask'"):
        generate(tmp_path, ["QCD"], 10, executor="processes", scheduler="tcp://x:1")
    with pytest.raises(ValueError, match="not both"):
        generate(tmp_path, ["QCD"], 10, scheduler="tcp://x:1", client=object())


def test_the_command_passes_the_executor_and_exits_1_when_units_are_lost(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import jetscale.generate
    from jetscale.cli import main
    from jetscale.generate import GenerationSummary

    calls: list[dict[str, Any]] = []

    def lost_a_unit(*args: Any, **kwargs: Any) -> GenerationSummary:
        calls.append(kwargs)
        summary = GenerationSummary([], {}, {}, 1.0, 0.0, failed={"QCD unit 3": "worker died"})
        msg = "1 of 4 work units did not finish; run the same command again"
        raise GenerationIncompleteError(msg, summary)

    monkeypatch.setattr(jetscale.generate, "generate", lost_a_unit)
    argv = ["generate", "--out", str(tmp_path), "--classes", "QCD", "--jets-per-class", "9"]
    assert main([*argv, "--scheduler", "tcp://host:8786", "--no-progress"]) == 1
    assert calls[0]["scheduler"] == "tcp://host:8786" and calls[0]["executor"] is None
    captured = capsys.readouterr()
    assert "failed QCD unit 3: worker died" in captured.out
    assert captured.err.startswith("jetscale generate: 1 of 4 work units did not finish")
    assert main([*argv, "--executor", "dask", "--workers", "3"]) == 1
    assert calls[1]["executor"] == "dask" and calls[1]["workers"] == 3
