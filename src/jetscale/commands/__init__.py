"""The subcommands of ``jetscale``, one module each.

Every module has a one-line ``HELP``, ``add_arguments(parser)`` declaring its
options, and ``run(args) -> int`` that calls the library (or a job in
:mod:`jetscale.jobs`) and formats the result for the terminal. Modules import
their heavy dependencies inside ``run``, so ``jetscale --help`` stays fast and a
command works with only the extras it needs.
"""

from __future__ import annotations

#: The subcommands (each the name of its module, ``-`` for ``_``), in the order ``jetscale --help`` lists them.
COMMANDS: tuple[str, ...] = (
    "run",
    "generate",
    "features",
    "train",
    "pretrain",
    "finetune",
    "export",
    "tag",
    "scan",
    "fit",
    "transfer-study",
    "cka",
    "robustness",
    "cards",
)
