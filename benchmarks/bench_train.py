"""Training throughput (jets/s) for two model sizes, and model-FLOPs utilization on a GPU.

Usage::

    python benchmarks/bench_train.py --sample jetscale-output/sample/*.root [--device cuda]

Times optimizer steps (forward, backward, AdamW) on batches of real generated
jets, trimmed to each batch's longest jet as in training; data loading is not
timed. On a GPU, bf16 autocast is used and MFU = achieved FLOP/s / peak bf16
FLOP/s of the card (``--peak-tflops``; 989 for an H100 SXM, dense).
"""

from __future__ import annotations

import argparse
import time

import awkward as ak
import numpy as np
import torch
import torch.nn.functional as F

from _sample import sample_jets  # benchmarks/_sample.py: the benchmarks' default jets
from jetscale.features import build_features
from jetscale.nn import ModelConfig, build_model, count_parameters, forward_flops
from jetscale.train.config import TrainConfig
from jetscale.train.data import trimmed
from jetscale.train.loop import make_optimizer

SIZES = {
    "small (d=64, L=3)": ModelConfig(
        d_model=64, n_layers=3, n_heads=4, ff_ratio=4, n_class_layers=1
    ),
    "medium (d=128, L=6)": ModelConfig(
        d_model=128, n_layers=6, n_heads=8, ff_ratio=4, n_class_layers=2
    ),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sample", nargs="+")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument(
        "--peak-tflops", type=float, default=989.0, help="bf16 dense peak of the GPU"
    )
    args = parser.parse_args()
    device = torch.device(args.device)
    jets = sample_jets(args.sample)
    x, mask = build_features(jets, "full21", 128)
    label = ak.to_numpy(jets["label"]).astype(np.int64)
    rng = np.random.default_rng(0)
    print(
        f"device {device}, batch {args.batch_size}, {len(jets)} jets, mean {mask.sum(1).mean():.1f} constituents"
    )
    print(f"{'model':22s} {'params':>9s} {'jets/s':>9s} {'TFLOP/s':>8s} {'MFU':>7s}")
    for name, config in SIZES.items():
        model = build_model(config).to(device)
        dummy = TrainConfig(data=("unused",), out="unused")
        optimizer = make_optimizer(model, dummy)
        batches = []
        for _ in range(args.steps + 2):
            take = rng.integers(0, len(jets), args.batch_size)
            b = trimmed(x[take], mask[take], label[take])
            batches.append(
                (
                    torch.from_numpy(b.x).to(device),
                    torch.from_numpy(b.mask).to(device),
                    torch.from_numpy(b.label).to(device),
                )
            )
        flops = 0.0
        for step, (bx, bm, by) in enumerate(batches):
            if step == 2:  # two warm-up steps
                if device.type == "cuda":
                    torch.cuda.synchronize()
                start = time.perf_counter()
                flops = 0.0
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
                loss = F.cross_entropy(model(bx, bm).float(), by)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            flops += 3.0 * forward_flops(config, bx.shape[1]) * bx.shape[0]
        if device.type == "cuda":
            torch.cuda.synchronize()
        seconds = time.perf_counter() - start
        rate = args.steps * args.batch_size / seconds
        achieved = flops / seconds / 1e12
        mfu = f"{100 * achieved / args.peak_tflops:6.1f}%" if device.type == "cuda" else "    n/a"
        print(f"{name:22s} {count_parameters(config).total:9,d} {rate:9,.0f} {achieved:8.3f} {mfu}")


if __name__ == "__main__":
    main()
