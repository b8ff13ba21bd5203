"""Learning-rate schedule: linear warm-up, then cosine decay to a floor (as in nanoGPT)."""

from __future__ import annotations

import math

#: A warm-up longer than this fraction of the run's steps gets a warning: the run
#: spends most of its steps below the peak learning rate.
WARMUP_WARNING_FRACTION = 0.5


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


def warmup_warning(total_steps: int, warmup_steps: int, peak_lr: float) -> str | None:
    """Why the warm-up does not fit the run, in words; None when it fits.

    A warm-up of at least ``total_steps`` never reaches the peak learning rate
    (the run ends at ``peak_lr * total_steps / warmup_steps``) and never decays;
    one longer than :data:`WARMUP_WARNING_FRACTION` of the run leaves little
    cosine decay. The suggestion is a warm-up of a tenth of the run.
    """
    if total_steps < 1 or warmup_steps <= WARMUP_WARNING_FRACTION * total_steps:
        return None
    suggestion = f"lower --warmup-steps (to {max(total_steps // 10, 1)}, say) or train longer"
    if warmup_steps >= total_steps:
        reached = peak_lr * total_steps / warmup_steps
        return (
            f"the warm-up ({warmup_steps} steps) is longer than the run ({total_steps} steps): "
            f"the learning rate rises to {reached:.3g} of its peak {peak_lr:.3g} and never "
            f"decays; {suggestion}"
        )
    return (
        f"the warm-up ({warmup_steps} steps) takes {100 * warmup_steps / total_steps:.0f}% of "
        f"the run ({total_steps} steps), leaving {total_steps - warmup_steps} steps of "
        f"cosine decay; {suggestion}"
    )
