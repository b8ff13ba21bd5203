"""Turn what a user types (paths, globs, directories, file lists) into a list of files."""

from __future__ import annotations

import glob
import os
from collections.abc import Iterable
from pathlib import Path

from jetscale.io.errors import JetFileError

#: Suffixes jetscale can read as jet files.
JET_FILE_SUFFIXES = (".root", ".parquet")

PathLike = str | os.PathLike[str]


def expand_paths(spec: PathLike | Iterable[PathLike]) -> list[Path]:
    """Expand paths, globs, directories and ``.txt`` file lists into existing files.

    * a glob (``data/*.root``) expands in sorted order, so chunks are reproducible;
    * a directory expands to its ``.root`` and ``.parquet`` files, sorted;
    * a ``.txt`` file lists one path (or glob) per line, ``#`` starts a comment;
    * an iterable is expanded element by element, keeping order.

    Raises :class:`JetFileError` naming the first entry that matches nothing.
    """
    if isinstance(spec, str | os.PathLike):
        specs: list[PathLike] = [spec]
    else:
        specs = list(spec)
    files: list[Path] = []
    for item in specs:
        files.extend(_expand_one(item))
    if not files:
        raise JetFileError(specs, "no input files given")
    return files


def _expand_one(item: PathLike) -> list[Path]:
    text = os.fspath(item)
    if any(ch in text for ch in "*?["):
        # glob.glob, not Path.glob: user patterns may be absolute (/data/*.root)
        matches = sorted(Path(m) for m in glob.glob(text))  # noqa: PTH207
        if not matches:
            raise JetFileError(text, "glob matches no files")
        return matches
    path = Path(text)
    if path.is_dir():
        matches = sorted(p for p in path.iterdir() if p.suffix in JET_FILE_SUFFIXES)
        if not matches:
            raise JetFileError(path, "directory holds no .root or .parquet files")
        return matches
    if not path.exists():
        raise JetFileError(path, "file does not exist")
    if path.suffix == ".txt":
        out: list[Path] = []
        for line in path.read_text().splitlines():
            entry = line.split("#", 1)[0].strip()
            if entry:
                # Relative entries are relative to the list file, like weaver-core file lists.
                resolved = entry if Path(entry).is_absolute() else str(path.parent / entry)
                out.extend(_expand_one(resolved))
        return out
    return [path]
