"""The JetClass tagging processor through coffea's Runner: executors, chunks, bad files."""

from __future__ import annotations

import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import pytest
import uproot

pytest.importorskip("coffea")
pytest.importorskip("onnxruntime")
from coffea import processor
from coffea.nanoevents import BaseSchema

from jetscale import schema
from jetscale.histograms.tagger import DISCRIMINANT_EDGES
from jetscale.inference import OnnxTagger
from jetscale.io import write_jetclass
from jetscale.processors import JetClassTaggerProcessor
from jetscale.runner import run_fileset
from jetscale.schema import CLASS_NAMES

# coffea warns once per bad chunk it skips; that is the behaviour under test.
pytestmark = [
    pytest.mark.filterwarnings("ignore:Skipping bad file:UserWarning"),
    pytest.mark.filterwarnings("ignore:Performed attempt:UserWarning"),
]


@pytest.fixture(scope="module")
def processor_instance() -> JetClassTaggerProcessor:
    return JetClassTaggerProcessor("kinpid")


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory, make_jets: Callable[..., ak.Array]) -> dict:
    """Two small labelled files, a truncated copy of one, and a file that is not ROOT."""
    directory = tmp_path_factory.mktemp("tagger_samples")
    a, b = make_jets(90, seed=11), make_jets(55, seed=12)
    path_a = write_jetclass(directory / "a.root", a)
    path_b = write_jetclass(directory / "b.root", b)
    data = path_a.read_bytes()
    truncated = directory / "truncated.root"
    truncated.write_bytes(data[: len(data) // 2])
    garbage = directory / "garbage.root"
    garbage.write_bytes(b"this is not a ROOT file" * 50)
    return {
        "a": a,
        "b": b,
        "path_a": str(path_a),
        "path_b": str(path_b),
        "truncated": str(truncated),
        "garbage": str(garbage),
    }


def run(
    samples: dict,
    proc: JetClassTaggerProcessor,
    executor: str,
    chunksize: int,
    extra: tuple[str, ...] = (),
) -> dict:
    fileset = {"a": [samples["path_a"], *extra], "b": [samples["path_b"]]}
    return run_fileset(
        fileset,
        proc,
        treename="tree",
        schema=BaseSchema,
        executor=executor,
        workers=2,
        chunksize=chunksize,
    )


def assert_same_histograms(other: dict, reference: dict, keys: tuple[str, ...]) -> None:
    """Bin-by-bin equality per dataset (the growing dataset axis's order depends on the executor)."""
    for key in keys:
        assert sorted(other[key].axes["dataset"]) == sorted(reference[key].axes["dataset"])
        for dataset in reference[key].axes["dataset"]:
            got, want = other[key][{"dataset": dataset}], reference[key][{"dataset": dataset}]
            np.testing.assert_array_equal(
                got.values(flow=True), want.values(flow=True), err_msg=key
            )
            np.testing.assert_array_equal(
                got.variances(flow=True), want.variances(flow=True), err_msg=key
            )


def test_histograms_match_direct_tagging(
    samples: dict, processor_instance: JetClassTaggerProcessor
) -> None:
    out = run(samples, processor_instance, "iterative", 1000)
    assert out["jets"] == {"a": 90, "b": 55} and out["skipped_files"] == {}
    # Independent check: tag the jets directly and histogram with numpy.
    jets = samples["a"]
    prob = OnnxTagger("kinpid")(jets)
    labels = ak.to_numpy(jets.label)
    for signal in ("Hbb", "Tbqq"):
        p, q = (
            ak.to_numpy(prob[signal]).astype(np.float64),
            ak.to_numpy(prob.QCD).astype(np.float64),
        )
        d = p / (p + q)
        for cls_index in (0, CLASS_NAMES.index(signal)):
            expected, _ = np.histogram(d[labels == cls_index], bins=DISCRIMINANT_EDGES)
            got = out["discriminant"][
                {"dataset": "a", "jet_class": CLASS_NAMES[cls_index], "signal": signal}
            ].values()
            np.testing.assert_array_equal(got, expected)
    sdmass = (
        out["sdmass_vs_discriminant"][{"dataset": "b", "signal": "Hbb"}].project("sdmass").values()
    )
    expected, _ = np.histogram(ak.to_numpy(samples["b"].sdmass), bins=50, range=(0, 250))
    np.testing.assert_array_equal(sdmass, expected)
    assert out["events"] == {"a": 90, "b": 55}
    assert out["quality"]["a"]["jets_read"] == 90


@pytest.mark.parametrize(("executor", "chunksize"), [("iterative", 17), ("futures", 40)])
def test_executors_and_chunk_sizes_give_identical_histograms(
    samples: dict, processor_instance: JetClassTaggerProcessor, executor: str, chunksize: int
) -> None:
    reference = run(samples, processor_instance, "iterative", 1000)
    other = run(samples, processor_instance, executor, chunksize)
    assert_same_histograms(
        other, reference, ("score", "discriminant", "jet_pt", "sdmass_vs_discriminant")
    )
    assert other["jets"] == reference["jets"]


@pytest.mark.slow
@pytest.mark.dask
def test_dask_executor_matches_iterative(
    samples: dict, processor_instance: JetClassTaggerProcessor
) -> None:
    pytest.importorskip("distributed")
    reference = run(samples, processor_instance, "iterative", 1000)
    other = run(samples, processor_instance, "dask", 30, extra=(samples["garbage"],))
    assert_same_histograms(
        other, reference, ("score", "discriminant", "jet_pt", "sdmass_vs_discriminant")
    )
    assert list(other["skipped_files"]) == [samples["garbage"]]
    # An existing cluster, named by its scheduler address (what --scheduler does).
    from jetscale.dask_client import local_cluster

    with local_cluster(workers=1, threads=1) as cluster:  # free ports: 8787 may be taken
        fileset = {"a": [samples["path_a"]], "b": [samples["path_b"]]}
        external = run_fileset(
            fileset,
            processor_instance,
            treename="tree",
            schema=BaseSchema,
            executor="dask",
            scheduler=cluster.scheduler_address,
            chunksize=50,
        )
    assert_same_histograms(external, reference, ("score", "discriminant"))


def test_corrupt_and_truncated_files_are_skipped_and_reported(
    samples: dict, processor_instance: JetClassTaggerProcessor, caplog: pytest.LogCaptureFixture
) -> None:
    out = run(
        samples,
        processor_instance,
        "iterative",
        30,
        extra=(samples["truncated"], samples["garbage"]),
    )
    skipped = out["skipped_files"]
    assert set(skipped) == {samples["truncated"], samples["garbage"]}
    assert "not a ROOT file" in skipped[samples["garbage"]]
    assert "of 90 entries processed" in skipped[samples["truncated"]]
    # The good files are complete: no jet lost, none counted twice.
    clean = run(samples, processor_instance, "iterative", 30)
    assert out["jets"] == clean["jets"] == {"a": 90, "b": 55}
    assert_same_histograms(out, clean, ("score", "discriminant"))
    assert samples["garbage"] in caplog.text and samples["truncated"] in caplog.text


def test_processor_pickles_without_a_session(processor_instance: JetClassTaggerProcessor) -> None:
    clone = pickle.loads(pickle.dumps(processor_instance))
    assert clone.tagger._session is None
    assert clone.tagger.class_names == processor_instance.tagger.class_names
    assert len(pickle.dumps(processor_instance)) < 2_000_000  # the model travels, nothing else


def rewrite(source: str, target: Path, drop: tuple[str, ...] = (), **replace: Any) -> str:
    """A copy of the JetClass file ``source`` without the branches ``drop`` and with some
    replaced (uproot writes it)."""
    arrays = uproot.open(source)["tree"].arrays(library="ak")
    fields: dict[str, Any] = {
        k: arrays[k]
        for k in arrays.fields
        if k != "npart" and not k.startswith("part_") and k not in drop
    }
    fields["part"] = ak.zip(
        {f: arrays[f"part_{f}"] for f in schema.CONSTITUENT_FIELDS if f"part_{f}" not in drop}
    )
    fields.update(replace)
    with uproot.recreate(target) as file:
        file.mktree(
            "tree", {k: v.type if isinstance(v, ak.Array) else v.dtype for k, v in fields.items()}
        ).extend(fields)
    return str(target)


@pytest.mark.parametrize("executor", ["iterative", "futures"])
def test_mistyped_and_mislabelled_files_are_refused_never_tagged(
    samples: dict, processor_instance: JetClassTaggerProcessor, tmp_path: Path, executor: str
) -> None:
    """A flat ``part_px`` once gave wrong scores with exit 0; labels that are not one-hot
    histogrammed jets in a wrong class. Both files are now refused and listed with the
    reason, and the good files' histograms are those of a run without them.
    """
    n = 90
    labels = uproot.open(samples["path_a"])["tree"]["label_QCD"].array(library="np")
    flat_px = str(tmp_path / "flat_px.root")
    arrays = uproot.open(samples["path_a"])["tree"].arrays(library="ak")
    flat = {f: arrays[f"part_{f}"] for f in schema.CONSTITUENT_FIELDS if f != "px"}
    with uproot.recreate(flat_px) as file:
        branches: dict[str, Any] = {
            k: arrays[k] for k in arrays.fields if k.startswith(("jet_", "label_"))
        }
        branches["part"] = ak.zip(flat)
        branches["part_px"] = ak.to_numpy(arrays["jet_pt"])  # flat: one number per jet
        file.mktree(
            "tree",
            {k: v.type if isinstance(v, ak.Array) else v.dtype for k, v in branches.items()},
        ).extend(branches)
    two_labels = rewrite(
        samples["path_a"], tmp_path / "two_labels.root", label_Hbb=~labels.astype(bool)
    )
    no_label = rewrite(
        samples["path_a"],
        tmp_path / "no_label.root",
        **{b: np.zeros(n, bool) for b in schema.LABEL_BRANCHES},
    )
    out = run(samples, processor_instance, executor, 40, extra=(flat_px, two_labels, no_label))
    skipped = out["skipped_files"]
    assert set(skipped) == {flat_px, two_labels, no_label}
    assert "branch 'part_px': expected a jagged list per jet, found float32" in skipped[flat_px]
    assert "not one-hot" in skipped[two_labels] and "not one-hot" in skipped[no_label]
    clean = run(samples, processor_instance, executor, 40)
    assert out["jets"] == clean["jets"] == {"a": 90, "b": 55}
    assert_same_histograms(out, clean, ("score", "discriminant", "jet_pt"))


@pytest.mark.parametrize("executor", ["iterative", "futures"])
def test_any_file_failing_a_check_is_skipped_with_its_reason(
    samples: dict, processor_instance: JetClassTaggerProcessor, tmp_path: Path, executor: str
) -> None:
    """A missing constituent branch (``part_d0val`` for full21; here ``part_isElectron``,
    which the kinpid model reads), a jagged ``jet_pt``, a file without ``tree`` and a
    truncated file each once ended a run with an awkward, numpy or coffea traceback
    (or, in a directory, took the good files down with them). Each is now skipped and
    listed with its reason; the good files' histograms are those of a run without them.
    """
    jet_pt = uproot.open(samples["path_a"])["tree"]["jet_pt"].array(library="np")
    no_pid = rewrite(samples["path_a"], tmp_path / "no_pid.root", drop=("part_isElectron",))
    jagged = rewrite(
        samples["path_a"], tmp_path / "jagged_pt.root", jet_pt=ak.Array([[x, x] for x in jet_pt])
    )
    treeless = str(tmp_path / "treeless.root")
    with uproot.recreate(treeless) as file:
        file["events"] = {"x": np.arange(3)}
    bad = (no_pid, jagged, treeless, samples["truncated"])
    out = run(samples, processor_instance, executor, 40, extra=bad)
    skipped = out["skipped_files"]
    assert set(skipped) == set(bad)
    # The model reads it: the file is refused naming the branch, all 90 entries lost.
    assert "branch 'part_isElectron': branch missing" in skipped[no_pid]
    assert "0 of 90 entries processed" in skipped[no_pid]
    assert "branch 'jet_pt': expected one number per jet" in skipped[jagged]
    assert skipped[treeless] == "no tree 'tree' (keys: events;1)"
    assert "failed: OSError" in skipped[samples["truncated"]]
    assert "0 of 90 entries processed" in skipped[samples["truncated"]]
    assert all("\n" not in reason for reason in skipped.values())
    clean = run(samples, processor_instance, executor, 40)
    assert out["jets"] == clean["jets"] == {"a": 90, "b": 55}
    assert_same_histograms(
        out, clean, ("score", "discriminant", "jet_pt", "sdmass_vs_discriminant")
    )


class FailsOnOneFile(processor.ProcessorABC):
    """A user's processor with a bug that only one file triggers (a sum of its entries)."""

    def __init__(self, bad_name: str) -> None:
        self.bad_name = bad_name

    def process(self, events: Any) -> dict[str, Any]:
        if (
            events.metadata["filename"].endswith(self.bad_name)
            and events.metadata["entrystart"] >= 40
        ):
            raise ZeroDivisionError("division by zero in the user's code")
        return {"entries": {events.metadata["filename"]: len(events)}}

    def postprocess(self, accumulator: Any) -> Any:
        return accumulator


def test_a_users_processor_failing_on_some_chunks_loses_only_those(samples: dict) -> None:
    """Any processor gets the report: the failed chunks of a file are named, the rest are used."""
    fileset = {"a": [samples["path_a"]], "b": [samples["path_b"]]}
    out = run_fileset(
        fileset, FailsOnOneFile("a.root"), treename="tree", schema=BaseSchema, chunksize=20
    )
    # coffea's own chunking of the same files, from its public preprocessing step.
    runner = processor.Runner(processor.IterativeExecutor(), schema=BaseSchema, chunksize=20)
    items = list(runner.preprocess({"a": {"files": {samples["path_a"]: "tree"}}}, treename="tree"))
    failing = sorted((i.entrystart, i.entrystop) for i in items if i.entrystart >= 40)
    kept = sum(i.entrystop - i.entrystart for i in items if i.entrystart < 40)
    assert failing and kept
    assert out["entries"] == {samples["path_a"]: kept, samples["path_b"]: 55}
    first_start, first_stop = failing[0]
    more = f" and {len(failing) - 1} more chunk(s)" if len(failing) > 1 else ""
    assert out["skipped_files"][samples["path_a"]] == (
        "failed: ZeroDivisionError: division by zero in the user's code "
        f"(entries {first_start}-{first_stop - 1}{more}); {kept} of 90 entries processed"
    )


class RemovesAFile(processor.ProcessorABC):
    """Counts entries and, on its first chunk, deletes ``victim`` (a file vanishing mid-run)."""

    def __init__(self, victim: Path) -> None:
        self.victim = victim

    def process(self, events: Any) -> dict[str, Any]:
        self.victim.unlink(missing_ok=True)
        return {"entries": {events.metadata["filename"]: len(events)}}

    def postprocess(self, accumulator: Any) -> Any:
        return accumulator


def test_a_chunk_failing_before_the_processor_is_named_and_everything_failing_is_an_error(
    samples: dict, processor_instance: JetClassTaggerProcessor, tmp_path: Path
) -> None:
    """A file that goes away between preprocessing and processing fails where coffea opens
    it, before any processor runs: coffea drops such chunks without a reason, so the
    runner reopens the file to name it. When no chunk at all can be processed the run
    raises, naming every file, instead of returning empty histograms.
    """
    from jetscale.runner import NothingProcessedError

    victim = tmp_path / "vanishing.root"
    victim.write_bytes(Path(samples["path_b"]).read_bytes())
    fileset = {"a": [samples["path_a"]], "b": [str(victim)]}
    out = run_fileset(fileset, RemovesAFile(victim), treename="tree", schema=BaseSchema)
    assert out["entries"] == {samples["path_a"]: 90}
    reason = out["skipped_files"][str(victim)]
    assert reason.startswith("only 0 of 55 entries processed: FileNotFoundError")
    assert str(victim) in reason

    with pytest.raises(NothingProcessedError) as caught:
        run_fileset(
            {"t": [samples["truncated"]], "g": [samples["garbage"]]},
            processor_instance,
            treename="tree",
            schema=BaseSchema,
        )
    message = str(caught.value)
    assert message.startswith("no file could be processed (2 skipped)")
    assert f"{samples['garbage']}: unreadable" in message
    assert f"{samples['truncated']}: failed: OSError" in message
