"""A progress bar for the CLI's bulk commands: ``\\r[########        ] 3/8`` on stderr.

Drawn only when the stream is a terminal, so pipes, logs and ``--output json`` see nothing of it.
"""

from __future__ import annotations

import sys
from typing import TextIO


class ProgressBar:
    def __init__(self, total: int, *, stream: TextIO | None = None, width: int = 20) -> None:
        self._stream = stream if stream is not None else sys.stderr
        self._total = max(total, 0)
        self._width = width
        self._done = 0
        self._shown = self._stream.isatty()

    def advance(self, steps: int = 1) -> None:
        self._done += steps
        self._total = max(self._total, self._done)  # a total that was an estimate (a queue's depth) grows
        self._draw()

    def finish(self) -> None:
        if self._shown:
            self._draw()
            self._stream.write("\n")
            self._stream.flush()

    def _draw(self) -> None:
        if not self._shown:
            return
        filled = self._width * self._done // self._total if self._total else self._width
        self._stream.write(f"\r[{'#' * filled}{' ' * (self._width - filled)}] {self._done}/{self._total}")
        self._stream.flush()
