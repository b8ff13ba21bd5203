"""Training the tagger: streaming data, AdamW with warm-up and cosine decay, resumable runs.

``jetscale train --data PATH --out RUN_DIR ...`` or :func:`jetscale.train.train`.
Needs the ``ml`` extra (torch).
"""

from __future__ import annotations

from jetscale._optional import require

require("torch", extra="ml", purpose="jetscale.train")

from jetscale.train.config import TrainConfig  # noqa: E402
from jetscale.train.loop import train  # noqa: E402

__all__ = ["TrainConfig", "train"]
