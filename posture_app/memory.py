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
