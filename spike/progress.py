"""Progress reports for long runs, written to a logger (stpipe shows them in its log)."""

import time

__all__ = ["Progress"]


class Progress:
    """Log ``done/total`` with elapsed and remaining time at every tenth of a long run.

    Parameters
    ----------
    total : int
        Number of items.
    what : str
        What is counted (``"sources drizzled"``).
    logger : logging.Logger
        Where to report.
    minimum : int, optional
        Runs with fewer items are not reported (their per-item logs suffice).
    """

    def __init__(self, total, what, logger, *, minimum=20):
        self.total, self.what, self.log = int(total), what, logger
        self.enabled = self.total >= minimum
        self.start = time.perf_counter()
        self._next = 1

    def update(self, done):
        """Report when ``done`` crosses the next tenth of ``total``."""
        if not self.enabled or done * 10 < self._next * self.total:
            return
        while done * 10 >= self._next * self.total:
            self._next += 1
        elapsed = time.perf_counter() - self.start
        left = elapsed * (self.total - done) / done if done else float("nan")
        self.log.info("Progress: %d/%d %s (%.0f%%), %.1f s elapsed, about %.1f s left",
                      done, self.total, self.what, 100.0 * done / self.total, elapsed, left)
