"""Optional dependencies: one check that names the extra to install.

jetscale's core (reading files, building features, filling histograms) needs no
heavy stack; each optional one is declared by the extra that installs it and
checked where it is used, so a missing one fails with the command that fixes it
instead of a bare ``No module named ...``.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable, Mapping
from types import ModuleType
from typing import Any


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


def lazy_attributes(
    package: str, table: Mapping[str, str], requires: tuple[str, str] | None = None
) -> Callable[[str], Any]:
    """A module ``__getattr__`` (PEP 562) that imports ``package.<table[name]>`` on first use.

    ``requires`` is ``(module, extra)``: checked with :func:`require` before the import.
    """

    def __getattr__(name: str) -> Any:
        if name in table:
            if requires is not None:
                require(requires[0], extra=requires[1], purpose=f"{package}.{name}")
            return getattr(importlib.import_module(f"{package}.{table[name]}"), name)
        msg = f"module {package!r} has no attribute {name!r}"
        raise AttributeError(msg)

    return __getattr__
