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
        "--force",
        action="store_true",
        help="overwrite a preprocess.json or model_card.json that belongs to another model file",
    )


def run(args: argparse.Namespace) -> int:
    from jetscale.export import export_run, parity_differences

    written = export_run(
        args.run_dir,
        args.out,
        args.checkpoint,
        force=args.force,
        with_embedding=args.with_embedding,
    )
    for kind, path in written.items():
        print(f"{kind}: {path}")
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
        print(f"max |torch - onnxruntime| on {where}: {differences.pop('softmax'):.2e}")
        for output, difference in differences.items():  # the embedding, if exported
            print(f"max |torch - onnxruntime| of the {output} on {where}: {difference:.2e}")
    return 0
