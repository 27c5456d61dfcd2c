"""Batch screening: analyse many photos into one CSV (and optionally JSONL) file.

Guarantees
----------
* One row per input image: ``file`` plus the fields of ``posture analyze --json``
  (:data:`CSV_COLUMNS`; the JSONL form has the whole contract, landmarks included). A file
  that cannot be analysed becomes a row with its error code; it never ends the run.
* Resumable: files already in the CSV are skipped. Each row is written and flushed as soon
  as its image is done, so killing the run loses at most the images in flight; a line cut
  short by the kill is removed on the next run, and that image is analysed again.
* Parallel: ``workers`` processes, each holding one :class:`~posture.analysis.Analyzer`
  for its whole life and closing it when told to stop.
* The JSONL is locked like the CSV, and each record starts with ``batch_csv``, the real
  path of the CSV whose run wrote it: several runs (different ``--out``) may share one
  JSONL, and a run only ever takes out records of its own CSV for files it is about to
  analyse again (a kill between the two writes) and a record cut short; a file holding
  anything else is not ours (``output_mismatch`` unless ``--overwrite``).
* ``--annotate``: the folder is tried for writing before the run. An overlay that cannot
  be written mid-run (a full disk) does not cost its photo the measurement: the row is
  written as analysed, the summary counts the overlay as not written, and the next run
  draws the missing overlays of analysed rows again (re-analysing those photos, writing
  no second row).

Resume keys are the paths as enumerated (normalised), so resume from the same working
directory with the same DIR_OR_GLOB.
"""

from __future__ import annotations

from .files import check_annotations
from .inputs import annotation_names, expand_inputs
from .rows import CSV_COLUMNS, BatchSummary, csv_row, summarize
from .run import run_batch

__all__ = ["CSV_COLUMNS", "BatchSummary", "annotation_names", "check_annotations", "csv_row",
           "expand_inputs", "run_batch", "summarize"]
