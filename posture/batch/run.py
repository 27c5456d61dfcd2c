"""The batch run: inputs enumerated, outputs opened for resuming, the images still to do
analysed in this process, in worker processes or on Ray, one row written per result."""

from __future__ import annotations

import dataclasses
import os
import sys
from collections import Counter, deque
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from ..engines.task import OVERLAY_ERROR, analyze_file
from ..errors import PostureError
from ..images import IMAGE_EXTENSIONS
from ..outputs import same_file
from .files import Outputs, check_annotations
from .inputs import annotation_names, expand_inputs, resume_key, unique_files
from .pool import Pool
from .rows import BatchSummary, summarize


def run_batch(
    inputs: str | Iterable[str],
    out_csv: str | os.PathLike,
    *,
    jsonl: str | os.PathLike | None = None,
    annotate_dir: str | os.PathLike | None = None,
    workers: int | str = 1,
    model: str | None = None,
    progress: bool = True,
    analyzer_factory: Callable[[], Any] | None = None,
    overwrite: bool = False,
    engine: str = "local",
    engine_options: dict[str, Any] | None = None,
) -> BatchSummary:
    """Analyse every image of ``inputs`` (folder, glob or list of paths) into ``out_csv``.

    Parameters
    ----------
    jsonl
        Also write one JSON object per image (``file`` plus the full contract).
    annotate_dir
        Write an annotated PNG per analysed image here.
    workers
        Processes in parallel; 1 analyses in this process; ``"auto"`` from the cores
        (:func:`posture.threads.auto_workers`; with ``engine="ray"``, the cluster's).
    model
        Pose model variant or .task path (default: the full model).
    analyzer_factory
        For ``workers == 1`` only: makes the analyzer (a context manager with
        ``.analyze(frame)``); tests use it to run without the pose model.
    overwrite
        Replace an existing ``out_csv`` / ``jsonl`` / annotated image that was not written
        by posture (otherwise refused with ``output_mismatch`` / ``output_exists``). Inputs
        are never written to, whatever this says.
    engine
        ``"local"`` (processes here) or ``"ray"`` (Ray Data, :mod:`posture.engines.ray_engine`,
        which also reads URIs); ``engine_options`` go to its ``run_ray`` (``address``, ...).

    Raises
    ------
    OutputError
        Before anything is written, for an output that is an input, not ours, not a
        regular file, or locked by another run (see :mod:`posture.outputs`).
    """
    if workers == "auto" and engine != "ray":
        from ..threads import auto_workers

        workers = auto_workers()
    if workers != "auto" and workers < 1:
        raise PostureError("--workers must be at least 1", code="bad_argument")
    if engine == "ray" and isinstance(inputs, str) and "://" in inputs:
        from ..engines.uris import expand_uri

        files = expand_uri(inputs)  # URIs as listed: a path's normalisation would break them
    else:
        files = expand_inputs(inputs) if isinstance(inputs, str) else unique_files(
            inputs, keep_missing=True)
    out_csv, jsonl_path = Path(out_csv), Path(jsonl) if jsonl else None
    # a glob such as 'dir/*' also matches our own CSV/JSONL in dir: they are not photos
    files = [f for f in files if f.lower().endswith(IMAGE_EXTENSIONS) or not any(
        o is not None and same_file(f, o) for o in (out_csv, jsonl_path))]
    if annotate_dir is not None:  # the folder, before any output is created
        check_annotations({}, Path(annotate_dir), files, [], overwrite=overwrite)
    writer = Outputs(out_csv, jsonl_path, Path(annotate_dir) if annotate_dir else None,
                      files, overwrite=overwrite)
    try:
        todo_files = [f for f in files if resume_key(f) not in writer.done]
        annots, redraw = {}, set()
        if annotate_dir is not None:
            annots = annotation_names(files, annotate_dir)
            # rows already there whose overlay is missing (a full disk, a read-only folder,
            # or --annotate added on a rerun): analysed again for the overlay only
            redraw = {f for f in files if resume_key(f) in writer.analysed
                      and not os.path.lexists(annots[f])}
            check_annotations({f: annots[f] for f in todo_files + sorted(redraw)},
                              Path(annotate_dir), files, [out_csv, jsonl_path],
                              overwrite=overwrite, create=True)
    except BaseException:
        writer.close()
        raise
    todo = deque((f, annots.get(f)) for f in todo_files + sorted(redraw))
    skipped = len(files) - len(todo_files)

    from tqdm import tqdm

    bar = tqdm(total=len(todo), unit="img", disable=not progress, file=sys.stderr,
               desc="analysing")
    processed = redrawn = 0
    overlay_errors: Counter[str] = Counter()
    first_overlay_error: list[str] = []

    def on_result(file: str, d: dict) -> None:
        nonlocal processed, redrawn
        failed = d.pop(OVERLAY_ERROR, None)
        if file in redraw:  # its row is there already: only the overlay was wanted
            if failed is None and d.get("error"):
                failed = d["error"]
            redrawn += failed is None
        else:
            writer.write(file, d)  # the measurement, whatever became of its overlay
            processed += 1
        if failed is not None:
            overlay_errors[failed.get("code") or "internal_error"] += 1
            if not first_overlay_error:
                first_overlay_error.append(f"{file}: {failed.get('message')}")
        bar.update(1)

    try:
        if not todo:
            pass
        elif engine == "ray":
            from ..engines.ray_engine import run_ray

            run_ray(todo, on_result, model=model, workers=workers,
                    analyzer_factory=analyzer_factory, **(engine_options or {}))
        elif workers == 1:
            from ..analysis import Analyzer
            from ..threads import worker_threads

            with worker_threads(), (analyzer_factory or (lambda: Analyzer(model)))() as analyzer:
                while todo:
                    file, annot = todo.popleft()
                    on_result(file, analyze_file(analyzer, file, annot))
        else:
            pool = Pool(min(workers, len(todo)), model)
            try:
                pool.run(todo, on_result)
            except BaseException:
                pool.kill()
                raise
            pool.close()
    finally:
        bar.close()
        writer.close()
    return dataclasses.replace(
        summarize(out_csv, processed=processed, skipped=skipped), overlays_redrawn=redrawn,
        overlay_errors=dict(overlay_errors),
        first_overlay_error=first_overlay_error[0] if first_overlay_error else None)
