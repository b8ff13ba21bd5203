"""Joining streamed chunks for the small-sample ``read_*`` conveniences."""

from __future__ import annotations

from collections.abc import Iterable

import awkward as ak

from jetscale.io.errors import JetFileError


def concatenate_chunks(chunks: Iterable[ak.Array], source: object) -> ak.Array:
    """All chunks as one array; a clear error (not an IndexError) when there are none."""
    collected = list(chunks)
    if not collected:
        raise JetFileError(source, "no jets in the input (empty tree or all jets dropped)")
    return ak.concatenate(collected) if len(collected) > 1 else collected[0]
