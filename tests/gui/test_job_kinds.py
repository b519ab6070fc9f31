"""A kind of job is one dataclass with its body: a toy one, declared here and nowhere else, runs in the worker,
reports through the job signals, and its failure is worded by `error_wording.readable` under its title."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import ClassVar

from lci_studio.gui.jobs import JobSignals, Running
from lci_studio.gui.worker import CodecWorker


@dataclass(frozen=True)
class EchoJob:
    text: str
    kind: ClassVar[str] = "echo"
    lane: ClassVar[str] = "write"  # an existing lane: its thread, and it cancels nothing
    title: ClassVar[str] = "Could not echo"

    def run(self, run: Running, out: JobSignals) -> None:
        out.jobStarted.emit(run.job_id, self.kind, 1)
        if self.text == "refuse":
            raise ValueError("the echo was refused")
        out.progress.emit(run.job_id, 1, 1, f"{self.text} from {threading.current_thread() is threading.main_thread()}")


def test_a_job_declared_in_one_dataclass_runs_in_the_worker_and_fails_readably(qtbot):
    worker = CodecWorker()
    started, texts, failed, finished = [], [], [], {}
    worker.jobStarted.connect(lambda job_id, kind, total: started.append((job_id, kind, total)))
    worker.progress.connect(lambda job_id, done, total, text: texts.append((job_id, text)))
    worker.failed.connect(lambda job_id, title, message: failed.append((job_id, title, message)))
    worker.jobFinished.connect(lambda job_id, outcome: finished.__setitem__(job_id, outcome))
    try:
        echo = worker.start(EchoJob("hello"))
        refused = worker.start(EchoJob("refuse"))
        qtbot.waitUntil(lambda: len(finished) == 2, timeout=30_000)
    finally:
        worker.shutdown()
    assert started == [(echo, "echo", 1), (refused, "echo", 1)]
    assert texts == [(echo, "hello from False")]  # not on the GUI thread
    assert finished == {echo: "done", refused: "failed"}
    assert failed == [(refused, "Could not echo", "ValueError: the echo was refused")]
