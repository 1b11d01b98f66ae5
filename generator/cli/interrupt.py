"""Ctrl-C for long commands: the first one winds the work down, the second ends the process at once.

``with first_stops("publishing") as stop:`` installs a SIGINT handler for the block.  The first SIGINT
sets ``stop``: the command starts no new work, lets the calls under way finish, reports what was and was
not done, and ends with the exit code of an interrupted command (130) and its next step.  The handler
then puts back the operating system's default action for SIGINT, so a second Ctrl-C terminates the
process at once, without a Python traceback.

With ``grace`` (seconds), winding down is bounded: when the block is still running that long after the
first Ctrl-C (a call under way that does not answer), the process ends with exit code 130 after printing
``last_words()``, which says what may have been done and how to find out.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from contextlib import contextmanager
from typing import Callable, Iterator

from generator.errors import Interrupted

GRACE = 10.0   # seconds the calls under way get to finish after the first Ctrl-C (developer and admin commands)


class Stop(threading.Event):
    """The event a first Ctrl-C sets, safe to request from a signal handler.

    The handler runs in the main thread between two bytecodes, possibly while that thread holds the event's
    lock inside ``wait()``; ``set()`` there would wait for that lock forever.  ``request()`` takes no lock: it
    marks the stop at once (``is_set()`` is true from then on, so no new work starts) and leaves ``set()``,
    which wakes the waiters, to a thread of its own, which gets the lock once the main thread lets it go."""

    requested = False

    def request(self) -> None:
        self.requested = True
        threading.Thread(target=self.set, name="interrupt-stop", daemon=True).start()

    def is_set(self) -> bool:
        return self.requested or super().is_set()


@contextmanager
def first_stops(what: str, *, grace: float | None = None,
                last_words: Callable[[], str] | None = None) -> Iterator[Stop]:
    stop = Stop()
    if threading.current_thread() is not threading.main_thread():
        yield stop   # signal handlers can only be set in the main thread; nothing to catch elsewhere
        return
    done = threading.Event()

    def overrun() -> None:
        if not done.wait(grace):
            words = last_words() if last_words else "run the same command again"
            print(f"hipaa-catalog: the call under way did not end within {grace:.0f} s; quitting: {words}",
                  file=sys.stderr, flush=True)
            os._exit(Interrupted.exit_code)

    def handler(_signum, _frame) -> None:
        stop.request()
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        print(f"hipaa-catalog: interrupted: {what} stops after the calls under way (Ctrl-C again to quit at once)",
              file=sys.stderr, flush=True)
        if grace is not None:
            threading.Thread(target=overrun, name="interrupt-grace", daemon=True).start()

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield stop
    finally:
        done.set()
        signal.signal(signal.SIGINT, previous)
