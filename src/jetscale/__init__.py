"""jetscale: constituent-level boosted-jet tagging for coffea analyses.

The package is layered, from the bottom up; each layer imports only layers below
it (``tests/test_architecture.py`` checks it):

1. :mod:`jetscale.schema` (JetClass branches, the jet layout), :mod:`jetscale.phase_space`
   (the jets a model was trained on); ``_version``, ``_optional``;
2. :mod:`jetscale.task` (a tagger's classes), :mod:`jetscale.provenance` (version,
   git revision, command line and seeds of every output);
3. :mod:`jetscale.io` (JetClass ROOT, parquet, NanoAOD fat jets and truth, atomic
   writes), :mod:`jetscale.dask_client`;
4. :mod:`jetscale.features` (the registry and the generated kernel),
   :mod:`jetscale.generate` (Pythia 8 + FastJet + detector cards),
   :mod:`jetscale.metrics` (the tagging maths);
5. :mod:`jetscale.sidecar` (``preprocess.json``), :mod:`jetscale.histograms` (hist
   layouts and writers, no matplotlib), :mod:`jetscale.nn` (torch networks),
   :mod:`jetscale.shipped` (the shipped taggers);
6. :mod:`jetscale.train`, :mod:`jetscale.inference` (ONNX Runtime), :mod:`jetscale.runner`
   (coffea's Runner);
7. :mod:`jetscale.export`, :mod:`jetscale.processors` (coffea processors),
   :mod:`jetscale.scaling` (sweeps and scaling-law fits), :mod:`jetscale.transfer`
   (foundation models);
8. :mod:`jetscale.plotting` (matplotlib and mplhep, imported when a figure is drawn);
9. :mod:`jetscale.jobs` (the work behind each command);
10. :mod:`jetscale.commands` (one module per subcommand) and :mod:`jetscale.cli`.
"""

from __future__ import annotations

from jetscale._version import __version__

__all__ = ["__version__"]
