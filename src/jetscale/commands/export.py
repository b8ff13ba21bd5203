"""``jetscale export``: a training run to ONNX, with preprocess.json and a model card."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "export a training run to ONNX with preprocess.json and a model card"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", type=Path, help="run directory of `jetscale train`")
    parser.add_argument(
        "--out",
        type=Path,
        required=True,
        help="ONNX file to write; preprocess.json and model_card.json go beside it",
    )
    parser.add_argument(
        "--checkpoint",
        default="best.pt",
        help="checkpoint file of the run: best.pt (lowest validation loss) or last.pt (the "
        "last step) (default: %(default)s)",
    )
    parser.add_argument(
        "--parity-data",
        nargs="+",
        help="jets (JetClass/parquet files) for the torch vs ONNX Runtime check "
        "(default: 24 Pythia jets stored with jetscale)",
    )
    parser.add_argument(
        "--no-parity", action="store_true", help="skip the torch vs ONNX Runtime check"
    )
    parser.add_argument(
        "--with-embedding",
        action="store_true",
        help="add a second ONNX output 'embedding' (N, D): the jet's vector the classification "
        "head reads (Transformer: the class token after the final LayerNorm, D = d_model; PFN: "
        "the pooled latent after rho's hidden layers). preprocess.json records it; "
        "OnnxTagger(...).embed(jets) returns it; the parity check covers it too",
    )
    parser.add_argument(
        "--quantize",
        choices=("none", "int8"),
        default="none",
        help="int8: write the int8 dynamic quantization (faster on CPU; scores change at the "
        "1e-3 level and depend slightly on the batch: measure it with --evaluate-data) "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--evaluate-data",
        nargs="+",
        help="labelled JetClass files the model never saw (e.g. generated with another seed): "
        "with --quantize int8, the float32 and int8 AUCs, score changes and batch dependence "
        "on them go into the model card (default: not measured)",
    )
    parser.add_argument(
        "--standard-onnx",
        action="store_true",
        help="write standard ONNX operators only, for runtimes other than ONNX Runtime "
        "(default: a Transformer uses ONNX Runtime's fused attention operators, faster on CPU)",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="overwrite a preprocess.json or model_card.json that belongs to another model file",
    )


def run(args: argparse.Namespace) -> int:
    import sys

    from jetscale.export import export_run, parity_differences
    from jetscale.export.onnx_export import PARITY_TOLERANCE

    sources: list[str] = []
    if args.evaluate_data:
        from jetscale.io import expand_paths

        if args.quantize == "none":
            print(
                "jetscale export: --evaluate-data measures --quantize int8; ignored",
                file=sys.stderr,
            )
        else:
            sources = [str(p) for p in expand_paths(args.evaluate_data)]
    written = export_run(
        args.run_dir,
        args.out,
        args.checkpoint,
        force=args.force,
        with_embedding=args.with_embedding,
        fused=not args.standard_onnx,
        quantize=args.quantize,
        evaluate_data=sources,
    )
    for kind, path in written.items():
        print(f"{kind}: {path}")
    quantized = args.quantize != "none"
    if quantized:
        _report_quantization(written["model_card"])
    if not args.no_parity:
        jets = None
        where = "the stored parity jets"
        if args.parity_data:
            from jetscale.io import expand_paths, read_jets

            paths = expand_paths(args.parity_data)
            jets = read_jets(paths)
            where = f"{len(jets)} jets of {len(paths)} file(s)"
        differences = parity_differences(
            args.run_dir, args.out, jets=jets, checkpoint=args.checkpoint
        )
        worst = max(differences.values())
        print(f"max |torch - onnxruntime| on {where}: {differences.pop('softmax'):.2e}")
        for output, difference in differences.items():  # the embedding, if exported
            print(f"max |torch - onnxruntime| of the {output} on {where}: {difference:.2e}")
        if quantized:
            print(
                "(int8: compared with the float32 torch model; quantization is not held to "
                f"the float32 tolerance {PARITY_TOLERANCE:g})"
            )
        elif not worst <= PARITY_TOLERANCE:  # NaN or inf included
            print(
                f"jetscale export: {args.out} differs from the torch model by {worst:.2e}, more "
                f"than {PARITY_TOLERANCE:g}: do not use it (rerun with --standard-onnx to "
                "compare, and report it)",
                file=sys.stderr,
            )
            return 1
    return 0


def _report_quantization(card_path: Path) -> None:
    """Print the measured effect of int8 quantization from the card, or that it was not measured."""
    import json
    import sys

    quantization = json.loads(card_path.read_text())["quantization"]
    effect = quantization["effect"]
    if isinstance(effect, str):
        print(f"jetscale export: int8 effect {effect}", file=sys.stderr)
        return
    changes = ", ".join(f"{name} {change:+.4f}" for name, change in effect["auc_change"].items())
    print(f"int8 vs float32 on {effect['jets']} jets: AUC change {changes}")
    print(
        f"int8 max |score change| {effect['max_abs_score_change']:.2e}; "
        f"batch dependence {effect['batch_dependence']:.2e}"
    )
