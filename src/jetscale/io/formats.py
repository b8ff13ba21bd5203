"""Which reader a file needs, decided from one open of the file."""

from __future__ import annotations

import os

from jetscale.io.nanoaod import nanoaod_format_of_branches


def detect_format(path: str | os.PathLike[str]) -> str | None:
    """``"jetclass"``, ``"pfnano"`` or ``"nanoaod_v15"`` from one open of ``path``.

    ``None`` for a file that is unreadable or holds neither a JetClass ``tree`` nor
    a NanoAOD ``Events`` tree: that is not an error here, because a coffea run
    skips such a file and names it with the reason (:func:`jetscale.runner.diagnose`).
    A NanoAOD file without fat-jet PF candidates raises
    :class:`~jetscale.io.errors.JetFileError`: no tagger can be fed from it.
    """
    import uproot

    try:
        with uproot.open(path) as file:
            if "tree" in file and "part_px" in file["tree"]:
                return "jetclass"
            if "Events" not in file:
                return None
            branches = file["Events"].keys()
    except Exception:  # any unreadable file: skipped and named by the runner
        return None
    return nanoaod_format_of_branches(branches, str(path))
