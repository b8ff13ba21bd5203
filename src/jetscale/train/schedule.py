"""Learning-rate schedule: linear warm-up, then cosine decay to a floor (as in nanoGPT)."""

from __future__ import annotations

import math


def get_lr(
    step: int, total_steps: int, peak_lr: float, warmup_steps: int, min_lr_ratio: float
) -> float:
    """Learning rate for optimizer step ``step`` (0-based) of ``total_steps``."""
    min_lr = peak_lr * min_lr_ratio
    if step < warmup_steps:
        return peak_lr * (step + 1) / warmup_steps
    if step >= total_steps:
        return min_lr
    progress = (step - warmup_steps) / max(total_steps - warmup_steps, 1)
    return min_lr + 0.5 * (1.0 + math.cos(math.pi * progress)) * (peak_lr - min_lr)
