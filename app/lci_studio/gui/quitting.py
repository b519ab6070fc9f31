"""How `lci-studio` ends: Ctrl-C closes the window as its close button does, and a job that
can't be interrupted doesn't keep the process alive or make Qt abort it.

Python runs a signal handler only when the interpreter gets control, and inside `app.exec()` it
may not for a long time; so the signal is also written to a socket (`signal.set_wakeup_fd`) that a
QSocketNotifier watches, which wakes the event loop at once. The window then closes through its
normal path (settings saved, worker cancelled). Before there is a window (Qt and torch take
seconds to import) a Ctrl-C is only noted, and `main` returns before opening the window. Exit
status 130 after Ctrl-C, as `lci` gives: a script sees the program was interrupted, not finished.

A process started with SIGINT ignored (a shell does that for `lci-studio … &` without job control)
keeps ignoring it, as Python itself and `lci` do: that Ctrl-C was meant for the foreground.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
import threading

INTERRUPTED = 130  # 128 + SIGINT, the shell's status for a command stopped by Ctrl-C

_noted = threading.Event()  # a Ctrl-C came while Qt and torch were still being imported
# read when this module is imported, before any handler of ours replaces the inherited disposition
_IGNORED_AT_START = signal.getsignal(signal.SIGINT) == signal.SIG_IGN


def note_ctrl_c() -> None:
    """From the first instant, a Ctrl-C is noted instead of raised: a KeyboardInterrupt inside PySide6's
    import makes shiboken abort the process ("Fatal Python error: libshiboken/signature"); `main` acts
    on it as soon as Qt is up (exit 130)."""
    if not _IGNORED_AT_START:
        signal.signal(signal.SIGINT, lambda *_: _noted.set())


def raise_on_ctrl_c() -> None:
    """Back to Python's KeyboardInterrupt (for work without a window); raises it for a Ctrl-C noted so far."""
    if _IGNORED_AT_START:
        return
    signal.signal(signal.SIGINT, signal.default_int_handler)
    if _noted.is_set():
        raise KeyboardInterrupt


class CtrlCCloses:
    """While it lives, SIGINT closes every window of `app` (once; a second Ctrl-C kills the process).

    `pressed` says a Ctrl-C came (also one noted before): `main` checks it before it opens the window.
    """

    def __init__(self, app) -> None:
        from PySide6.QtCore import QSocketNotifier

        self.pressed = _noted.is_set()
        self._closing = False
        self._app = app
        if _IGNORED_AT_START:
            return
        self._read, self._write = socket.socketpair()
        for end in (self._read, self._write):
            end.setblocking(False)
        signal.set_wakeup_fd(self._write.fileno(), warn_on_full_buffer=False)
        signal.signal(signal.SIGINT, self._note)  # the byte on the socket wakes the event loop
        self._notifier = QSocketNotifier(self._read.fileno(), QSocketNotifier.Type.Read, app)
        self._notifier.activated.connect(self._woken)

    def _note(self, *_) -> None:
        self.pressed = True

    def _woken(self) -> None:
        with contextlib.suppress(OSError):
            if signal.SIGINT in self._read.recv(64):
                self.pressed = True
        if self.pressed and not self._closing:
            self._closing = True
            signal.signal(signal.SIGINT, signal.SIG_DFL)  # if closing hangs, the next Ctrl-C ends it
            self._app.closeAllWindows()


def exit_status(worker, status: int) -> int:
    """`status`, or leave now with it when the worker thread still runs a job that ignored its cancel.

    That job is one torch layer away from its next check (seconds on a big picture); waiting would
    keep a closed window's process alive, and letting Python destroy the running QThread makes Qt
    abort ("QThread: Destroyed while thread is still running"). Nothing is left to save: the window
    wrote its settings when it closed and every file is written atomically.
    """
    if worker is None or not worker.running():
        return status
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(status)
