"""jetscale: constituent-level boosted-jet tagging for coffea analyses.

The package is layered; each layer imports only the ones below it (a test checks it):

* data: :mod:`jetscale.schema` (JetClass branches, the jet layout), :mod:`jetscale.io`
  (JetClass ROOT, parquet, NanoAOD fat jets), :mod:`jetscale.generate` (Pythia 8 + FastJet
  + detector cards);
* inputs and outputs of taggers: :mod:`jetscale.features` (the registry and the fused
  kernel), :mod:`jetscale.sidecar` (``preprocess.json``), :mod:`jetscale.metrics` (the
  tagging maths), :mod:`jetscale.histograms` (hist layouts and writers, no matplotlib);
* models: :mod:`jetscale.nn` (torch networks), :mod:`jetscale.train`, :mod:`jetscale.export`,
  :mod:`jetscale.inference` (ONNX Runtime), :mod:`jetscale.shipped` (the shipped taggers),
  :mod:`jetscale.processors` and :mod:`jetscale.runner` (coffea), :mod:`jetscale.scaling`;
* figures: :mod:`jetscale.plotting` (matplotlib and mplhep, imported when a figure is drawn);
* :mod:`jetscale.jobs` (the work behind each command) and :mod:`jetscale.commands`
  (the ``jetscale`` command line, one module per subcommand).
"""

from __future__ import annotations

from jetscale._version import __version__

__all__ = ["__version__"]
