"""Masked particle modelling against supervised training of the same backbone: jets/s side by side.

Usage::

    python benchmarks/bench_mpm.py [--sample jetscale-output/sample/*.root] [--device cuda]

The same batches (real generated jets, trimmed to each batch's longest jet as in
training) and the same backbone (d=64, 3 blocks), alternating supervised and MPM
steps in repeats so the machine's drift hits both alike. An MPM step draws the
hidden particles (35%), encodes the visible ones, runs the one-block decoder and
the regression + PID loss; a supervised step is today's training step. Target:
MPM within 1.5x of supervised (ratio of jets/s >= 0.67).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import awkward as ak
import numpy as np
import torch
import torch.nn.functional as F

from _sample import sample_jets  # benchmarks/_sample.py: the benchmarks' default jets
from jetscale.features import build_features
from jetscale.features.registry import FEATURE_SETS
from jetscale.nn import ModelConfig, build_model
from jetscale.train.config import TrainConfig
from jetscale.train.data import trimmed
from jetscale.train.loop import make_optimizer
from jetscale.transfer.mpm import DEFAULT_FRACTION, MaskedParticleModel, choose_hidden, mpm_loss

CONFIG = ModelConfig(d_model=64, n_layers=3, n_heads=4, ff_ratio=4, n_class_layers=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sample", nargs="+", help="generated JetClass files (default: make some)")
    parser.add_argument("--device", default="cpu", help="torch device (default: cpu)")
    parser.add_argument("--batch-size", type=int, default=256, help="jets per step (default: 256)")
    parser.add_argument("--steps", type=int, default=6, help="timed steps per repeat (default: 6)")
    parser.add_argument("--repeats", type=int, default=3, help="alternating repeats (default: 3)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    device = torch.device(args.device)
    jets = sample_jets(args.sample)
    x, mask = build_features(jets, CONFIG.feature_set, CONFIG.max_particles)
    label = ak.to_numpy(jets["label"]).astype(np.int64)
    rng = np.random.default_rng(0)
    batches = []
    for _ in range(args.steps + 1):
        take = rng.integers(0, len(label), args.batch_size)
        b = trimmed(x[take], mask[take], label[take])
        batches.append(tuple(torch.from_numpy(a).to(device) for a in (b.x, b.mask, b.label)))

    torch.manual_seed(0)
    supervised = build_model(CONFIG).to(device)
    supervised_opt = make_optimizer(supervised, TrainConfig(data=("unused",), out="unused"))
    mpm = MaskedParticleModel(build_model(CONFIG), FEATURE_SETS[CONFIG.feature_set]).to(device)  # type: ignore[arg-type]
    mpm_opt = make_optimizer(mpm, TrainConfig(data=("unused",), out="unused"))
    generator = torch.Generator(device=device).manual_seed(1)

    def supervised_step(bx: torch.Tensor, bm: torch.Tensor, by: torch.Tensor) -> None:
        loss = F.cross_entropy(supervised(bx, bm), by)
        supervised_opt.zero_grad(set_to_none=True)
        loss.backward()
        supervised_opt.step()

    def mpm_step(bx: torch.Tensor, bm: torch.Tensor, by: torch.Tensor) -> None:
        hidden = choose_hidden(bm, DEFAULT_FRACTION, generator).hidden
        loss, _ = mpm_loss(mpm, mpm(bx, bm, hidden), bx, hidden)
        mpm_opt.zero_grad(set_to_none=True)
        loss.backward()
        mpm_opt.step()

    def rate(step: Callable[..., None]) -> float:
        step(*batches[0])  # warm-up
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        for batch in batches[1:]:
            step(*batch)
        if device.type == "cuda":
            torch.cuda.synchronize()
        return args.steps * args.batch_size / (time.perf_counter() - start)

    print(
        f"device {device}, batch {args.batch_size}, {len(label)} jets, mean "
        f"{mask.sum(1).mean():.1f} constituents, backbone d={CONFIG.d_model} L={CONFIG.n_layers}"
    )
    sup, masked = [], []
    for _ in range(args.repeats):
        sup.append(rate(supervised_step))
        masked.append(rate(mpm_step))
    ratios = [m / s for m, s in zip(masked, sup, strict=True)]
    ratio = statistics.median(ratios)
    print(f"supervised {statistics.median(sup):8,.0f} jets/s")
    print(f"MPM        {statistics.median(masked):8,.0f} jets/s")
    print(
        f"MPM / supervised: {ratio:.2f} (per repeat: {', '.join(f'{r:.2f}' for r in ratios)}); "
        f"target >= 0.67 (within 1.5x): {'met' if ratio >= 1 / 1.5 else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
