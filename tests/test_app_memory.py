"""The app server's memory: photo analyzers are pooled, expired sessions are released.

The figures under a scripted load (100 uploads over 20 browser sessions) come from
tools/app_memory_load.py and are in docs/reliability.md; these tests pin the mechanisms.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest

pytest.importorskip("streamlit")

from posture_app import analyzers, memory  # noqa: E402


class _Fake:
    made = 0

    def __init__(self):
        _Fake.made += 1


def test_pool_makes_at_most_its_size_and_reuses_them():
    pool = analyzers.AnalyzerPool(_Fake, size=2)
    seen = set()
    for _ in range(50):  # fifty uploads one after another: one analyzer
        loan = pool.loan()
        seen.add(id(loan.take()))
        loan.release()
    assert pool.made == 1 and len(seen) == 1
    # concurrent uploads: never more than the size
    start, taken = threading.Barrier(6), []

    def use():
        start.wait()
        loan = pool.loan()
        taken.append(loan.take())
        time.sleep(0.05)
        loan.release()

    threads = [threading.Thread(target=use) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert pool.made == 2 and len({id(a) for a in taken}) <= 2


def test_pool_says_server_busy_instead_of_waiting_forever(monkeypatch):
    monkeypatch.setattr(analyzers, "POOL_WAIT_S", 0.1)
    pool = analyzers.AnalyzerPool(_Fake, size=1)
    held = pool.loan()
    held.take()
    with pytest.raises(Exception) as e:
        pool.loan().take()
    assert getattr(e.value, "code", None) == "server_busy"
    held.release()
    assert pool.loan().take() is not None


def test_a_failed_make_does_not_use_up_the_pool():
    calls = []

    def make():
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("model missing")
        return object()

    pool = analyzers.AnalyzerPool(make, size=1)
    with pytest.raises(RuntimeError):
        pool.take()
    assert pool.take() is not None and pool.made == 1


class _Closable:
    def __init__(self):
        self.closed = False

    def close(self):
        self.closed = True


def test_idle_analyzers_beyond_the_first_are_closed():
    # two overlapping analyses made two analyzers; a quiet server keeps one (issue 15: the
    # second was kept for the process' life, ~90 MiB in the settled figure)
    pool = analyzers.AnalyzerPool(_Closable, size=2, keep=1)
    a, b = pool.loan(), pool.loan()
    first, second = a.take(), b.take()
    assert pool.made == 2
    a.release()
    assert pool.close_idle(idle_s=60) == 0  # not idle long enough yet
    b.release()
    assert pool.close_idle(idle_s=0) == 1 and pool.made == 1
    assert first.closed and not second.closed  # the least recently used goes
    assert pool.close_idle(idle_s=0) == 0 and pool.made == 1  # the last one is kept
    loan = pool.loan()
    assert loan.take() is second and pool.made == 1
    loan.release()
    # a lent analyzer is never closed, and the pool makes a new one when it is needed again
    held = pool.loan()
    held.take()
    assert pool.close_idle(idle_s=0) == 0
    other = pool.loan()
    assert other.take() is not second and pool.made == 2
    other.release()
    held.release()


def test_the_reaper_runs_the_pools_idle_hook(monkeypatch):
    calls = []
    monkeypatch.setattr(memory, "_idle_hooks", [lambda: calls.append(1) or 1])
    assert memory.run_idle_hooks() == 1 and calls == [1]
    monkeypatch.setattr(memory, "_idle_hooks", [lambda: 1 / 0])  # a failing hook is logged
    assert memory.run_idle_hooks() == 0


def test_the_snapshot_reports_the_figures_registered_with_it(monkeypatch):
    # issue 27: memory imported the analyzer pool to report its size (an import cycle);
    # the pool now registers the figure, and a failing figure does not spoil the snapshot
    monkeypatch.setattr(memory, "_stats", {})
    pool = analyzers.AnalyzerPool(_Fake, size=2)
    loan = pool.loan()
    loan.take()
    memory.add_stat("pool_made", lambda: pool.made)
    memory.add_stat("broken", lambda: 1 / 0)
    out = memory.snapshot(top=1)
    assert out["pool_made"] == 1 and "broken" not in out
    assert "from . import analyzers" not in open(memory.__file__).read()


def test_a_session_keeps_the_overlay_at_display_size():
    import numpy as np

    big = np.zeros((4160, 3120, 3), np.uint8)  # a 13 MP phone photo's overlay: 39 MB
    small = analyzers.shown_size(big)
    assert max(small.shape[:2]) == analyzers.SHOWN_LONG_SIDE and small.shape[2] == 3
    assert abs(small.shape[1] / small.shape[0] - 3120 / 4160) < 0.01
    little = np.zeros((960, 540, 3), np.uint8)
    assert analyzers.shown_size(little) is little


def test_sessions_are_not_given_their_own_analyzer():
    # the leak of issue 15: an Analyzer per session in st.session_state, never closed
    src = (analyzers.__file__ and open(analyzers.__file__).read())
    assert "session_state[_SESSION_KEY]" not in src and "session_analyzer" not in src


class _Session:
    def __init__(self):
        self.shut = False

    def shutdown(self):
        self.shut = True


class _Info:
    def __init__(self):
        self.session = _Session()


def test_expired_sessions_are_shut_down():
    # Streamlit's own store of disconnected sessions, with a clock we move
    from streamlit.runtime.caching.ttl_cache import TTLCache

    now = [0.0]
    cache = TTLCache(maxsize=128, ttl=120, timer=lambda: now[0])
    old, recent = _Info(), _Info()
    cache["old"] = old
    now[0] = 100.0
    cache["recent"] = recent

    class Storage:
        _cache = cache

    class Mgr:
        _session_storage = Storage()
        _storage_lock = threading.Lock()

    class Runtime:
        _session_mgr = Mgr()

    now[0] = 150.0  # "old" is past its two minutes, "recent" is not
    assert memory.reap_once(Runtime()) == 1
    assert old.session.shut and not recent.session.shut
    assert list(cache) == ["recent"]


def test_streamlit_store_has_the_layout_the_reaper_reads():
    # if Streamlit changes it, the reaper stops (and says so): this test says it first
    from streamlit.runtime.memory_session_storage import MemorySessionStorage
    from streamlit.runtime.websocket_session_manager import WebsocketSessionManager

    assert hasattr(MemorySessionStorage(), "_cache")
    assert hasattr(MemorySessionStorage()._cache, "expire")
    import inspect

    src = inspect.getsource(WebsocketSessionManager)
    assert "self._session_storage" in src and "self._storage_lock" in src


_FRAGMENT = """
import sys, numpy as np
if sys.argv[1] == "tuned":
    from posture_app.memory import tune_malloc
    assert tune_malloc()
def rss():
    return int([l for l in open("/proc/self/status") if l.startswith("VmRSS")][0].split()[1])
a = np.ones(30 << 20, np.uint8); del a          # a large photo buffer, freed
base = rss()
b = np.ones(8 << 20, np.uint8)                  # the next photo's buffer
pin = [bytearray(64) for _ in range(1000)]      # small objects allocated after it
del b
print((rss() - base) // 1024)                   # MB still held after the free
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc")
def test_a_freed_photo_buffer_goes_back_to_the_system():
    # glibc raises its mmap threshold after a 30 MB buffer is freed, so the next 8 MB one
    # comes from the heap and stays there when freed; tune_malloc fixes the threshold
    held = {m: int(subprocess.run([sys.executable, "-c", _FRAGMENT, m], capture_output=True,
                                  text=True, timeout=60, check=True).stdout)
            for m in ("default", "tuned")}
    assert held["default"] >= 7, held  # the problem is real on this machine
    assert held["tuned"] <= 1, held
