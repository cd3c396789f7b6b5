"""What every stand-in server shares: started and stopped by a ``with`` block."""

from __future__ import annotations

from typing import Any, Self


class Serving:
    """A server with ``start()`` and ``stop()``; ``with server:`` starts it and always stops it."""

    def start(self) -> Any:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
