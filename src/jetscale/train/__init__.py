"""Training the tagger: streaming data, AdamW with warm-up and cosine decay, resumable runs.

``jetscale train --data PATH --out RUN_DIR ...`` or :func:`jetscale.train.train`.
Needs the ``ml`` extra (torch).
"""

from __future__ import annotations

from jetscale.train.config import TrainConfig
from jetscale.train.loop import train

__all__ = ["TrainConfig", "train"]
