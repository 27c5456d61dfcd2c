"""The inputs of a batch: the image files of a folder, a glob or a list, each real file
once, and the names of their annotated images and resume keys."""

from __future__ import annotations

import fnmatch
import glob
import os
import stat
from collections.abc import Iterable
from pathlib import Path

from ..errors import InputError
from ..images import IMAGE_EXTENSIONS  # one list of readable formats


def expand_inputs(spec: str) -> list[str]:
    """Image paths of a folder (its files with image extensions, not recursive) or a glob
    pattern (``**`` recurses, following links to folders but never into a folder already
    seen, so a symlink loop ends), sorted, each real file once."""
    if os.path.isdir(spec):
        found = [os.path.join(spec, n) for n in os.listdir(spec)
                 if n.lower().endswith(IMAGE_EXTENSIONS)]
    elif "**" in spec:
        found = list(_walk_glob(spec))
    else:
        found = glob.glob(spec)
    files = unique_files(found, keep_missing=False)
    if not files:
        raise InputError(f"no image files found for {spec!r}", code="no_inputs")
    return files


def unique_files(paths: Iterable[str], *, keep_missing: bool) -> list[str]:
    """Normalised paths, sorted, one per real file (links and hard links to a file already
    listed are dropped; the shallowest path is kept). Non-regular files are dropped; paths
    that do not exist are kept only with ``keep_missing`` (they become error rows)."""
    norm = sorted({os.path.normpath(p) for p in paths},
                  key=lambda p: (p.count(os.sep), p))
    seen: set = set()
    out = []
    for p in norm:
        try:
            st = os.stat(p)
        except (OSError, ValueError):
            if keep_missing:
                out.append(p)
            continue
        if not keep_missing and not stat.S_ISREG(st.st_mode):
            continue
        key = (st.st_dev, st.st_ino)
        if key in seen:
            continue
        seen.add(key)
        out.append(p)
    return sorted(out)


def _walk_glob(spec: str) -> Iterable[str]:
    """``glob.glob(spec, recursive=True)`` for files, without running round a symlink loop
    (which the standard glob follows until the OS refuses: one photo became 81 paths)."""
    parts = spec.split(os.sep)
    i = next(k for k, part in enumerate(parts) if glob.has_magic(part))
    prefix = os.sep.join(parts[:i])
    if i == 1 and parts[0] == "":
        prefix = os.sep
    root = prefix or os.curdir
    segments = [seg for seg in parts[i:] if seg]
    visited: set[tuple[int, int]] = set()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        try:
            st = os.stat(dirpath)
        except OSError:
            dirnames[:] = []
            continue
        if (st.st_dev, st.st_ino) in visited:  # reached again through a link: a loop
            dirnames[:] = []
            continue
        visited.add((st.st_dev, st.st_ino))
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))  # as glob
        rel = os.path.relpath(dirpath, root)
        for name in filenames:
            if name.startswith("."):
                continue
            relpath = name if rel == os.curdir else os.path.join(rel, name)
            if _glob_match(segments, relpath.split(os.sep)):
                yield os.path.join(prefix, relpath) if prefix else relpath


def _glob_match(segments: list[str], parts: list[str]) -> bool:
    """Whether path components match glob segments (``**`` = any number of folders)."""
    if not segments:
        return not parts
    if segments[0] == "**":
        return any(_glob_match(segments[1:], parts[k:]) for k in range(len(parts) + 1))
    return bool(parts) and fnmatch.fnmatchcase(parts[0], segments[0]) and _glob_match(
        segments[1:], parts[1:])


def annotation_names(files: Iterable[str], out_dir: str | os.PathLike) -> dict[str, str]:
    """A distinct ``OUT_DIR/<stem>.png`` per input (``<stem>-2.png`` on a name clash)."""
    taken: set[str] = set()
    out = {}
    for f in files:
        stem, n = Path(f).stem, 1
        name = f"{stem}.png"
        while name in taken:
            n += 1
            name = f"{stem}-{n}.png"
        taken.add(name)
        out[f] = os.path.join(os.fspath(out_dir), name)
    return out


def resume_key(file: str) -> str:
    """The resume key of a path: normalised as inputs are (``a//b`` = ``a/b``), nothing
    else (spaces, newlines and case are kept); URIs as they are."""
    return file if "://" in file else os.path.normpath(file)
