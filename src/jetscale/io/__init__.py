"""Readers and writers for jet files: JetClass ROOT, parquet, and CMS NanoAOD fat jets."""

from __future__ import annotations

from jetscale.io.errors import JetFileError
from jetscale.io.jetclass import iterate_jetclass, jets_from_branches, read_jetclass, write_jetclass
from jetscale.io.nanoaod import (
    NANOAOD_FORMATS,
    FatJetSelection,
    available_constituent_fields,
    detect_nanoaod_format,
    fatjets_from_nanoaod,
    jet_id_available,
    nanoaod_format_of_file,
)
from jetscale.io.parquet import iterate_parquet, read_parquet, write_parquet
from jetscale.io.paths import expand_paths
from jetscale.io.quality import QualityReport, clean_jets
from jetscale.io.reader import iterate_jets, read_jets

__all__ = [
    "NANOAOD_FORMATS",
    "FatJetSelection",
    "JetFileError",
    "QualityReport",
    "available_constituent_fields",
    "clean_jets",
    "detect_nanoaod_format",
    "expand_paths",
    "fatjets_from_nanoaod",
    "iterate_jetclass",
    "iterate_jets",
    "iterate_parquet",
    "jet_id_available",
    "jets_from_branches",
    "nanoaod_format_of_file",
    "read_jetclass",
    "read_jets",
    "read_parquet",
    "write_jetclass",
    "write_parquet",
]
