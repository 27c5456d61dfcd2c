"""``posture batch --engine ray``: the batch analysed on Ray Data, on this machine or a cluster.

:func:`posture.batch.run_batch` does everything around the analysis exactly as for the local
engine: it enumerates the inputs, opens and locks the outputs, skips the files already in
the CSV (resume), shows progress and writes each row (and JSONL line) with the same writer
as soon as it comes back. This module only replaces the worker processes:

* the images still to do are a Ray dataset of file names (one block per ``batch_size``
  files, so that the work spreads over the actors);
* ``map_batches`` runs :class:`AnalyseBatch`, a callable class: each actor loads the pose
  model once (one :class:`~posture.analysis.Analyzer` for its life) and analyses its
  batches with the local engine's own :func:`posture.engines.task.analyze_file` (URIs are
  read through pyarrow's filesystems first, :mod:`posture.engines.uris`);
* each actor asks for a fraction of a CPU, so that the actors never take every CPU and Ray
  Data's own tasks still find one (on 2 CPUs, two 1-CPU actors and a 1-CPU read task wait
  for each other for ever);
* results come back as the contract dicts of ``posture analyze --json``, serialised as
  JSON so that values round-trip exactly.

A file that kills its actor (a native crash) becomes a ``worker_crashed`` row, as with the
local engine: before analysing a file, the actor records it in a small ledger actor; Ray
restarts the dead actor and retries its batch, and the retry finds the file started but
never finished, so it writes the error row instead of analysing the file again.

Ray is an optional extra: ``pip install 'posture[cluster]'``. Every node of a cluster needs
posture installed the same way and the pose model cached (``posture models fetch``).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from ..errors import EngineError, PostureError
from .task import analyze_file
from .uris import expand_uri, is_uri

__all__ = ["analyze_one", "expand_uri", "is_uri", "plan_actors", "run_ray", "start_ray"]

#: Local object store: results are small rows, images are read by the actors themselves.
OBJECT_STORE_BYTES = 256 * 1024 * 1024
#: Files per Ray task by default: small enough that rows stream back steadily and a kill
#: loses little, large enough that Ray's per-task cost stays a small share.
DEFAULT_BATCH_SIZE = 4


# -- inputs and the work on one file (shared with the local engine) -------------------------

def analyze_one(analyzer, file: str, annotate_to: str | None) -> dict:
    """The contract dict of one file, a path or a URI: the local engine's own
    :func:`posture.engines.task.analyze_file`, so that both engines give the same row."""
    return analyze_file(analyzer, file, annotate_to)


class _Ledger:
    """Files an actor has started and not finished (made a Ray actor in :func:`run_ray`)."""

    def __init__(self) -> None:
        self.open: set[str] = set()

    def begin(self, file: str) -> bool:
        """Record ``file`` as started; True if an earlier start never finished."""
        died_on_it = file in self.open
        self.open.add(file)
        return died_on_it

    def end(self, file: str) -> None:
        self.open.discard(file)


class AnalyseBatch:
    """The ``map_batches`` callable: one pose model per actor, loaded once.

    Parameters
    ----------
    model
        Pose model variant or .task path.
    factory
        Makes the analyzer instead of :class:`~posture.analysis.Analyzer` (tests).
    ledger
        Handle of the :class:`_Ledger` actor, or None to run without crash bookkeeping.
    """

    def __init__(self, model: str | None, factory: Callable[[], Any] | None, ledger) -> None:
        from ..threads import limit_worker_threads

        limit_worker_threads()  # one BLAS/OpenCV thread: the parallelism is the actors
        self.ledger, self.fatal, self.analyzer = ledger, None, None
        try:
            if factory is not None:
                self.analyzer = factory()
            else:
                from ..analysis import Analyzer

                self.analyzer = Analyzer(model)
            self.analyzer.__enter__()
        except PostureError as err:  # e.g. no pose model on this node: the driver stops
            self.fatal = {"code": err.code, "message": err.message,
                          "exit_code": err.exit_code}

    def __call__(self, batch: dict) -> dict:
        import ray

        from ..contract import error_to_dict

        files = [str(f) for f in batch["file"]]
        annots = [str(a) or None for a in batch["annotate_to"]]
        results = []
        for file, annot in zip(files, annots, strict=True):
            if self.fatal is not None:
                results.append(json.dumps({"fatal": self.fatal}))
                continue
            died = self.ledger is not None and ray.get(self.ledger.begin.remote(file))
            if died:
                d = error_to_dict(PostureError("the worker analysing this file died",
                                               code="worker_crashed"), source=file)
            else:
                d = analyze_one(self.analyzer, file, annot)
            if self.ledger is not None:
                self.ledger.end.remote(file)  # ordered before this actor's next begin()
            results.append(json.dumps(d, ensure_ascii=False))
        return {"file": files, "result": results}

    def close(self) -> None:
        if self.analyzer is not None:
            self.analyzer.__exit__(None, None, None)
            self.analyzer = None

    def __del__(self):  # Ray Data calls it when the actor pool shuts down
        try:
            self.close()
        except Exception:
            pass


# -- the run -------------------------------------------------------------------------------

def _import_ray():
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise EngineError("--engine ray needs Ray Data: pip install 'posture[cluster]'",
                          code="engine_unavailable") from None
    return ray


def start_ray(address: str | None = None, num_cpus: int | None = None) -> bool:
    """Join the cluster at ``address``, or start a local Ray instance of ``num_cpus`` CPUs
    (default: this process's usable cores) without dashboard and with quiet logs. Returns
    whether this call started it (then :func:`run_ray` stops it with :func:`stop_ray`).
    A start that fails or is interrupted leaves nothing running."""
    ray = _import_ray()
    if ray.is_initialized():
        return False
    from ..pose import quiet_native_stderr

    # Ray's C++ core logs to this process's stderr (a warning per actor pool about
    # constructor arguments, the log level it set): keep the terminal readable
    os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "fatal")
    quiet = dict(log_to_driver=False, logging_level=logging.ERROR, include_dashboard=False,
                 configure_logging=True)
    try:
        with quiet_native_stderr():
            if address:
                ray.init(address=address, **quiet)
            else:
                from ..threads import usable_cores

                # address="local": a new instance, never one some other user started here
                ray.init(address="local", num_cpus=num_cpus or usable_cores(),
                         object_store_memory=OBJECT_STORE_BYTES, **quiet)
    except (ConnectionError, RuntimeError, ValueError, ray.exceptions.RayError) as exc:
        stop_ray(ray)  # whatever the failed start left
        hint = ("; a cluster with token authentication needs RAY_AUTH_MODE=token and the "
                "cluster's token here too (docs/scaling.md)") if address else ""
        raise EngineError(f"cannot start or join Ray ({exc}){hint}",
                          code="engine_unavailable") from None
    except BaseException:  # Ctrl-C (or SIGTERM, which Ray turns into SystemExit) mid-start
        stop_ray(ray)
        raise
    return True


#: How long :func:`stop_ray` lets Ray's processes exit by themselves before killing them.
STOP_GRACE_S = 5.0


def stop_ray(ray) -> None:
    """``ray.shutdown()``, then make sure that no process of the Ray instance this process
    started outlives it.

    ``ray.shutdown()`` stops the head processes (GCS, raylet); the worker processes
    (``ray::MapWorker``, ``ray::IDLE``, the agents) are the raylet's children and exit when
    they notice it gone, but one busy in native code can be left running with parent 1. So
    Ray's processes below this one are listed first; any still running ``STOP_GRACE_S``
    after the shutdown are killed (the same processes: pid and start time).
    """
    ours = _ray_descendants(os.getpid())
    try:
        if ray.is_initialized():
            ray.shutdown()
    finally:
        _reap(ours)


def _proc_table() -> dict[int, tuple[int, str]]:
    """pid → (parent pid, start time) of every process (Linux ``/proc``; empty elsewhere)."""
    table = {}
    try:
        names = os.listdir("/proc")
    except OSError:
        return table
    for name in names:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        table[int(name)] = (int(fields[1]), fields[19].decode())  # ppid, starttime
    return table


def _is_ray_process(pid: int) -> bool:
    """A Ray worker (``ray::...``) or a program of the ray package (raylet, GCS, monitors)."""
    import ray

    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv = f.read().split(b"\0")[:3]
    except OSError:
        return False
    ray_dir = os.fsencode(os.path.dirname(ray.__file__))
    return bool(argv) and (argv[0].startswith(b"ray::") or any(ray_dir in a for a in argv))


def _ray_descendants(root: int) -> dict[int, str]:
    """pid → start time of the Ray processes below ``root``."""
    table = _proc_table()
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    found: dict[int, str] = {}
    stack = [root]
    while stack:
        for child in children.get(stack.pop(), []):
            if child not in found:
                found[child] = table[child][1]
                stack.append(child)
    return {pid: start for pid, start in found.items() if _is_ray_process(pid)}


def _alive(procs: dict[int, str]) -> list[int]:
    out = []
    for pid, start in procs.items():
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[0] != b"Z" and fields[19].decode() == start:  # not a reused pid
            out.append(pid)
    return out


def _reap(procs: dict[int, str]) -> None:
    """Wait up to ``STOP_GRACE_S`` for ``procs`` to exit, then kill the rest."""
    import signal
    import time

    deadline = time.monotonic() + STOP_GRACE_S
    while _alive(procs) and time.monotonic() < deadline:
        time.sleep(0.1)
    for pid in _alive(procs):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    for pid in procs:  # our own children among them: collect them, no zombies
        try:
            os.waitpid(pid, os.WNOHANG)
        except OSError:
            pass


def plan_actors(total_cpus: float, workers: int | str, jobs: int) -> tuple[int, float]:
    """(actors, CPUs each) for ``total_cpus`` CPUs in the cluster.

    ``workers`` is a count or ``"auto"`` (:func:`posture.threads.auto_workers` of the
    cluster's CPUs). The actors together ask for at most all CPUs but one, so that Ray
    Data's own tasks always find a CPU; a lone actor asks for at most one.
    """
    from ..threads import auto_workers

    cores = max(1, int(total_cpus))
    n = auto_workers(cores, jobs=jobs) if workers == "auto" else max(1, min(int(workers), jobs))
    per = min(1.0, max(0.1, (total_cpus - 1.0) / n))
    return n, round(per, 3)


def run_ray(
    todo: Iterable[tuple[str, str | None]],
    on_result: Callable[[str, dict], None],
    *,
    model: str | None = None,
    workers: int | str = "auto",
    address: str | None = None,
    num_cpus: int | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    analyzer_factory: Callable[[], Any] | None = None,
) -> None:
    """Analyse ``todo`` ((file, annotated image path or None) pairs) on Ray Data and hand
    every result to ``on_result(file, contract_dict)`` as it arrives, on this thread.

    Parameters
    ----------
    workers
        Actors (each one pose model), or ``"auto"``: from the cluster's CPUs.
    address
        A Ray cluster to join (``ray://host:10001`` or ``host:6379``); without it a local
        instance of ``num_cpus`` CPUs starts and stops with the run.
    batch_size
        Files per Ray task.
    analyzer_factory
        Picklable callable making the analyzer in each actor (tests).

    Raises
    ------
    PostureError
        ``engine_unavailable`` without Ray; the actors' own code (e.g.
        ``model_unavailable``) when they cannot load the model; ``engine_failed`` when
        Ray gives up on the job. Rows written before any of these stay (resume).
    """
    jobs = list(todo)
    if not jobs:
        return
    ray = _import_ray()
    with _signals_exit() as take_back:
        started = start_ray(address, num_cpus)
        take_back()  # Ray's core installs its own SIGTERM handler, which aborts
        try:
            _run(ray, jobs, on_result, model=model, workers=workers, batch_size=batch_size,
                 factory=analyzer_factory)
        finally:  # success, error, Ctrl-C, SIGTERM or SIGHUP: nothing of ours outlives it
            if started:
                stop_ray(ray)


@contextlib.contextmanager
def _signals_exit() -> Iterator[Callable[[], None]]:
    """Within the block, SIGHUP (the terminal or SSH session closed) and SIGTERM raise
    SystemExit(128 + signal) instead of ending the process on the spot, so that the
    ``finally`` that stops Ray runs: a hang-up left the whole local Ray instance running
    (workers, agents), and a SIGTERM met Ray's native failure handler, which aborts.
    Handlers someone else set (or SIG_IGN, as under nohup) are left alone. Yields a
    function that puts ours back after ``ray.init`` (whose core replaces SIGTERM's)."""
    import signal
    import threading

    saved = {}
    if threading.current_thread() is threading.main_thread():
        for name in ("SIGHUP", "SIGTERM"):
            sig = getattr(signal, name, None)
            if sig is not None and signal.getsignal(sig) == signal.SIG_DFL:
                saved[sig] = signal.signal(sig, _raise_exit)

    def take_back() -> None:
        for sig in saved:
            signal.signal(sig, _raise_exit)

    try:
        yield take_back
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


def _raise_exit(signum, _frame) -> None:
    raise SystemExit(128 + signum)


def _run(ray, jobs, on_result, *, model, workers, batch_size, factory) -> None:
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False  # the batch shows its own, per written row
    ctx.print_on_execution_start = False
    ctx.verbose_stats_logs = False
    logging.getLogger("ray.data").setLevel(logging.ERROR)
    logging.getLogger("ray").setLevel(logging.ERROR)

    n, per_actor = plan_actors(ray.cluster_resources().get("CPU", 1.0), workers, len(jobs))
    ledger = ray.remote(num_cpus=0)(_Ledger).remote()
    # no fewer blocks than actors, or some actors would have nothing to do
    bs = max(1, min(int(batch_size), -(-len(jobs) // n)))
    ds = ray.data.from_items([{"file": f, "annotate_to": a or ""} for f, a in jobs],
                             override_num_blocks=max(1, -(-len(jobs) // bs)))
    ds = ds.map_batches(
        AnalyseBatch, fn_constructor_args=(model, factory, ledger), batch_size=bs,
        batch_format="numpy", num_cpus=per_actor,
        compute=ray.data.ActorPoolStrategy(size=n),
    )
    batches = iter(ds.iter_batches(batch_size=None, batch_format="numpy"))
    try:
        for batch in batches:
            for file, res in zip(batch["file"], batch["result"], strict=True):
                file, d = str(file), json.loads(str(res))
                if "fatal" in d:
                    err = PostureError(d["fatal"]["message"], code=d["fatal"]["code"])
                    err.exit_code = d["fatal"]["exit_code"]
                    raise err
                on_result(file, d)
    except PostureError:
        raise
    except (ray.exceptions.RayError, RuntimeError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else ""
        raise EngineError(f"the Ray job failed ({type(exc).__name__}: {first}); rows "
                          "written so far are kept, run again to resume",
                          code="engine_failed") from None
    finally:
        # a run left early (an error, Ctrl-C) stops its actor pool now, not when Ray ends:
        # closing the generator shuts Ray Data's executor down
        close = getattr(batches, "close", None)
        if close is not None:
            try:
                close()
            except Exception:  # noqa: BLE001 - already failing or done; the pool goes with Ray
                pass
        ray.kill(ledger)
