"""Progress of the bootstrap refits one at a time (``method="scipy"``), which take minutes.

Lines go to the ``jetscale.progress.fit`` logger at INFO, one per
:data:`PROGRESS_EVERY_S` at most; ``jetscale fit`` shows them on stderr
(``--no-progress`` hides them), a library user with ``logging`` at INFO.
"""

from __future__ import annotations

import logging
import time

#: The logger of the fits' progress lines.
progress_log = logging.getLogger("jetscale.progress.fit")
#: Seconds between two lines of one fit's refits.
PROGRESS_EVERY_S = 10.0


class RefitProgress:
    """Counts the refits of one fit and reports them every :data:`PROGRESS_EVERY_S`.

    ``what`` names the fit in the line, such as ``"L(N, D) on 53 runs"``.
    """

    def __init__(self, what: str, total: int, every_s: float = PROGRESS_EVERY_S) -> None:
        self.what, self.total, self.every_s = what, total, every_s
        self.started = self.last = time.perf_counter()

    def done(self, count: int) -> None:
        """``count`` refits are done; a line if the last was long enough ago."""
        now = time.perf_counter()
        if count < 1 or count >= self.total or now - self.last < self.every_s:
            return
        self.last = now
        remaining = (now - self.started) / count * (self.total - count)
        progress_log.info(
            "%s: bootstrap refit %d/%d, %.0f s elapsed, ETA %.0f s",
            self.what,
            count,
            self.total,
            now - self.started,
            remaining,
        )
