"""Writing the user's output files without ever harming their other files.

Rules every command follows (``posture analyze --annotate``, ``posture batch``):

* An output never lands on a path that holds an input (same path, symlink or hard link),
  whether the input was given as a path or as a URI that names a local file (``file://``,
  as ``--engine ray`` reads them: :func:`local_path`).
* Two outputs of one command are never the same file.
* A file we did not create is never truncated or replaced unless the user says
  ``--overwrite``; whether a file is ours is decided from its content (a batch CSV's header,
  a JSONL's first record, the ``posture-overlay`` mark in an annotated image) *before* it is
  opened for writing.
* New content goes to a temporary file in the same folder and is renamed into place, so a
  kill leaves the old file or the new one, never half of one.
* Outputs that are not regular files (a folder, ``/dev/full``, a FIFO) or cannot be written
  give a coded error, not a traceback; a folder an output goes to is tried for writing
  (:func:`check_writable_dir`) before any analysis, so a read-only or full folder is found
  before the work, not after it.

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


def local_path(name: str | os.PathLike) -> str | None:
    """The local file a URI names (``file:///d/x.jpg`` → ``/d/x.jpg``, percent-escapes
    decoded, as pyarrow reads it for ``--engine ray``), or None for a URI of another
    filesystem (``s3://``, ...) or a name that is not a URI.

    Every output check compares the inputs through this: the real path of the string
    ``file:///d/x.jpg`` never equals ``/d/x.jpg``, so without it an output could land on an
    input given as a URI.
    """
    text = os.fspath(name)
    if isinstance(text, bytes) or "://" not in text.split("?", 1)[0][:32]:
        return None
    try:  # the reader's own parser, so that the check sees the file the reader reads
        import pyarrow.fs as pafs
    except ImportError:  # no Ray engine here: a file:// URI the standard way
        from urllib.parse import unquote, urlsplit

        parts = urlsplit(text)
        if parts.scheme.lower() in ("file", "local") and parts.netloc in ("", "localhost"):
            return unquote(parts.path, errors="surrogateescape") or None
        return None
    try:
        fs, path = pafs.FileSystem.from_uri(text)
    except (ValueError, OSError, TypeError):  # unreadable by the reader: names no file
        return None
    return path if isinstance(fs, pafs.LocalFileSystem) else None


def _paths(name: str | os.PathLike) -> list[str]:
    """The local paths an input may name: itself as a path and, for a URI, its local file
    (both: the local engine reads ``file:///x`` as the relative path ``file:/x``)."""
    local = local_path(name)
    return [os.fspath(name)] + ([local] if local is not None else [])


def file_key(path: str | os.PathLike) -> tuple[int, int] | None:
    """``(device, inode)`` of the file a path reaches (links followed), or None."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return st.st_dev, st.st_ino


def same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """True when two names (paths, or URIs of local files) reach one file: equal real
    paths, or one inode (hard links)."""
    for pa in _paths(a):
        ra, ka = os.path.realpath(pa), file_key(pa)
        for pb in _paths(b):
            if ra == os.path.realpath(pb) or (ka is not None and ka == file_key(pb)):
                return True
    return False


class InputIndex:
    """The inputs' real paths and ``(device, inode)`` keys, computed once: a batch checks
    every output (one annotated image per photo) against every input, which with a list
    of inputs costs a ``stat`` per pair (10,000 photos: 10^8)."""

    def __init__(self, inputs: Iterable[str | os.PathLike]):
        self.real: dict[str, str | os.PathLike] = {}
        self.keys: dict[tuple[int, int], str | os.PathLike] = {}
        for f in inputs:
            for p in _paths(f):
                self.real.setdefault(os.path.realpath(p), f)
                key = file_key(p)
                if key is not None:
                    self.keys.setdefault(key, f)

    def find(self, out: str | os.PathLike) -> str | os.PathLike | None:
        """The input that ``out`` is (same real path or same file), or None."""
        hit = self.real.get(os.path.realpath(out))
        if hit is None:
            key = file_key(out)
            hit = self.keys.get(key) if key is not None else None
        return hit


def check_not_input(out: str | os.PathLike,
                    inputs: InputIndex | Iterable[str | os.PathLike],
                    what: str = "output") -> None:
    """Refuse ``out`` when it is (or links to) one of ``inputs`` (paths or URIs)."""
    index = inputs if isinstance(inputs, InputIndex) else InputIndex(inputs)
    f = index.find(out)
    if f is not None:
        raise OutputError(f"the {what} {os.fspath(out)!r} is an input ({os.fspath(f)!r}); "
                          "choose another path", code="output_is_input")


def input_within(folder: str | os.PathLike,
                 inputs: InputIndex | Iterable[str | os.PathLike]
                 ) -> str | os.PathLike | None:
    """The first input (path or URI) that lies inside ``folder`` (links resolved), or None."""
    index = inputs if isinstance(inputs, InputIndex) else InputIndex(inputs)
    root = os.path.realpath(folder)
    for real, f in index.real.items():
        if os.path.commonpath([root, real]) == root:
            return f
    return None


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


#: How much of each end of a file :func:`has_overlay_mark` reads: PNG and JPEG carry the
#: mark near the start, WebP in its EXIF chunk after the image data.
_MARK_WINDOW = 65536


def has_overlay_mark(path: str | os.PathLike) -> bool:
    """True when ``path`` is an annotated image we wrote: the mark is in its first or last
    64 KiB (where each format we mark keeps it)."""
    try:
        with open(path, "rb") as f:
            if OVERLAY_MARK in f.read(_MARK_WINDOW):
                return True
            size = os.fstat(f.fileno()).st_size
            if size <= _MARK_WINDOW:
                return False
            f.seek(max(0, size - _MARK_WINDOW - len(OVERLAY_MARK)))
            return OVERLAY_MARK in f.read()
    except OSError:
        return False


def check_writable_dir(folder: str | os.PathLike, what: str = "output folder") -> None:
    """Refuse a folder we cannot write to (read-only, full, not ours to write) before any
    work: a small temporary file is created, written and removed there.

    Raises
    ------
    OutputError
        ``output_not_writable`` naming the folder and the reason (e.g. "the disk is full").
    """
    folder = Path(folder)
    try:
        fd, tmp = tempfile.mkstemp(prefix=".posture-probe.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise not_writable(folder, exc, what) from None
    try:
        os.write(fd, b"\0" * 512)  # a block: a full disk refuses it, an empty file may pass
    except OSError as exc:
        raise not_writable(folder, exc, what) from None
    finally:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(tmp)


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


def prepare_image_output(path: str | os.PathLike,
                         inputs: InputIndex | Iterable[str | os.PathLike], *,
                         overwrite: bool = False, what: str = "annotated image",
                         probe: bool = True) -> bool:
    """Check an annotated-image path before any work: not an input, a regular file or
    absent, ours (or ``overwrite``) if it exists, and in a folder we can write to (tried
    with :func:`check_writable_dir` unless ``probe`` is False: a batch tries its folder
    once). Returns whether it may be replaced."""
    check_not_input(path, inputs, what)
    exists = check_regular_or_absent(path, what)
    if exists and not overwrite and not has_overlay_mark(path):
        raise OutputError(f"{os.fspath(path)!r} exists and was not written by posture; "
                          "choose another path or pass --overwrite", code="output_exists")
    parent = Path(path).parent
    if not parent.is_dir():
        raise OutputError(f"the folder of {os.fspath(path)!r} does not exist",
                          code="output_not_writable")
    if probe:
        check_writable_dir(parent, f"folder of the {what}")
    return exists


def encode_overlay(rgb, path: str | os.PathLike) -> bytes:
    """Image bytes of an RGB array in the format of the path's extension (PNG when it names
    none Pillow writes). PNG, JPEG, WebP, TIFF and GIF carry :data:`OVERLAY_MARK` (a text
    chunk, a comment, or the EXIF ``Software`` tag), so that a rerun knows them as ours;
    other formats (BMP, ...) cannot, and a rerun refuses to replace them without
    ``--overwrite``."""
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
    elif fmt in ("WEBP", "TIFF"):
        exif = Image.Exif()
        exif[0x0131] = OVERLAY_MARK.decode()  # Software
        im.save(buf, format=fmt, exif=exif.tobytes())
    elif fmt == "GIF":
        im.save(buf, format="GIF", comment=OVERLAY_MARK)
    else:  # BMP, ...: no place for the mark
        im.save(buf, format=fmt)
    return buf.getvalue()


def save_overlay(rgb, path: str | os.PathLike, *, replace: bool) -> None:
    """Write an annotated image atomically (see :func:`write_atomic`)."""
    write_atomic(path, encode_overlay(rgb, path), replace=replace, what="annotated image")
