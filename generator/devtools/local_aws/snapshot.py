"""A snapshot of the whole endpoint, and going back to it, by forking the endpoint's process.

moto keeps every resource in Python objects that hold locks, threads' state and open files (S3 objects are
spooled temporary files), so its state cannot be copied or pickled faithfully; a fork copies all of it.

``POST /_local_aws/snapshot``: the process serving so far stops serving and keeps its memory as the snapshot
(it *parks*); a child forked from it serves on, from the same state.  ``POST /_local_aws/restore``: the serving
child ends and the parked process forks a new one, which serves from the snapshot again — every resource,
the call log, the faults, the IAM request log as they were when the snapshot was taken.  The parked process
stays the one the endpoint was started as (``LocalAws.start``'s child): its exit code is the serving
child's, and closing its stdin ends both.  One snapshot per endpoint process.

The listening socket is the parked process's and every child's, so no connection is refused while one child
hands over to the next: the kernel queues them until the next child accepts.  The connections the old child
had open are shut down before it answers, so a client's kept-alive connection ends (a client reconnects,
and reaches the new child) rather than reaching a process that no longer serves.  Only the thread that
calls ``fork`` exists in a child (``os.fork``, https://docs.python.org/3/library/os.html#os.fork); the fork is
made by the serving loop's thread, with no request being handled.

What a fork does not copy is shared: S3 objects past moto's key buffer (5 MiB) are temporary files the
snapshot and the children have open together.  moto writes a key's file only when it makes the key
(``FakeKey.__init__``, ``__setstate__``: an overwrite is a new key) and seeks before it reads, so a child never
changes what the snapshot holds (tests/local_aws/test_endpoint.py overwrites and deletes one and restores it).
"""

from __future__ import annotations

import os
import signal
import socket
import socketserver
import sys
import threading
from typing import Any, Callable

from generator.errors import ConfigError

RESTORE_EXIT = 86  # a serving child's exit code that asks the parked process for a new child


class Snapshots:
    """The snapshot state of one server (a werkzeug/socketserver server that serves with ``serve``)."""

    def __init__(self, server: Any):
        self.server = server
        self.before_fork: list[Callable[[], None]] = []   # waits for start-up threads (imports must not be half done)
        self.in_child: list[Callable[[], None]] = []      # restarts what a child needs (the stdin watcher)
        self.restorable = False      # a serving child: a parked process holds the snapshot
        self._connections: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._requested = False
        self._taking: socket.socket | None = None
        self._restoring: socket.socket | None = None
        self._forked = threading.Event()
        self._answered = threading.Event()

    # -- connections (the request handler's setup and finish) ----------------------------------
    def opened(self, conn: socket.socket) -> None:
        with self._lock:
            self._connections.add(conn)

    def closed(self, conn: socket.socket) -> None:
        with self._lock:
            self._connections.discard(conn)
        if conn is self._restoring:
            self._answered.set()

    def _end_others(self, keep: socket.socket | None) -> None:
        """Shut down every open connection but ``keep``: its client sees it end and opens a new one."""
        with self._lock:
            others = [c for c in self._connections if c is not keep]
        for conn in others:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    # -- the control requests (a request handler's thread) ------------------------------------
    def take(self, conn: socket.socket) -> dict[str, Any]:
        if not hasattr(os, "fork"):
            raise ConfigError("snapshots need os.fork, which this platform does not have")
        if self.restorable:
            raise ConfigError("a snapshot was taken already (one per endpoint process); "
                              "POST /_local_aws/restore goes back to it")
        self._requested, self._taking = True, conn
        self.server.shutdown()                  # the serving loop returns, forks (see serve) and parks
        if not self._forked.wait(timeout=60):
            raise ConfigError("the snapshot was not taken within 60 s; see the endpoint's log")
        return {"status": "ok", "parked": os.getpid()}

    def restore(self, conn: socket.socket) -> dict[str, Any]:
        if not self.restorable:
            raise ConfigError("no snapshot to restore: POST /_local_aws/snapshot takes one")
        self._restoring = conn
        self.server.shutdown()                  # accept nothing more here; the next child will
        self._end_others(keep=conn)
        return {"status": "ok", "pid": os.getpid()}

    # -- the serving loop (the main thread) ----------------------------------------------------
    def serve(self, poll_interval: float) -> None:
        """Serve until shut down (or Ctrl-C); a serving child then ends here, the first process returns."""
        while True:
            try:
                # socketserver's loop, not werkzeug's serve_forever: that one closes the listening socket
                socketserver.BaseServer.serve_forever(self.server, poll_interval=poll_interval)
            except KeyboardInterrupt:
                if not self.restorable:
                    raise
            if self._restoring is not None:
                self._answered.wait(timeout=10)   # the restore request's answer is sent
                os._exit(RESTORE_EXIT)
            if self._requested:
                self._park()                      # returns only in a serving child
            elif self.restorable:                 # a child: the parked process's exit handlers are not its own
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(0)
            else:
                return

    def _park(self) -> None:
        for wait in self.before_fork:
            wait()
        child = os.fork()
        if child == 0:
            return self._become_child()
        self._end_others(keep=self._taking)       # that one ends with the snapshot request's answer
        self._forked.set()
        current = [child]
        # SIGTERM is passed on; Ctrl-C in a terminal reaches the child itself (the same process group)
        signal.signal(signal.SIGTERM, lambda *_: os.kill(current[0], signal.SIGTERM))
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        while True:
            _, status = os.waitpid(current[0], 0)
            code = os.waitstatus_to_exitcode(status)
            if code != RESTORE_EXIT:
                raise SystemExit(code if code >= 0 else 128 - code)
            child = os.fork()
            if child == 0:
                return self._become_child()
            current[0] = child

    def _become_child(self) -> None:
        self._lock = threading.Lock()             # a thread of the parent may have held it at the fork
        with self._lock:
            inherited, self._connections = self._connections, set()
        for conn in inherited:                    # the parked process's connections: not ours to serve
            try:
                os.close(conn.detach())
            except OSError:
                pass
        self._requested, self._taking, self._restoring, self.restorable = False, None, None, True
        self._forked, self._answered = threading.Event(), threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=self.server.shutdown, daemon=True).start())
        signal.signal(signal.SIGINT, signal.default_int_handler)
        for start in self.in_child:
            start()
