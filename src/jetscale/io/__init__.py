"""Readers and writers for jet files: JetClass ROOT, parquet (and NanoAOD in a later layer)."""

from __future__ import annotations

from jetscale.io.errors import JetFileError
from jetscale.io.jetclass import iterate_jetclass, jets_from_branches, read_jetclass, write_jetclass
from jetscale.io.parquet import iterate_parquet, read_parquet, write_parquet
from jetscale.io.paths import expand_paths
from jetscale.io.quality import QualityReport, clean_jets
from jetscale.io.reader import iterate_jets, read_jets

__all__ = [
    "JetFileError",
    "QualityReport",
    "clean_jets",
    "expand_paths",
    "iterate_jetclass",
    "iterate_jets",
    "iterate_parquet",
    "jets_from_branches",
    "read_jetclass",
    "read_jets",
    "read_parquet",
    "write_jetclass",
    "write_parquet",
]
