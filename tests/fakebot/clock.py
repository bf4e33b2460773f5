"""The fake server's wall clock.

Telegram stamps every message with a Unix ``date`` and applies time-based rules (a message
can only be deleted for everyone during 48 hours, flood limits are counted per minute).  The
fake takes all of those readings from one :class:`FakeClock`, so a test can jump forward in
time (``fake.advance(49 * 3600)``) instead of sleeping.
"""

from __future__ import annotations

import time

__all__ = ["FakeClock"]


class FakeClock:
    """A wall clock that follows real time but can be pushed forward.

    ``time()`` returns ``time.time()`` plus an offset that only grows through :meth:`advance`
    (or is set once through ``start``).  The clock never goes backwards, so it is safe to use
    for sliding windows.
    """

    def __init__(self, start: float | None = None) -> None:
        """Create a clock.

        Args:
            start: the Unix time the clock should read right now; ``None`` means real time.
        """
        self._offset: float = 0.0 if start is None else start - time.time()

    @property
    def offset(self) -> float:
        """Seconds the clock is ahead of real time."""
        return self._offset

    def time(self) -> float:
        """Current fake Unix time as a float."""
        return time.time() + self._offset

    def now(self) -> int:
        """Current fake Unix time in whole seconds (what Telegram puts in ``date``)."""
        return int(self.time())

    def advance(self, seconds: float) -> float:
        """Move the clock ``seconds`` forward and return the new fake time.

        Raises:
            ValueError: if ``seconds`` is negative (the clock never goes backwards).
        """
        if seconds < 0:
            raise ValueError("FakeClock cannot go backwards")
        self._offset += seconds
        return self.time()

    def __repr__(self) -> str:
        return f"FakeClock(offset={self._offset:+.1f}s)"
