"""Realism of generated jets, measured with the official JetClass-trained ParticleNet.

Usage (generate a balanced 10-class sample and tag it: about 12 minutes on 2 busy
cores, 2 for generation at ~15 jets/s per worker and 9 for ParticleNet at ~12 jets/s
per thread, run twice)::

    python benchmarks/bench_realism.py [--jets-per-class 300] [--card cms] \
        [--seed 20261130] [--workers 2] [--out realism-output]

    python benchmarks/bench_realism.py --files DIR_OR_FILES ... [--out DIR]
    python benchmarks/bench_realism.py --label before=DIR1 --label after=DIR2 [--out DIR]

The meter is ParticleNet trained on the full JetClass dataset (100M Delphes jets)
with the Particle Transformer ``full`` inputs, published by the ParT authors with
10-class test accuracy 0.844 (arXiv:2202.03772). Its weights sit beside the
project (``<repo>/../shared/data/jetclass_models/ParticleNet_full.pt``, never
copied into the repository) and run through weaver-core's own ``ParticleNet``
class (``pip install --no-deps weaver-core``: importing the model needs only
torch and numpy). Jets that look like JetClass jets should be tagged about as
well as JetClass's own test jets; a large drop, or a confusion matrix with
structure JetClass does not have, points at a difference between the generator
and JetClass's Pythia + Delphes jets.

Inputs are jetscale's ``full`` feature set (the ParT list, in its order, with
JetClass's standardisation) from ``build_features``, 128 slots, padded slots
zero, points = (deta, dphi). The network is run twice: on the nominal inputs,
and with the four impact-parameter inputs (``part_d0``, ``part_d0err``,
``part_dz``, ``part_dzerr``) at their value for zero raw inputs, i.e. the
features of jets whose ``d0val, d0err, dzval, dzerr`` are all 0 (JetClass's
neutral-particle values): if accuracy rises when they are zeroed, the generated
track parameters mislead the network.

Reported for each sample: 10-class accuracy with its binomial standard error,
per-class in-class efficiency (the confusion matrix's diagonal over its row),
the 10x10 confusion matrix (rows true class, columns predicted, counts), and
one-vs-QCD AUCs of ``p_X / (p_X + p_QCD)`` (:mod:`jetscale.metrics`). Per class,
jetscale's own distributions (multiplicities, particle-type counts and energy
fractions, track impact parameters, soft-drop mass, N-subjettiness ratios) are
drawn into ``OUT/plots``, one figure per observable with a panel per class and
one line per sample. ``OUT/realism.json`` holds every number and histogram;
``OUT/realism.md`` the tables.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any, cast

import awkward as ak
import hist
import numpy as np

from jetscale.features import build_features
from jetscale.features.registry import FEATURE_SETS
from jetscale.io import expand_paths, read_jets
from jetscale.io.atomic import atomic_path, write_json, write_text
from jetscale.metrics import one_vs_qcd_aucs
from jetscale.schema import CLASS_NAMES

REPO = Path(__file__).resolve().parents[1]
DEFAULT_MODEL = REPO.parent / "shared" / "data" / "jetclass_models" / "ParticleNet_full.pt"
MODEL_SHA256_PREFIX = "375b81543769f4a0"  # the published ParticleNet_full.pt (see its README)
PUBLISHED_ACCURACY = 0.844  # ParticleNet on the JetClass test set, arXiv:2202.03772
FEATURE_SET = "full"
MAX_PARTICLES = 128
#: The track-parameter inputs of the ``full`` set and the raw fields they are computed from.
IP_FEATURES = ("part_d0", "part_d0err", "part_dz", "part_dzerr")
IP_FIELDS = ("d0val", "d0err", "dzval", "dzerr")
#: ParticleNet as trained for JetClass (particle_transformer's networks/example_ParticleNet.py).
PARTICLENET_KWARGS: dict[str, Any] = {
    "input_dims": 17,
    "num_classes": 10,
    "conv_params": [(16, (64, 64, 64)), (16, (128, 128, 128)), (16, (256, 256, 256))],
    "fc_params": [(256, 0.1)],
    "use_fusion": False,
    "use_fts_bn": True,
    "use_counts": True,
    "for_inference": True,
}
PARTICLE_TYPES = ("isChargedHadron", "isNeutralHadron", "isPhoton", "isElectron", "isMuon")
TYPE_TITLES = {
    "isChargedHadron": "charged hadrons",
    "isNeutralHadron": "neutral hadrons",
    "isPhoton": "photons",
    "isElectron": "electrons",
    "isMuon": "muons",
}


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# --------------------------------------------------------------------------- inputs


class _HelpWithDefaults(argparse.ArgumentDefaultsHelpFormatter):
    """Show ``(default: ...)`` only for options whose default is a value (not None or False)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None or action.default is False:
            return action.help
        return super()._get_help_string(action)


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0],
        formatter_class=_HelpWithDefaults,
        epilog="Without --files or --label, a sample is generated into OUT/data "
        "(files already there for the same card and seed are reused).",
    )
    source = parser.add_argument_group("input samples (at most one of --files, --label)")
    source.add_argument(
        "--files",
        nargs="+",
        metavar="PATH",
        help="JetClass-format ROOT (or parquet) files, directories or globs of one labelled "
        "sample, e.g. the output directory of `jetscale generate`",
    )
    source.add_argument(
        "--label",
        action="append",
        metavar="NAME=PATHS",
        help="a named sample, PATHS comma-separated files/directories/globs; repeat to "
        "compare samples (e.g. --label before=DIR1 --label after=DIR2): every "
        "sample is tagged and the figures overlay them",
    )
    source.add_argument(
        "--name",
        default=None,
        help="name of the --files or generated sample in tables and legends "
        "(default: 'sample' for --files, '<card> s<seed>' when generating)",
    )
    gen = parser.add_argument_group("generation (used when neither --files nor --label is given)")
    gen.add_argument(
        "--jets-per-class", type=int, default=300, help="jets of each of the 10 classes"
    )
    gen.add_argument("--card", default="cms", help="detector card, see `jetscale cards`")
    gen.add_argument(
        "--seed",
        type=int,
        default=20261130,
        help="generator seed; the default is used by no other jetscale sample, so the jets are unseen",
    )
    gen.add_argument("--workers", type=int, default=1, help="generator worker processes")
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("realism-output"),
        help="output directory: realism.json, realism.md, plots/, and data/ when generating",
    )
    parser.add_argument(
        "--model",
        type=Path,
        default=DEFAULT_MODEL,
        help="ParticleNet_full.pt state dict (kept outside the repository)",
    )
    parser.add_argument("--batch-size", type=int, default=128, help="jets per ParticleNet call")
    parser.add_argument(
        "--threads", type=int, default=1, help="torch CPU threads for ParticleNet inference"
    )
    parser.add_argument("--no-plots", action="store_true", help="skip the distribution figures")
    parser.add_argument(
        "--no-tagging",
        action="store_true",
        help="skip ParticleNet (minutes per 1,000 jets on a CPU): only jetscale's "
        "distributions, e.g. to compare detector cards",
    )
    args = parser.parse_args(argv)
    if args.files and args.label:
        parser.error("give either --files or --label, not both")
    for option in ("jets_per_class", "workers", "batch_size", "threads"):
        if getattr(args, option) < 1:
            parser.error(
                f"--{option.replace('_', '-')} must be positive, got {getattr(args, option)}"
            )
    return args


def samples_from_arguments(
    args: argparse.Namespace,
) -> tuple[dict[str, list[Path]], dict[str, Any]]:
    """``{sample name: files}`` and a record of where they came from (generation summary)."""
    if args.label:
        samples: dict[str, list[Path]] = {}
        for item in args.label:
            name, sep, paths = item.partition("=")
            if not sep or not name or not paths:
                msg = f"--label expects NAME=PATHS, got {item!r}"
                raise SystemExit(msg)
            if name in samples:
                msg = f"--label name {name!r} given twice"
                raise SystemExit(msg)
            samples[name] = expand_paths([p for p in paths.split(",") if p])
        return samples, {"mode": "labels"}
    if args.files:
        return {args.name or "sample": expand_paths(args.files)}, {"mode": "files"}
    return generate_sample(args)


def generate_sample(args: argparse.Namespace) -> tuple[dict[str, list[Path]], dict[str, Any]]:
    """Generate (or reuse) the balanced 10-class sample in ``OUT/data``."""
    from jetscale.generate import generate, sample_file_name
    from jetscale.io.reader import count_entries

    data = args.out / "data"
    files = [data / sample_file_name(c, args.card, args.seed) for c in CLASS_NAMES]
    name = args.name or f"{args.card} s{args.seed}"
    record: dict[str, Any] = {
        "mode": "generate",
        "card": args.card,
        "seed": args.seed,
        "jets_per_class": args.jets_per_class,
        "workers": args.workers,
        "directory": str(data),
    }
    if all(f.exists() and count_entries(f) == args.jets_per_class for f in files):
        log(
            f"reusing the {len(files)} files in {data} (same card, seed and size; delete them to regenerate)"
        )
        record["reused"] = True
        return {name: files}, record
    log(
        f"generating {args.jets_per_class} jets per class, card {args.card}, seed {args.seed}, "
        f"{args.workers} workers into {data}"
    )
    summary = generate(
        data,
        list(CLASS_NAMES),
        args.jets_per_class,
        detector=args.card,
        seed=args.seed,
        workers=args.workers,
    )
    log(str(summary))
    record.update(
        reused=False,
        wall_time_s=summary.wall_time_s,
        jets_per_second=summary.jets_per_second,
        events_per_class=summary.events_per_class,
    )
    return {name: summary.files}, record


# --------------------------------------------------------------------------- the meter


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_particlenet(path: Path) -> Any:
    """weaver-core's ParticleNet with the JetClass weights, in eval mode (softmax output)."""
    import torch

    try:
        from weaver.nn.model.ParticleNet import ParticleNet
    except ModuleNotFoundError:
        msg = (
            "the ParticleNet meter needs weaver-core: pip install --no-deps weaver-core "
            "(importing the model needs only torch and numpy)"
        )
        raise SystemExit(msg) from None
    if not path.is_file():
        msg = f"{path}: ParticleNet weights not found (see --model)"
        raise SystemExit(msg)

    class Wrapper(torch.nn.Module):  # the state dict's keys start with "mod."
        def __init__(self) -> None:
            super().__init__()
            self.mod = ParticleNet(**PARTICLENET_KWARGS)

        def forward(self, points: Any, features: Any, mask: Any) -> Any:
            return self.mod(points, features, mask)

    model = Wrapper()
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True), strict=True)
    return model.eval()


def network_inputs(
    jets: ak.Array, zero_ip: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``points (N, 2, P)``, ``features (N, 17, P)``, ``mask (N, 1, P)``, float32, padded slots 0.

    ``zero_ip`` builds the features of the same jets with ``d0val, d0err, dzval,
    dzerr`` set to 0, so the four track-parameter inputs take their standardized
    value for a zero input while every other input is unchanged.
    """
    if zero_ip:
        consts = jets["constituents"]
        for field in IP_FIELDS:
            consts = ak.with_field(consts, ak.zeros_like(consts[field]), field)
        jets = ak.with_field(jets, consts, "constituents")
    x, mask = build_features(
        jets, FEATURE_SET, MAX_PARTICLES, pad_mode="constant"
    )  # (N, P, F), (N, P)
    if np.any(x[~mask] != 0):
        msg = "padded slots of the 'full' features are not zero, as the ParticleNet meter requires"
        raise RuntimeError(msg)
    names = FEATURE_SETS[FEATURE_SET]
    features = np.ascontiguousarray(x.transpose(0, 2, 1))  # (N, F, P)
    points = np.ascontiguousarray(
        features[:, [names.index("part_deta"), names.index("part_dphi")]]
    )  # (N, 2, P)
    return points, features, mask[:, None, :].astype(np.float32)  # mask (N, 1, P)


def run_particlenet(
    model: Any, inputs: tuple[np.ndarray, np.ndarray, np.ndarray], batch_size: int, what: str
) -> np.ndarray:
    """Softmax probabilities ``(N, 10)`` in JetClass label order."""
    import torch

    points, features, mask = inputs
    out = []
    started = time.perf_counter()
    with torch.inference_mode():
        for start in range(0, len(points), batch_size):
            stop = start + batch_size
            prob = model(
                torch.from_numpy(points[start:stop]),
                torch.from_numpy(features[start:stop]),
                torch.from_numpy(mask[start:stop]),
            )
            out.append(prob.numpy().astype(np.float64))
            done = min(stop, len(points))
            if done == len(points) or done % (batch_size * 8) == 0:
                rate = done / (time.perf_counter() - started)
                log(f"{what}: {done}/{len(points)} jets, {rate:.0f} jets/s")
    return np.concatenate(out) if out else np.zeros((0, len(CLASS_NAMES)))


def binomial(k: int, n: int) -> tuple[float | None, float | None]:
    """Fraction ``k/n`` and its binomial standard error ``sqrt(f (1-f) / n)``."""
    if n == 0:
        return None, None
    f = k / n
    return f, float(np.sqrt(f * (1 - f) / n))


def tagging_metrics(prob: np.ndarray, labels: np.ndarray) -> dict[str, Any]:
    """Accuracy, per-class efficiency, confusion matrix and one-vs-QCD AUCs."""
    predicted = prob.argmax(axis=1)
    n_classes = len(CLASS_NAMES)
    confusion = np.zeros((n_classes, n_classes), dtype=np.int64)  # rows true, columns predicted
    np.add.at(confusion, (labels, predicted), 1)
    accuracy, accuracy_error = binomial(int(np.trace(confusion)), int(confusion.sum()))
    efficiency = {}
    for k, name in enumerate(CLASS_NAMES):
        value, error = binomial(int(confusion[k, k]), int(confusion[k].sum()))
        efficiency[name] = {"value": value, "error": error, "jets": int(confusion[k].sum())}
    return {
        "jets": len(labels),
        "accuracy": accuracy,
        "accuracy_error": accuracy_error,
        "efficiency": efficiency,
        "confusion": confusion,
        "auc_vs_qcd": one_vs_qcd_aucs(prob, labels, CLASS_NAMES),
        "mean_probability_of_true_class": float(prob[np.arange(len(labels)), labels].mean())
        if len(labels)
        else None,
    }


def ip_zero_values() -> dict[str, float]:
    """The standardized value each track-parameter input takes for zero raw inputs (from the registry)."""
    one = ak.Array(
        [
            {
                "pt": 500.0,
                "energy": 600.0,
                "constituents": [
                    {
                        "px": 10.0,
                        "py": 0.0,
                        "pz": 1.0,
                        "energy": 10.1,
                        "deta": 0.0,
                        "dphi": 0.0,
                        "d0val": 0.0,
                        "d0err": 0.0,
                        "dzval": 0.0,
                        "dzerr": 0.0,
                        "charge": 0.0,
                        "isChargedHadron": 0,
                        "isNeutralHadron": 0,
                        "isPhoton": 1,
                        "isElectron": 0,
                        "isMuon": 0,
                    }
                ],
            }
        ]
    )
    x, _ = build_features(one, FEATURE_SET, 1)
    names = FEATURE_SETS[FEATURE_SET]
    return {f: float(x[0, 0, names.index(f)]) for f in IP_FEATURES}


# --------------------------------------------------------------------------- distributions


def _per_jet(values: Any) -> np.ndarray:
    return np.asarray(ak.to_numpy(values), dtype=np.float64)


def jet_observables(jets: ak.Array) -> dict[str, np.ndarray]:
    """Per-jet observables ``(N,)``; fractions of the constituents' energy sum."""
    consts = jets["constituents"]
    energy = consts["energy"]
    total = ak.sum(energy, axis=1)
    out = {
        "jet_pt": _per_jet(jets["pt"]),
        "n_constituents": _per_jet(ak.num(consts, axis=1)),
    }
    for flag in PARTICLE_TYPES:
        is_type = consts[flag] != 0
        out[f"n_{flag}"] = _per_jet(ak.sum(is_type, axis=1))
        out[f"efrac_{flag}"] = _per_jet(ak.sum(energy * is_type, axis=1) / total)
    out["sdmass"] = _per_jet(jets["sdmass"])
    tau1, tau2, tau3 = (_per_jet(jets[t]) for t in ("tau1", "tau2", "tau3"))
    with np.errstate(divide="ignore", invalid="ignore"):
        out["tau21"] = np.where(tau1 > 0, tau2 / tau1, np.nan)
        out["tau32"] = np.where(tau2 > 0, tau3 / tau2, np.nan)
    return out


def track_observables(jets: ak.Array) -> dict[str, np.ndarray]:
    """Per-track observables of all jets, flat: constituents with charge != 0 (and d0err > 0 for the significance)."""
    consts = jets["constituents"]
    tracks = consts[consts["charge"] != 0]
    with_error = tracks[tracks["d0err"] > 0]
    return {
        "d0": _flat(tracks["d0val"]),
        "d0_significance": _flat(with_error["d0val"] / with_error["d0err"]),
        "dz": _flat(tracks["dzval"]),
    }


def _flat(values: Any) -> np.ndarray:
    return np.asarray(ak.to_numpy(ak.flatten(values, axis=None)), dtype=np.float64)


def observable_axes() -> dict[str, tuple[Any, str, str, bool]]:
    """Observable name -> (histogram axis, figure title, "jet" or "track" entries, log y)."""
    regular = hist.axis.Regular
    axes: dict[str, tuple[Any, str, str, bool]] = {
        "jet_pt": (
            regular(44, 450, 1050, name="x", label=r"Jet $p_T$ [GeV]"),
            "jet pT",
            "jet",
            False,
        ),
        "n_constituents": (
            regular(40, 0, 160, name="x", label="Constituents per jet"),
            "constituent multiplicity",
            "jet",
            False,
        ),
    }
    counts = {
        "isChargedHadron": 80,
        "isNeutralHadron": 30,
        "isPhoton": 80,
        "isElectron": 8,
        "isMuon": 8,
    }
    for flag in PARTICLE_TYPES:
        top = counts[flag]
        # One bin per count up to 30 (bins centred on the integers), pairs of counts above.
        axis = regular(
            top if top <= 30 else top // 2,
            -0.5,
            top - 0.5,
            name="x",
            label=f"Number of {TYPE_TITLES[flag]}",
        )
        axes[f"n_{flag}"] = (
            axis,
            f"number of {TYPE_TITLES[flag]}",
            "jet",
            flag in ("isElectron", "isMuon"),
        )
    for flag in PARTICLE_TYPES:
        log_y = flag in ("isNeutralHadron", "isElectron", "isMuon")
        axes[f"efrac_{flag}"] = (
            regular(25, 0, 1, name="x", label=f"Energy fraction of {TYPE_TITLES[flag]}"),
            f"energy fraction of {TYPE_TITLES[flag]}",
            "jet",
            log_y,
        )
    axes.update(
        {
            "d0": (
                regular(100, -2, 2, name="x", label=r"Track $d_0$ [mm]"),
                "track d0",
                "track",
                True,
            ),
            "d0_significance": (
                regular(80, -40, 40, name="x", label=r"Track $d_0/\sigma_{d_0}$"),
                "track d0 significance",
                "track",
                True,
            ),
            "dz": (
                regular(100, -2, 2, name="x", label=r"Track $d_z$ [mm]"),
                "track dz",
                "track",
                True,
            ),
            "sdmass": (
                regular(60, 0, 300, name="x", label=r"Soft-drop mass [GeV]"),
                "soft-drop mass",
                "jet",
                False,
            ),
            "tau21": (
                regular(50, 0, 1, name="x", label=r"$\tau_{21} = \tau_2/\tau_1$"),
                "tau21",
                "jet",
                False,
            ),
            "tau32": (
                regular(50, 0, 1, name="x", label=r"$\tau_{32} = \tau_3/\tau_2$"),
                "tau32",
                "jet",
                False,
            ),
        }
    )
    return axes


def fill_distributions(jets: ak.Array, labels: np.ndarray) -> dict[str, hist.Hist]:
    """One ``(class, x)`` histogram per observable (flow bins included)."""
    axes = observable_axes()
    out: dict[str, hist.Hist] = {}
    per_jet = jet_observables(jets)
    for name, (axis, _, kind, _) in axes.items():
        h: hist.Hist = hist.Hist(hist.axis.StrCategory(list(CLASS_NAMES), name="jet_class"), axis)
        if kind == "jet":
            values = per_jet[name]
            h.fill(jet_class=np.asarray(CLASS_NAMES, dtype=object)[labels].astype(str), x=values)
        out[name] = h
    for k, cls in enumerate(CLASS_NAMES):
        for name, values in track_observables(jets[labels == k]).items():
            out[name].fill(jet_class=cls, x=values)
    return out


def _class_slice(h: hist.Hist, cls: str) -> hist.Hist:
    """The 1D histogram of one class (a cast: indexing with a dict is typed to return a scalar too)."""
    return cast(hist.Hist, h[{"jet_class": cls}])


def summarize_distributions(hists: dict[str, hist.Hist]) -> dict[str, Any]:
    """Per observable and class: entries, mean (in range), underflow and overflow fractions, and the histogram."""
    out: dict[str, Any] = {}
    for name, h in hists.items():
        axis = h.axes["x"]
        centers = axis.centers
        per_class = {}
        for cls in CLASS_NAMES:
            counts = _class_slice(h, cls).values(flow=True)
            total = counts.sum()
            inside = counts[1:-1]
            per_class[cls] = {
                "entries": int(total),
                "mean_in_range": float((inside * centers).sum() / inside.sum())
                if inside.sum()
                else None,
                "underflow_fraction": float(counts[0] / total) if total else None,
                "overflow_fraction": float(counts[-1] / total) if total else None,
                "counts_with_flow": counts,
            }
        out[name] = {"edges": axis.edges, "label": axis.label, "classes": per_class}
    return out


# --------------------------------------------------------------------------- figures


def plot_distributions(
    hists_by_sample: dict[str, dict[str, hist.Hist]], plot_dir: Path, subtitle: str
) -> list[Path]:
    """One PNG per observable: a panel per class, one unit-normalized step line per sample."""
    import matplotlib.pyplot as plt
    import mplhep

    plot_dir.mkdir(parents=True, exist_ok=True)
    colors = [plt.get_cmap("tab10")(k) for k in range(10)]
    styles = ("-", "--", ":", "-.")
    written = []
    axes_spec = observable_axes()
    for name, (axis, title, kind, log_y) in axes_spec.items():
        with plt.style.context([mplhep.style.CMS, {"font.size": 13, "axes.titlesize": 14}]):
            fig, panels = plt.subplots(2, 5, figsize=(22, 9), sharex=True, constrained_layout=True)
            top = 0.0
            for k, (cls, ax) in enumerate(zip(CLASS_NAMES, panels.flat, strict=True)):
                for s, (sample, hists) in enumerate(hists_by_sample.items()):
                    sub = _class_slice(hists[name], cls)
                    total = float(sub.values(flow=True).sum())
                    if total <= 0:
                        continue
                    # Normalized to all entries, flow included: shares out of range stay visible as missing area.
                    mplhep.histplot(
                        sub / total,
                        ax=ax,
                        histtype="step",
                        linewidth=1.6,
                        color=colors[s % 10],
                        linestyle=styles[(s // 10) % len(styles)],
                        label=_legend(sample, sub, total, kind),
                    )
                    top = max(top, float((sub.values() / total).max()))
                ax.set_title(cls)
                if log_y:
                    ax.set_yscale("log")
                # histplot labels every panel's x axis; keep the bottom row's only.
                ax.set_xlabel(axis.label if k >= 5 else "")
                ax.set_ylabel(f"Fraction of {kind}s" if k % 5 == 0 else "")
                ax.tick_params(labelsize=11)
                ax.legend(fontsize=9, loc="upper right", frameon=False)
            for ax in panels.flat:
                if log_y:
                    ax.set_ylim(1e-4, max(top, 1e-3) * 8)
                else:
                    ax.set_ylim(0, top * 1.35 if top > 0 else 1)
            fig.suptitle(f"{title} per class: {subtitle}", fontsize=16)
            final = plot_dir / f"{name}.png"
            with atomic_path(final) as tmp:
                fig.savefig(tmp, format="png", dpi=80)
            plt.close(fig)
        written.append(final)
    return written


def _legend(sample: str, sub: hist.Hist, total: float, kind: str) -> str:
    """``sample (N jets)``, plus the share outside the axis range when it is above 0.5%."""
    flow = sub.values(flow=True)
    outside = float(flow[0] + flow[-1]) / total
    text = f"{sample} ({int(total)} {kind}s)"
    return text + f", {outside:.1%} outside" if outside > 0.005 else text


def plot_confusion(confusion: np.ndarray, path: Path, title: str) -> Path:
    """Row-normalized confusion matrix with the counts written in each cell."""
    import matplotlib.pyplot as plt

    rows = confusion.sum(axis=1, keepdims=True)
    fraction = np.divide(confusion, rows, out=np.zeros(confusion.shape), where=rows > 0)
    fig, ax = plt.subplots(figsize=(9, 8), constrained_layout=True)
    image = ax.imshow(fraction, cmap="Blues", vmin=0, vmax=1)
    n = len(CLASS_NAMES)
    ax.set_xticks(range(n), CLASS_NAMES, rotation=45, ha="right")
    ax.set_yticks(range(n), CLASS_NAMES)
    ax.set_xlabel("Predicted class (ParticleNet, JetClass-trained)")
    ax.set_ylabel("True class")
    for i in range(n):
        for j in range(n):
            if confusion[i, j]:
                ax.text(
                    j,
                    i,
                    str(confusion[i, j]),
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="white" if fraction[i, j] > 0.5 else "black",
                )
    fig.colorbar(image, ax=ax, label="Fraction of the true class")
    ax.set_title(title, fontsize=11)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=90)
    plt.close(fig)
    return path


# --------------------------------------------------------------------------- report


def _pm(value: float | None, error: float | None, digits: int = 3) -> str:
    if value is None:
        return "n/a"
    return f"{value:.{digits}f} ± {error:.{digits}f}"


def markdown_report(results: dict[str, Any]) -> str:
    lines = [
        "# Realism of generated jets: the JetClass-trained ParticleNet",
        "",
        f"Measured {results['date']} on {results['machine']}; command `{results['command']}`.",
        f"Model: `{Path(results['model']['path']).name}` (sha256 {results['model']['sha256'][:16]}...), "
        f"weaver-core {results['model']['weaver_core']}. Published JetClass test accuracy: "
        f"{PUBLISHED_ACCURACY}.",
        "",
        "## Accuracy",
        "",
        "| sample | inputs | jets | 10-class accuracy | published (JetClass) | mean p(true class) |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for sample, per_input in results["samples"].items():
        for inputs, m in per_input["tagging"].items():
            lines.append(
                f"| {sample} | {inputs} | {m['jets']} | {_pm(m['accuracy'], m['accuracy_error'])} "
                f"| {PUBLISHED_ACCURACY} | {m['mean_probability_of_true_class']:.3f} |"
            )
    lines += ["", "## In-class efficiency (diagonal of the confusion matrix over its row)", ""]
    lines.append("| sample | inputs | " + " | ".join(CLASS_NAMES) + " |")
    lines.append("|---|---|" + "---:|" * len(CLASS_NAMES))
    for sample, per_input in results["samples"].items():
        for inputs, m in per_input["tagging"].items():
            cells = [
                _pm(m["efficiency"][c]["value"], m["efficiency"][c]["error"], 2)
                for c in CLASS_NAMES
            ]
            lines.append(f"| {sample} | {inputs} | " + " | ".join(cells) + " |")
    lines += ["", "## One-vs-QCD AUC of p_X / (p_X + p_QCD)", ""]
    signals = [c for c in CLASS_NAMES if c != "QCD"]
    lines.append("| sample | inputs | " + " | ".join(signals) + " |")
    lines.append("|---|---|" + "---:|" * len(signals))
    for sample, per_input in results["samples"].items():
        for inputs, m in per_input["tagging"].items():
            cells = [f"{m['auc_vs_qcd'].get(c, float('nan')):.4f}" for c in signals]
            lines.append(f"| {sample} | {inputs} | " + " | ".join(cells) + " |")
    for sample, per_input in results["samples"].items():
        for inputs, m in per_input["tagging"].items():
            lines += [
                "",
                f"## Confusion matrix: {sample}, {inputs} inputs (rows true, columns predicted, counts)",
                "",
            ]
            lines.append("| true \\ predicted | " + " | ".join(CLASS_NAMES) + " |")
            lines.append("|---|" + "---:|" * len(CLASS_NAMES))
            for k, cls in enumerate(CLASS_NAMES):
                lines.append(
                    f"| {cls} | " + " | ".join(str(int(v)) for v in m["confusion"][k]) + " |"
                )
    lines += ["", "## Per-class means of jetscale's distributions (in histogram range)", ""]
    for sample, per_input in results["samples"].items():
        dist = per_input["distributions"]
        lines.append(f"### {sample}")
        lines.append("")
        lines.append("| observable | " + " | ".join(CLASS_NAMES) + " |")
        lines.append("|---|" + "---:|" * len(CLASS_NAMES))
        for d in dist.values():
            cells = []
            for c in CLASS_NAMES:
                mean = d["classes"][c]["mean_in_range"]
                cells.append("n/a" if mean is None else f"{mean:.3g}")
            lines.append(f"| {d['label']} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = parse_arguments(argv)
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    import torch

    torch.set_num_threads(args.threads)
    (args.out / "plots").mkdir(parents=True, exist_ok=True)
    samples, provenance = samples_from_arguments(args)

    log(f"loading ParticleNet from {args.model}")
    sha = sha256_of(args.model) if args.model.is_file() else ""
    if sha and not sha.startswith(MODEL_SHA256_PREFIX):
        log(f"WARNING: {args.model} sha256 {sha[:16]} is not the published {MODEL_SHA256_PREFIX}")
    model = load_particlenet(args.model)
    from importlib.metadata import version

    zero_values = ip_zero_values()
    log(f"track-parameter inputs for zero raw values: {zero_values}")
    results: dict[str, Any] = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.node()} ({platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs), torch {torch.__version__}, {args.threads} thread(s)",
        "command": " ".join(
            [Path(sys.argv[0]).name, *(argv if argv is not None else sys.argv[1:])]
        ),
        "model": {
            "path": str(args.model),
            "sha256": sha,
            "weaver_core": version("weaver-core"),
            "kwargs": PARTICLENET_KWARGS,
        },
        "published_accuracy": PUBLISHED_ACCURACY,
        "feature_set": {
            "name": FEATURE_SET,
            "features": FEATURE_SETS[FEATURE_SET],
            "max_particles": MAX_PARTICLES,
        },
        "ip_zero_values": zero_values,
        "provenance": provenance,
        "samples": {},
    }
    hists_by_sample = {}
    for sample, files in samples.items():
        log(f"[{sample}] reading {len(files)} files")
        jets = read_jets(files)
        labels = ak.to_numpy(jets["label"]).astype(np.int64)
        if len(jets) == 0 or (labels < 0).any():
            msg = f"sample {sample!r}: {len(jets)} jets, {(labels < 0).sum()} without a JetClass label; the meter needs labelled jets"
            raise SystemExit(msg)
        counts = np.bincount(labels, minlength=len(CLASS_NAMES))
        log(
            f"[{sample}] {len(jets)} jets: "
            + ", ".join(f"{c} {n}" for c, n in zip(CLASS_NAMES, counts, strict=True))
        )
        tagging = {}
        modes = () if args.no_tagging else (("nominal", False), ("IP zeroed", True))
        for inputs, zero_ip in modes:
            x = network_inputs(jets, zero_ip=zero_ip)
            prob = run_particlenet(model, x, args.batch_size, f"[{sample}] ParticleNet ({inputs})")
            m = tagging_metrics(prob, labels)
            log(
                f"[{sample}] {inputs}: accuracy {_pm(m['accuracy'], m['accuracy_error'])} "
                f"(published JetClass {PUBLISHED_ACCURACY})"
            )
            tagging[inputs] = m
        log(f"[{sample}] filling distributions")
        hists = fill_distributions(jets, labels)
        hists_by_sample[sample] = hists
        results["samples"][sample] = {
            "files": [str(f) for f in files],
            "jets_per_class": dict(zip(CLASS_NAMES, counts.tolist(), strict=True)),
            "tagging": tagging,
            "distributions": summarize_distributions(hists),
        }
        if not args.no_plots:
            for inputs, m in tagging.items():
                stem = f"confusion_{_slug(sample)}_{_slug(inputs)}"
                plot_confusion(
                    m["confusion"],
                    args.out / "plots" / f"{stem}.png",
                    f"{sample}, {inputs} inputs: accuracy {_pm(m['accuracy'], m['accuracy_error'])}",
                )

    if not args.no_plots:
        log("drawing the distributions")
        subtitle = ", ".join(samples) + " (jetscale simulation)"
        written = plot_distributions(hists_by_sample, args.out / "plots", subtitle)
        log(f"wrote {len(written)} figures into {args.out / 'plots'}")
    write_json(args.out / "realism.json", results)
    write_text(args.out / "realism.md", markdown_report(results))
    log(f"wrote {args.out / 'realism.json'} and {args.out / 'realism.md'}")
    print()
    print(markdown_report(results).split("## In-class")[0])
    return 0


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in text).strip("_")


if __name__ == "__main__":
    raise SystemExit(main())
