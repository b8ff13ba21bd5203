"""Optional dependencies: one check that names the extra to install.

jetscale's core (reading files, building features, filling histograms) needs no
heavy stack; each optional one is declared by the extra that installs it and
checked where it is used, so a missing one fails with the command that fixes it
instead of a bare ``No module named ...``.
"""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType


class MissingDependencyError(ModuleNotFoundError):
    """An optional dependency is not installed; the message names the extra."""


def require(*modules: str, extra: str, purpose: str) -> None:
    """Raise :class:`MissingDependencyError` unless every top-level module can be imported.

    Only looks the modules up (no import), so the check is free where the module
    is imported later or lazily. ``extra`` is the pyproject extra that installs
    them; ``purpose`` names what needs them, for the message.
    """
    for module in modules:
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):  # a broken parent package, or None in sys.modules
            found = False
        if not found:
            msg = (
                f"{purpose} needs {module!r}, which is not installed: "
                f"pip install 'jetscale[{extra}]'"
            )
            raise MissingDependencyError(msg, name=module)


def import_optional(module: str, *, extra: str, purpose: str) -> ModuleType:
    """``importlib.import_module(module)``, or :class:`MissingDependencyError` naming ``extra``."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        msg = f"{purpose} needs {module!r}, which is not installed: pip install 'jetscale[{extra}]'"
        raise MissingDependencyError(msg, name=module) from err
