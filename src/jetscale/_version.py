"""The version of jetscale, defined here once (``pyproject.toml`` reads it at build time)."""

from __future__ import annotations

__version__ = "0.1.0"
