"""Progress lines with an estimate of the time left, for the slow passes of ``predict``.

A confidence pass over 500 prompts takes a minute on SmolLM2 and hours for an 8B model on a
CPU; the gradient pass of CoS-Low takes tens of seconds to minutes. A person waiting needs to
know that it moves and roughly when it ends, in the terminal (stderr) and, for runs left
alone, in a log file. The estimate assumes the remaining work goes at the rate seen so far.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import TextIO


def _clock(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else f"{m}m{s:02d}s" if m else f"{s}s"


class Progress:
    """``update(done, total)`` prints ``what: done/total unit (pct), elapsed, about T left``.

    The clock starts at the first update (not when the object is made: loading the model
    first would otherwise count as work done slowly). Lines are written at most every
    ``every`` seconds (and always at the start and the end), to ``stream`` and appended to
    ``log`` when given.
    """

    def __init__(
        self,
        what: str,
        unit: str = "",
        *,
        log: str | os.PathLike[str] | None = None,
        stream: TextIO | None = None,
        every: float = 10.0,
    ) -> None:
        self.what, self.unit = what, unit
        self.log = Path(log) if log else None
        self.stream = stream if stream is not None else sys.stderr
        self.every = every
        self.start: float | None = None
        self._last = -float("inf")

    def line(self, done: float, total: float) -> str:
        if self.start is None:
            self.start = time.monotonic()
        elapsed = time.monotonic() - self.start
        frac = done / total if total else 1.0
        unit = f" {self.unit}" if self.unit else ""
        text = f"{self.what}: {done:g}/{total:g}{unit} ({frac:.0%}), {_clock(elapsed)} elapsed"
        if done >= total:
            return f"{text}, done"
        if done > 0 and elapsed >= 1.0:  # no rate to extrapolate from before a second has passed
            text += f", about {_clock(elapsed / frac * (1.0 - frac))} left"
        return text

    def message(self, text: str) -> None:
        """Write one line to the stream and the log."""
        print(f"dataeff: {text}", file=self.stream, flush=True)
        if self.log is not None:
            self.log.parent.mkdir(parents=True, exist_ok=True)
            with self.log.open("a", encoding="utf-8") as fh:
                fh.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {text}\n")

    def update(self, done: float, total: float) -> None:
        if self.start is None:
            self.start = time.monotonic()
        now = time.monotonic()
        if done < total and now - self._last < self.every:
            return
        self._last = now
        self.message(self.line(done, total))
