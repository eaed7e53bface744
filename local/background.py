"""A daemon thread the local runtime starts and stops: the queue pollers and the schedules."""

from __future__ import annotations

import threading
from typing import Self


class BackgroundLoop:
    """Runs ``_run`` on its own thread until ``stop``; ``_run`` watches ``self._stop``."""

    def __init__(self, name: str) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        raise NotImplementedError
