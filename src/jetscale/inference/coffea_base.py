"""coffea's ``ml_tools`` wrapper base classes, loaded without importing torch.

``coffea.ml_tools/__init__`` imports every wrapper it has, and its TorchScript
wrapper imports torch whenever torch is installed: about 1.6 s and hundreds of MB
in every coffea worker, though the ONNX tagger needs only the base classes of
``coffea.ml_tools.helper``. That module imports nothing heavy, so it is loaded
here from its file under its own name: a later ``import coffea.ml_tools`` finds it
in ``sys.modules``, and the classes are the very objects coffea uses.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from jetscale._optional import require

HELPER = "coffea.ml_tools.helper"


def coffea_ml_helper() -> ModuleType:
    """The ``coffea.ml_tools.helper`` module (``numpy_call_wrapper``, ``nonserializable_attribute``)."""
    loaded = sys.modules.get(HELPER)
    if loaded is not None:
        return loaded
    require("coffea", extra="tag", purpose="jetscale.inference (coffea's ml_tools wrapper)")
    import coffea

    path = Path(coffea.__file__).parent / "ml_tools" / "helper.py"
    spec = importlib.util.spec_from_file_location(HELPER, path)
    if spec is None or spec.loader is None:  # pragma: no cover - a broken coffea install
        msg = f"cannot load {HELPER} from {path}"
        raise ImportError(msg)
    module = importlib.util.module_from_spec(spec)
    sys.modules[HELPER] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[HELPER]
        raise
    return module
