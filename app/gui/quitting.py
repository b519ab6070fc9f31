"""How `lci-studio` ends: Ctrl-C closes the window as its close button does, and a job that
can't be interrupted doesn't keep the process alive or make Qt abort it.

Python runs a signal handler only when the interpreter gets control, and inside `app.exec()` it
may not for a long time; so the signal is also written to a socket (`signal.set_wakeup_fd`) that a
QSocketNotifier watches, which wakes the event loop at once. The window then closes through its
normal path (settings saved, worker cancelled). Exit status 130 after Ctrl-C, as `lci` and a
Ctrl-C during start-up give: a script sees the program was interrupted, not that it finished.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys

from PySide6.QtCore import QObject, QSocketNotifier
from PySide6.QtWidgets import QApplication

INTERRUPTED = 130  # 128 + SIGINT, the shell's status for a command stopped by Ctrl-C


class CtrlCCloses(QObject):
    """While it lives, SIGINT closes every window of `app` (once; a second Ctrl-C kills the process)."""

    def __init__(self, app: QApplication) -> None:
        super().__init__(app)
        self.pressed = False
        self._app = app
        self._read, self._write = socket.socketpair()
        for end in (self._read, self._write):
            end.setblocking(False)
        signal.set_wakeup_fd(self._write.fileno(), warn_on_full_buffer=False)
        signal.signal(signal.SIGINT, lambda *_: None)  # the byte on the socket does the work
        self._notifier = QSocketNotifier(self._read.fileno(), QSocketNotifier.Type.Read, self)
        self._notifier.activated.connect(self._woken)

    def _woken(self) -> None:
        with contextlib.suppress(OSError):
            received = self._read.recv(64)
            if signal.SIGINT in received and not self.pressed:
                self.pressed = True
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
