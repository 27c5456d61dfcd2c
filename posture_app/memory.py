"""Give the server's memory back when browser sessions end.

Streamlit keeps a closed session for two minutes, so a reconnecting phone finds its page
again. When that time is up the session is dropped from its store *without* being shut
down (Streamlit 1.67, ``MemorySessionStorage``), and shutting down is what releases the
session's uploaded files (the photo bytes, up to 50 MB each) and the images it displayed
(the annotated photo, held by the media file manager for every session). Those stayed in
the server's memory for good: the app only grew (issue 15).

:func:`start_reaper` runs, once per server process, a daemon thread that every
:data:`REAP_EVERY_S` seconds shuts down the sessions whose reconnect time has passed, on
Streamlit's event loop (where it shuts sessions down itself), then asks the C allocator to
return freed memory to the system (glibc ``malloc_trim``). It only touches sessions
Streamlit has already given up on.

Streamlit runs every script run in a new thread, and glibc gives threads their own malloc
arenas (up to 8 per core), each keeping the freed buffers of the photos decoded in it; and
after a large buffer is freed glibc raises its mmap threshold (up to 32 MB), so the next
photo's buffers come from those arenas instead of being mapped and unmapped.
:func:`tune_malloc` (called when this module is imported, before the first analysis) caps
the arenas at :data:`MALLOC_ARENAS` and fixes the threshold at :data:`MMAP_THRESHOLD`.
Measured with the library alone, one new thread per analysis over 14 photos (resident MB
after each): defaults 353 → 460; two arenas and a trim after each 332 → 360; two arenas and
the fixed threshold 337 → 335 (flat).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import logging
import threading
import time

log = logging.getLogger("posture_app")

#: Seconds between two looks for expired sessions.
REAP_EVERY_S = 20.0
#: glibc malloc arenas for the server process (``M_ARENA_MAX``).
MALLOC_ARENAS = 2
#: Allocations from this size (bytes) are mapped and unmapped on their own
#: (``M_MMAP_THRESHOLD``; setting it also stops glibc from raising it).
MMAP_THRESHOLD = 1 << 20
_M_ARENA_MAX, _M_MMAP_THRESHOLD = -8, -3  # glibc's mallopt parameter numbers

_started = False
_start_lock = threading.Lock()
_idle_hooks: list = []
_stats: dict = {}  # snapshot figure name → function giving it (see add_stat)


def add_idle_hook(hook) -> None:
    """Have the reaper call ``hook()`` every :data:`REAP_EVERY_S` seconds, off the event
    loop; it returns how many things it released (e.g. idle analyzers closed), and the C
    allocator is trimmed after any."""
    _idle_hooks.append(hook)


def add_stat(name: str, stat) -> None:
    """Have :func:`snapshot` report ``stat()`` as ``name`` (e.g. the analyzers the pool
    made): the owners of the figures register them, so this module imports none of them."""
    _stats[name] = stat


def run_idle_hooks() -> int:
    """Call the idle hooks once; returns the number of things they released."""
    n = 0
    for hook in list(_idle_hooks):
        try:
            n += int(hook() or 0)
        except Exception:
            log.exception("memory idle hook failed")
    if n:
        gc.collect()
        trim_malloc()
    return n


def _storage_cache(runtime):
    """Streamlit's store of disconnected sessions (a TTL cache), or None if its layout
    changed (then nothing is reaped; logged once)."""
    mgr = getattr(runtime, "_session_mgr", None)
    storage = getattr(mgr, "_session_storage", None)
    cache = getattr(storage, "_cache", None)
    return mgr, cache if hasattr(cache, "expire") else None


def reap_once(runtime) -> int:
    """Shut down the sessions whose reconnect time is over; returns how many. Call on the
    event loop."""
    mgr, cache = _storage_cache(runtime)
    if cache is None:
        return 0
    lock = getattr(mgr, "_storage_lock", None) or threading.Lock()
    with lock:
        expired = cache.expire()
    for _sid, info in expired:
        try:
            info.session.shutdown()
        except Exception:  # one bad session must not stop the others being released
            log.exception("could not shut down an expired session")
    if expired:
        gc.collect()
        trim_malloc()
    return len(expired)


def _libc():
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None


def tune_malloc(arenas: int = MALLOC_ARENAS, mmap_threshold: int = MMAP_THRESHOLD) -> bool:
    """Cap glibc's malloc arenas (for threads started from now on) and fix its mmap
    threshold; False where the C library is not glibc."""
    libc = _libc()
    try:
        return bool(libc is not None and libc.mallopt(_M_ARENA_MAX, arenas)
                    and libc.mallopt(_M_MMAP_THRESHOLD, mmap_threshold))
    except AttributeError:  # not glibc
        return False


def trim_malloc() -> None:
    """Return freed heap memory to the system (glibc only; elsewhere nothing)."""
    libc = _libc()
    try:
        if libc is not None:
            libc.malloc_trim(0)
    except AttributeError:
        pass


def _loop(runtime) -> None:
    while True:
        time.sleep(REAP_EVERY_S)
        try:
            loop = runtime._get_async_objs().eventloop
        except Exception:  # the runtime is stopping
            return
        loop.call_soon_threadsafe(_reap_logged, runtime)
        n = run_idle_hooks()
        if n:
            log.info("closed %d idle analyzer(s)", n)


def _reap_logged(runtime) -> None:
    try:
        n = reap_once(runtime)
        if n:
            log.info("released %d expired session(s)", n)
    except Exception:
        log.exception("session reaper failed")


def start_reaper() -> bool:
    """Start the reaper thread once per process (no-op outside a running server)."""
    global _started
    with _start_lock:
        if _started:
            return True
        try:
            from streamlit.runtime import Runtime

            if not Runtime.exists():
                return False
            runtime = Runtime.instance()
        except Exception:
            return False
        if _storage_cache(runtime)[1] is None:
            log.warning("Streamlit's session store changed: expired sessions are not reaped")
            return False
        threading.Thread(target=_loop, args=(runtime,), name="posture-session-reaper",
                         daemon=True).start()
        _started = True
        return True


tune_malloc()


# --- diagnostics (only with POSTURE_MEMORY_DUMP=<folder>; tools/app_memory_load.py) -------

class _MallInfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost")]


def snapshot(top: int = 25) -> dict:
    """Where the process' memory is (MiB unless named): /proc status, glibc's heap,
    Python objects by type, Streamlit's stores and, when tracing, tracemalloc's top lines."""
    import collections
    import sys

    out: dict = {}
    with open("/proc/self/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM", "RssAnon", "RssFile", "RssShmem", "Threads"):
                n = int(v.split()[0])
                out[k] = n if k == "Threads" else round(n / 1024, 1)
    libc = _libc()
    try:
        libc.mallinfo2.restype = _MallInfo2
        mi = libc.mallinfo2()
        out["malloc"] = {k: round(getattr(mi, k) / 2**20, 1) for k in (
            "arena", "hblkhd", "uordblks", "fordblks", "keepcost")}
    except Exception:
        pass
    by_map: dict = collections.Counter()
    try:
        with open("/proc/self/smaps") as f:
            name = ""
            for line in f:
                first = line.split(maxsplit=6)
                if "-" in first[0] and len(first) >= 5 and ":" not in first[0]:
                    name = first[5].strip() if len(first) > 5 else "[anon]"
                    name = name.rsplit("/", 1)[-1]
                elif first[0] == "Rss:":
                    by_map[name] += int(first[1])
        out["rss_by_map"] = {k: round(v / 1024, 1) for k, v in by_map.most_common(top)}
    except OSError:
        pass
    gc.collect()
    types = collections.Counter(type(o).__name__ for o in gc.get_objects())
    out["gc_objects"] = sum(types.values())
    out["gc_top"] = dict(types.most_common(top))
    out["modules"] = len(sys.modules)
    out["threads"] = sorted(t.name for t in threading.enumerate())
    try:
        from streamlit.runtime import Runtime

        rt = Runtime.instance()
        mgr = rt._session_mgr
        out["sessions_active"] = len(mgr.list_active_sessions())
        out["sessions_all"] = len(mgr.list_sessions())
        out["media_files"] = len(rt.media_file_mgr._storage._files_by_id)
        out["uploaded_files"] = sum(len(v) for v in rt.uploaded_file_mgr.file_storage.values())
    except Exception as exc:
        out["streamlit_error"] = repr(exc)
    for name, stat in list(_stats.items()):
        try:
            out[name] = stat()
        except Exception:  # a diagnosis must not fail on one figure
            pass
    import tracemalloc

    if tracemalloc.is_tracing():
        snap = tracemalloc.take_snapshot().filter_traces(
            [tracemalloc.Filter(False, tracemalloc.__file__)])
        out["traced_mib"] = round(tracemalloc.get_traced_memory()[0] / 2**20, 1)
        out["traced_top"] = [f"{s.size / 2**20:.1f} MiB {s.count} {s.traceback}"
                             for s in snap.statistics("lineno")[:top]]
        first = _snaps.setdefault("first", snap)
        out["traced_diff"] = [f"{s.size_diff / 2**20:+.1f} MiB {s.count_diff:+} {s.traceback}"
                              for s in snap.compare_to(first, "lineno")[:top]]
    return out


_snaps: dict = {}


def _dump_watch(folder: str) -> None:
    import json
    import os

    while True:
        time.sleep(0.5)
        try:
            names = [n for n in os.listdir(folder) if n.startswith("request-")]
        except OSError:
            continue
        for n in names:
            tag = n[len("request-"):]
            os.unlink(os.path.join(folder, n))
            try:
                gc.collect()
                trim_malloc()
                data = snapshot()
            except Exception as exc:
                data = {"error": repr(exc)}
            tmp = os.path.join(folder, f".{tag}.tmp")
            with open(tmp, "w") as f:
                json.dump(data, f, indent=1)
            os.replace(tmp, os.path.join(folder, f"{tag}.json"))


def start_dump_watch() -> None:
    """With ``POSTURE_MEMORY_DUMP=<folder>``: write :func:`snapshot` to ``<tag>.json``
    whenever a file ``request-<tag>`` appears there (the load tool asks; for diagnosis)."""
    import os

    folder = os.environ.get("POSTURE_MEMORY_DUMP")
    if folder and not _snaps.get("watching"):
        _snaps["watching"] = True
        threading.Thread(target=_dump_watch, args=(folder,), name="posture-memory-dump",
                         daemon=True).start()
