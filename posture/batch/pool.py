"""The local engine's worker processes: each holds one Analyzer for its life and is fed
one file at a time."""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
from collections import deque
from collections.abc import Callable
from typing import Any

from ..engines.task import analyze_file
from ..errors import PostureError


def _worker(tasks, results, model: str | None) -> None:
    """A worker process: one Analyzer for its life, closed when the parent says stop."""
    from ..analysis import Analyzer
    from ..threads import limit_worker_threads

    limit_worker_threads()  # one BLAS/OpenCV thread each: workers must not fight for cores

    try:
        analyzer = Analyzer(model)
    except PostureError as err:
        results.put(("fatal", os.getpid(), err.code, err.message, err.exit_code))
        return
    parent = mp.parent_process()
    with analyzer:
        while True:
            try:
                job = tasks.get(timeout=2.0)
            except queue.Empty:
                # the parent was killed (SIGKILL leaves no time to stop us): do not linger
                if parent is not None and not parent.is_alive():
                    return
                continue
            if job is None:
                return
            file, annotate_to = job
            results.put(("done", os.getpid(), file, analyze_file(analyzer, file, annotate_to)))


class Pool:
    """Worker processes fed one file at a time, so the parent always knows which file a
    worker holds (and can record it as failed if the worker dies)."""

    def __init__(self, n: int, model: str | None):
        self.ctx = mp.get_context("spawn")  # no fork of a process with native threads
        self.results = self.ctx.Queue()
        self.model = model
        self.procs: dict[int, tuple[Any, Any]] = {}  # pid → (process, its task queue)
        for _ in range(n):
            self._start()

    def _start(self) -> int:
        tasks = self.ctx.Queue()
        p = self.ctx.Process(target=_worker, args=(tasks, self.results, self.model),
                             daemon=True)
        p.start()
        self.procs[p.pid] = (p, tasks)
        return p.pid

    def run(self, jobs: deque, on_result: Callable[[str, dict], None]) -> None:
        inflight: dict[int, str] = {}

        def feed(pid: int) -> None:
            if jobs:
                file, annot = jobs.popleft()
                inflight[pid] = file
                self.procs[pid][1].put((file, annot))

        for pid in list(self.procs):
            feed(pid)
        while inflight:
            try:
                msg = self.results.get(timeout=1.0)
            except queue.Empty:
                self._reap(inflight, on_result, feed, jobs)
                continue
            if msg[0] == "fatal":
                _, _, code, message, exit_code = msg
                err = PostureError(message, code=code)
                err.exit_code = exit_code
                raise err
            _, pid, file, d = msg
            inflight.pop(pid, None)
            on_result(file, d)
            feed(pid)

    def _reap(self, inflight, on_result, feed, jobs) -> None:
        from ..contract import error_to_dict

        for pid, (p, _) in list(self.procs.items()):
            if p.is_alive() or pid not in inflight:
                continue
            file = inflight.pop(pid)
            del self.procs[pid]
            msg = f"the worker analysing this file died (exit code {p.exitcode})"
            on_result(file, error_to_dict(PostureError(msg, code="worker_crashed"),
                                          source=file))
            if jobs:
                feed(self._start())

    def close(self) -> None:
        for p, tasks in self.procs.values():
            if p.is_alive():
                tasks.put(None)
        for p, _ in self.procs.values():
            p.join(30)
            if p.is_alive():  # stuck: do not hang the command line
                p.terminate()
                p.join(5)

    def kill(self) -> None:
        for p, _ in self.procs.values():
            if p.is_alive():
                p.terminate()
        for p, _ in self.procs.values():
            p.join(5)
