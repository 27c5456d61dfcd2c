"""Thread budgets of batch workers (posture.threads, issue 17)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from posture.threads import auto_workers, limit_worker_threads, usable_cores, worker_threads

threadpoolctl = pytest.importorskip("threadpoolctl")


def _blas_threads() -> set[int]:
    return {i["num_threads"] for i in threadpoolctl.threadpool_info()
            if i["user_api"] == "blas"}


def test_auto_workers_from_cores_and_jobs():
    assert auto_workers(16) == 16
    assert auto_workers(16, jobs=5) == 5  # never more workers than images
    assert auto_workers(1) == 1 and auto_workers(2, jobs=0) == 2
    assert 1 <= auto_workers() == usable_cores()


def test_worker_threads_limits_blas_and_opencv_and_restores_them():
    np.ones((4, 4)) @ np.ones((4, 4))  # BLAS loaded
    before_cv, before_blas = cv2.getNumThreads(), _blas_threads()
    with worker_threads():
        assert cv2.getNumThreads() == 1
        assert _blas_threads() == {1}
    assert cv2.getNumThreads() == before_cv and _blas_threads() == before_blas


def test_limit_worker_threads_sets_the_variables_for_later_pools(monkeypatch):
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        # set, then removed: monkeypatch restores the variable's absence at teardown (a
        # bare delenv of an absent variable records nothing, and the 1 written by
        # limit_worker_threads then held for every later test and its child processes)
        monkeypatch.setenv(var, "")
        monkeypatch.delenv(var)
    before = cv2.getNumThreads()
    limiter = limit_worker_threads()
    try:
        import os

        assert os.environ["OPENBLAS_NUM_THREADS"] == "1" and _blas_threads() == {1}
    finally:
        limiter.restore_original_limits()
        cv2.setNumThreads(before)
