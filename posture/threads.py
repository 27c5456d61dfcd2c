"""Thread budgets for analysing many photos at once.

One analysis uses several native thread pools: MediaPipe's graph (two busy ``drishti``
threads per inference here), the roll's line search on a helper thread, OpenCV's
``parallel_for`` and the BLAS behind NumPy's matrix products (the outline regression; the
pelvis-patch networks run in onnxruntime, on a session of their own with one thread:
``posture.estimator_runtime``).
Left at their defaults each pool sizes itself to every core of the machine, so N worker
processes start N x (cores) BLAS and OpenCV threads. OpenBLAS threads spin while they wait
for work: with two of them per process the patch network's small products (it ran in
NumPy then) cost twice the CPU time in one process, and two workers on two cores ran
slower together than one alone.

A worker therefore runs BLAS and OpenCV on one thread (:func:`worker_threads`); its
parallelism comes from the other workers. MediaPipe's own thread count cannot be set from
its Python API; :data:`MODEL_THREADS` is what it was measured to use, and
:func:`auto_workers` leaves it room.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

#: Cores one worker keeps busy on average: per-thread CPU time of ``Analyzer.analyze`` on
#: the sample renders (2-core Xeon, BLAS and OpenCV on one thread) was 29 ms on the main
#: thread, 38 ms on MediaPipe's two graph threads and 19 ms on the roll thread per image,
#: with the roll overlapping the pose and the rest in sequence: about 1.6 cores per worker
#: when it has them to itself, 1 when the cores are shared. We count 1 (see auto_workers).
MODEL_THREADS = 1


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity, e.g. a container's limit)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not Linux
        return max(1, os.cpu_count() or 1)


def auto_workers(cores: int | None = None, *, jobs: int | None = None) -> int:
    """Worker processes for ``posture batch --workers auto``.

    One per ``MODEL_THREADS`` usable cores: once BLAS and OpenCV run on one thread per
    worker, a worker's own threads overlap only part of an image (pose with roll), so a
    worker per core keeps every core busy where fewer workers leave gaps. Never more workers
    than ``jobs`` (images to analyse), never fewer than one.

    Parameters
    ----------
    cores
        Cores to plan for; default :func:`usable_cores`.
    jobs
        Images to analyse, when known.
    """
    n = max(1, (cores or usable_cores()) // MODEL_THREADS)
    return max(1, min(n, jobs)) if jobs else n


def limit_worker_threads(blas: int = 1, opencv: int = 1, *, env: bool = True):
    """Run NumPy's BLAS and OpenCV on ``blas`` / ``opencv`` threads in this process. Call it
    where a worker process starts (the process is ours). ``env`` also sets the usual
    variables, which reach pools that start later (and child processes), unless already set.
    Returns the threadpoolctl limiter (``None`` without threadpoolctl), whose
    ``restore_original_limits`` undoes the BLAS part."""
    import cv2

    cv2.setNumThreads(opencv)
    if env:
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ.setdefault(var, str(blas))
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # then only pools not yet started follow the variables
        return None
    return threadpool_limits(limits=blas, user_api="blas")


@contextlib.contextmanager
def worker_threads(blas: int = 1, opencv: int = 1) -> Iterator[None]:
    """:func:`limit_worker_threads` for a ``with`` block, restored after it (for the batch
    analysed in the caller's own process)."""
    import cv2

    before = cv2.getNumThreads()
    limiter = limit_worker_threads(blas, opencv, env=False)
    try:
        yield
    finally:
        cv2.setNumThreads(before)
        if limiter is not None:
            limiter.restore_original_limits()
