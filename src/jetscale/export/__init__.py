"""ONNX export of trained runs, with a weaver-core style ``preprocess.json`` and a model card.

``jetscale export RUN_DIR --out model.onnx`` or :func:`export_run`; :func:`check_parity`
compares ONNX Runtime with torch. ``--with-embedding`` (``with_embedding=True``) adds
the jet embedding output (:mod:`jetscale.export.embedding`). Needs the ``ml`` extra.
"""

from __future__ import annotations

from jetscale._optional import require

require("torch", "onnx", "onnxruntime", extra="ml", purpose="jetscale.export")

from jetscale.export.embedding import logits_and_embedding  # noqa: E402
from jetscale.export.onnx_export import check_parity, export_run, parity_differences  # noqa: E402
from jetscale.sidecar import preprocess_json  # noqa: E402

__all__ = [
    "check_parity",
    "export_run",
    "logits_and_embedding",
    "parity_differences",
    "preprocess_json",
]
