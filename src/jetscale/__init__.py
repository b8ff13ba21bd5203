"""jetscale: constituent-level boosted-jet tagging for coffea analyses.

The package is layered so that every later part stands on the data layer:

* :mod:`jetscale.schema` -- the JetClass branch names and the internal jet layout,
* :mod:`jetscale.io` -- chunked readers for JetClass ROOT and parquet files,
* :mod:`jetscale.generate` -- JetClass-format jets from Pythia 8 + FastJet + a detector card,
* :mod:`jetscale.features` -- the declarative feature registry and ``build_features``.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
