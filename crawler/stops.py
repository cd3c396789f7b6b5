"""How a crawl process ends when it is told to, or when its launcher is gone.

Scrapy's own stop goes through the reactor, so a reactor busy with a long page check used to
delay it for minutes, and a crawl whose launcher died lived on and published. Here nothing that
ends a crawl needs the reactor:

- The launcher's death kills the crawl at once: ``PR_SET_PDEATHSIG`` with SIGKILL, delivered by
  the kernel whatever the process is doing.
- The first SIGTERM stops it gracefully (Scrapy closes the sites it has in hand, unpublished),
  with a kernel deadline: SIGALRM, left at its default action, ends it after
  ``STOP_GRACE_SECONDS`` if the reactor never gets round to it. A second SIGTERM, or a SIGINT,
  ends it at once.
- A witness, a small process of its own (``crawler.witness``), records the run incomplete the
  moment it hears of a stop, and when the crawl process ends without having closed its run,
  however it ended (killed, crashed, or gone with its launcher). It needs nothing from the
  crawl process but the end of a pipe.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from types import FrameType
from typing import TYPE_CHECKING

from crawler.witness import CLOSED

if TYPE_CHECKING:
    from crawler.results import ResultWriter

log = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1
STOP_GRACE_SECONDS = 20  # a graceful stop that takes longer ends at once

__all__ = ["CLOSED", "STOP_GRACE_SECONDS", "StopHandler", "Witness", "die_with_parent"]


class Witness:
    """The crawl's end of the pipe to its witness (``crawler.witness``)."""

    def __init__(self, process: subprocess.Popen[bytes], fd: int) -> None:
        self.process = process
        self._fd = fd

    @classmethod
    def start(cls, run_id: int, parent_pid: int) -> Witness:
        """Start the witness; it reads the configuration from the same environment."""
        read_fd, write_fd = os.pipe()  # neither end is inherited by other children
        process = subprocess.Popen(
            [
                sys.executable, "-m", "crawler.witness", "--run-id", str(run_id),
                "--crawl-pid", str(os.getpid()), "--parent-pid", str(parent_pid),
            ],
            stdin=read_fd,
        )
        os.close(read_fd)
        return cls(process, write_fd)

    def tell(self, message: str) -> None:
        """One line to the witness; safe in a signal handler (a single write to a pipe)."""
        # If the witness is gone, the launcher still records the run when the crawl ends.
        with contextlib.suppress(OSError):
            os.write(self._fd, message.encode("utf-8") + b"\n")


def die_with_parent(parent_pid: int) -> bool:
    """Have the kernel SIGKILL this process when its launcher exits; False if it already has.

    The signal comes when the thread that started the crawl exits: launch it from a thread
    that lives as long as the crawl (the monitor and the CLI use their main thread).
    """
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL) != 0:
            log.warning("prctl(PR_SET_PDEATHSIG) failed: errno %d", ctypes.get_errno())
    except OSError as exc:
        log.warning("cannot ask to die with the launcher: %s", exc)
    # The launcher may have died before the request above: then nobody would send the signal.
    return os.getppid() == parent_pid


class StopHandler:
    """SIGTERM and SIGINT for the crawl process, none of it through the reactor.

    ``graceful`` is what Scrapy should do on the first SIGTERM; it is called from the signal
    handler, so it must only hand the work to the reactor (``reactor.callFromThread``).
    """

    def __init__(self, witness: Witness) -> None:
        self.witness = witness
        self.writer: ResultWriter | None = None
        self.graceful: Callable[[], None] | None = None
        self.stopping = False

    def install(self) -> None:
        signal.signal(signal.SIGALRM, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        reason = f"stopped: {signal.Signals(signum).name}"
        if self.writer is not None:
            self.writer.stop(reason)  # before anything else: nothing is published from here on
        self.witness.tell(reason)
        if signum == signal.SIGTERM and not self.stopping and self.graceful is not None:
            self.stopping = True
            signal.alarm(STOP_GRACE_SECONDS)
            self.graceful()
            return
        # A second stop, a SIGINT, or a stop before the crawl started: end now. The default
        # action of the signal ends the process, and its exit status names the signal.
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)
