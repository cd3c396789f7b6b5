"""The crawl's witness: ``python -m crawler.witness --run-id N --crawl-pid P --parent-pid Q``.

Started by the crawl process (``crawler.stops.Witness``) with the read end of a pipe as its
standard input. It records the run incomplete the moment the crawl tells it of a stop, and when
the pipe ends (the crawl process is gone, however it went: killed, crashed, or with its
launcher) unless the crawl said it had closed its run itself. It waits in a few megabytes:
the database code is imported only when there is something to record.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from pathlib import Path

log = logging.getLogger("crawler.witness")

CLOSED = "closed"  # the crawl closed its run itself: nothing to record
RECORD_SECONDS = 60  # a database that does not answer in this time is given up on


class Recorder:
    """Records the run incomplete, connecting to the database on first use."""

    def __init__(self, run_id: int, crawl_pid: int) -> None:
        self.run_id = run_id
        self.crawl_pid = crawl_pid

    def __call__(self, reason: str) -> None:
        # Imported here: until now the witness had no need of them (see the module docstring).
        from datetime import UTC, datetime  # noqa: PLC0415

        from badgewatch.config import load_config  # noqa: PLC0415
        from crawler.results import stop_run  # noqa: PLC0415
        from store.db import make_engine, session_factory, transaction  # noqa: PLC0415

        signal.alarm(RECORD_SECONDS)  # SIGALRM's default action ends a witness that hangs
        engine = make_engine(load_config().database.url)
        try:
            with transaction(session_factory(engine)) as session:
                now = datetime.now(UTC)
                if stop_run(session, self.run_id, now=now, reason=reason, pid=self.crawl_pid):
                    log.warning("run %s recorded incomplete: %s", self.run_id, reason)
        finally:
            engine.dispose()
            signal.alarm(0)


def how_it_ended(parent_pid: int) -> str:
    """Why a crawl ended without a word: with its launcher (gone, or dead and not yet reaped
    by its own parent), or on its own."""
    try:
        stat = Path(f"/proc/{parent_pid}/stat").read_text()
    except FileNotFoundError:
        return "ended with its launching process"
    except OSError:
        return "crawl process died"
    state = stat.rsplit(")", 1)[-1].split()[:1]
    return "ended with its launching process" if state in (["Z"], ["X"]) else "crawl process died"


def watch(source: int, record: Recorder, parent_pid: int) -> None:
    """Read the crawl's lines until the pipe ends; record each stop, then the end itself."""
    closed = False
    pending = b""
    while chunk := os.read(source, 4096):
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            message = line.decode("utf-8", "replace").strip()
            if message == CLOSED:
                closed = True
            elif message:
                record(message)
    if not closed:
        record(how_it_ended(parent_pid))


def main(argv: list[str] | None = None) -> int:
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        # A stop sent to the whole group (Ctrl-C, systemd, timeout) reaches the witness too:
        # it must outlive the crawl to record its end, and ends by itself right after.
        signal.signal(signum, signal.SIG_IGN)
    signal.signal(signal.SIGALRM, signal.SIG_DFL)
    parser = argparse.ArgumentParser(prog="python -m crawler.witness")
    parser.add_argument("--run-id", type=int, required=True)
    parser.add_argument("--crawl-pid", type=int, required=True)
    parser.add_argument("--parent-pid", type=int, required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s [%(name)s] %(levelname)s: %(message)s"
    )
    watch(sys.stdin.fileno(), Recorder(args.run_id, args.crawl_pid), args.parent_pid)
    return 0


if __name__ == "__main__":
    sys.exit(main())
