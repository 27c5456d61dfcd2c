"""Writing the user's output files without ever harming their other files.

Rules every command follows (``posture analyze --annotate``, ``posture batch``):

* An output never lands on a path that holds an input (same path, symlink or hard link).
* Two outputs of one command are never the same file.
* A file we did not create is never truncated or replaced unless the user says
  ``--overwrite``; whether a file is ours is decided from its content (a batch CSV's header,
  a JSONL's first record, the ``posture-overlay`` mark in an annotated image) *before* it is
  opened for writing.
* New content goes to a temporary file in the same folder and is renamed into place, so a
  kill leaves the old file or the new one, never half of one.
* Outputs that are not regular files (a folder, ``/dev/full``, a FIFO) or cannot be written
  give a coded error, not a traceback.

Codes
-----
``output_is_input``     the output path is one of the inputs
``output_conflict``     two outputs of one command are the same file, or an output folder
                        holds inputs
``output_exists``       the file exists and is not ours (use ``--overwrite``)
``output_not_writable`` a folder, device or FIFO, or permissions / disk full
``output_locked``       another ``posture batch`` is writing this output now
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from .errors import OutputError

#: Written into every annotated image we save (PNG text chunk / JPEG comment): an existing
#: file carrying it is ours to replace on a rerun.
OVERLAY_MARK = b"posture-overlay v1"


def file_key(path: str | os.PathLike) -> tuple[int, int] | None:
    """``(device, inode)`` of the file a path reaches (links followed), or None."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return st.st_dev, st.st_ino


def same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """True when two paths name one file: equal real paths, or one inode (hard links)."""
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    ka = file_key(a)
    return ka is not None and ka == file_key(b)


def check_not_input(out: str | os.PathLike, inputs: Iterable[str | os.PathLike],
                    what: str = "output") -> None:
    """Refuse ``out`` when it is (or links to) one of ``inputs``."""
    real, key = os.path.realpath(out), file_key(out)
    for f in inputs:
        if os.path.realpath(f) == real or (key is not None and file_key(f) == key):
            raise OutputError(f"the {what} {os.fspath(out)!r} is an input ({os.fspath(f)!r}); "
                              "choose another path", code="output_is_input")


def check_distinct(outputs: dict[str, str | os.PathLike | None]) -> None:
    """Refuse two named outputs (e.g. ``--out`` and ``--jsonl``) that are one file."""
    named = [(k, v) for k, v in outputs.items() if v is not None]
    for i, (ka, a) in enumerate(named):
        for kb, b in named[i + 1:]:
            if same_file(a, b):
                raise OutputError(f"{ka} and {kb} are the same file ({os.fspath(a)!r}); "
                                  "give each its own path", code="output_conflict")


def check_regular_or_absent(path: str | os.PathLike, what: str = "output") -> bool:
    """True when ``path`` exists (as a regular file), False when absent; refuse anything
    else (folder, device, FIFO, socket, a dangling or looping link)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        if os.path.islink(path):
            raise OutputError(f"the {what} {os.fspath(path)!r} is a broken symbolic link",
                              code="output_not_writable") from None
        return False
    except OSError as exc:
        raise OutputError(f"cannot use {os.fspath(path)!r} as the {what}: {exc.strerror}",
                          code="output_not_writable") from None
    if stat.S_ISDIR(st.st_mode):
        raise OutputError(f"the {what} {os.fspath(path)!r} is a folder; give a file path",
                          code="output_not_writable")
    if not stat.S_ISREG(st.st_mode):
        raise OutputError(f"the {what} {os.fspath(path)!r} is not a regular file (a device, "
                          "FIFO or socket); give a file path", code="output_not_writable")
    return True


def not_writable(path: str | os.PathLike, exc: OSError, what: str = "output") -> OutputError:
    """The coded error for an OSError met while creating or writing an output."""
    reason = exc.strerror or type(exc).__name__
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        reason = "the disk is full"
    return OutputError(f"cannot write the {what} {os.fspath(path)!r}: {reason}",
                       code="output_not_writable")


def has_overlay_mark(path: str | os.PathLike) -> bool:
    """True when ``path`` is an annotated image we wrote (the mark is in its first 64 KiB)."""
    try:
        with open(path, "rb") as f:
            return OVERLAY_MARK in f.read(65536)
    except OSError:
        return False


@contextlib.contextmanager
def _temp_beside(path: Path) -> Iterator[tuple[int, str]]:
    """A new temporary file in ``path``'s folder (same file system, so rename is atomic);
    removed unless the caller renamed it."""
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp",
                                   dir=path.parent or ".")
    except OSError as exc:
        raise not_writable(path, exc) from None
    try:
        yield fd, tmp
    finally:
        with contextlib.suppress(OSError):
            os.close(fd)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def write_atomic(path: str | os.PathLike, data: bytes, *, replace: bool,
                 what: str = "output") -> None:
    """Write ``data`` to a temporary file and rename it to ``path``.

    With ``replace`` False an existing ``path`` is never replaced: the rename is a hard link
    that fails if a file appeared there meanwhile (``output_exists``).
    """
    path = Path(path)
    with _temp_beside(path) as (fd, tmp):
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
            os.fchmod(fd, 0o666 & ~_umask())
            if replace:
                os.replace(tmp, path)
            else:
                try:
                    os.link(tmp, path)
                except FileExistsError:
                    raise OutputError(f"{os.fspath(path)!r} appeared while writing; not "
                                      "replaced", code="output_exists") from None
        except OSError as exc:
            raise not_writable(path, exc, what) from None


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def prepare_image_output(path: str | os.PathLike, inputs: Iterable[str | os.PathLike], *,
                         overwrite: bool = False, what: str = "annotated image") -> bool:
    """Check an annotated-image path before any work: not an input, a regular file or
    absent, and ours (or ``overwrite``) if it exists. Returns whether it may be replaced."""
    check_not_input(path, inputs, what)
    exists = check_regular_or_absent(path, what)
    if exists and not overwrite and not has_overlay_mark(path):
        raise OutputError(f"{os.fspath(path)!r} exists and was not written by posture; "
                          "choose another path or pass --overwrite", code="output_exists")
    parent = Path(path).parent
    if not parent.is_dir():
        raise OutputError(f"the folder of {os.fspath(path)!r} does not exist",
                          code="output_not_writable")
    return exists


def encode_overlay(rgb, path: str | os.PathLike) -> bytes:
    """Image bytes of an RGB array in the format of the path's extension (PNG when it names
    none Pillow writes); PNG and JPEG carry :data:`OVERLAY_MARK`."""
    import io

    from PIL import Image, PngImagePlugin

    im = Image.fromarray(rgb)
    buf = io.BytesIO()
    fmt = Image.registered_extensions().get(Path(path).suffix.lower(), "PNG")
    if fmt == "JPEG":
        im.save(buf, format="JPEG", quality=92, comment=OVERLAY_MARK)
    elif fmt == "PNG" or fmt not in Image.SAVE:
        info = PngImagePlugin.PngInfo()
        info.add_text("Software", OVERLAY_MARK.decode())
        im.save(buf, format="PNG", pnginfo=info)
    else:  # WebP, TIFF, BMP, ...: written as asked, without the mark
        im.save(buf, format=fmt)
    return buf.getvalue()


def save_overlay(rgb, path: str | os.PathLike, *, replace: bool) -> None:
    """Write an annotated image atomically (see :func:`write_atomic`)."""
    write_atomic(path, encode_overlay(rgb, path), replace=replace, what="annotated image")
