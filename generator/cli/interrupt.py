"""Ctrl-C for long commands: the first one winds the work down, the second ends the process at once.

``with first_stops("publishing") as stop:`` installs a SIGINT handler for the block.  The first SIGINT
sets ``stop``: the command starts no new work, lets the calls under way finish, reports what was and was
not done, and ends with the exit code of an interrupted command (130) and its next step.  The handler
then puts back the operating system's default action for SIGINT, so a second Ctrl-C terminates the
process at once, without a Python traceback.
"""

from __future__ import annotations

import signal
import sys
import threading
from contextlib import contextmanager
from typing import Iterator


@contextmanager
def first_stops(what: str) -> Iterator[threading.Event]:
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop   # signal handlers can only be set in the main thread; nothing to catch elsewhere
        return

    def handler(_signum, _frame) -> None:
        stop.set()
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        print(f"hipaa-catalog: interrupted: {what} stops after the calls under way (Ctrl-C again to quit at once)",
              file=sys.stderr, flush=True)

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield stop
    finally:
        signal.signal(signal.SIGINT, previous)
