"""Inputs named by URI (``file://``, ``s3://``, ...), read through pyarrow's filesystems.

Used by ``posture batch --engine ray`` (:mod:`posture.engines.ray_engine`): the driver lists
a folder URI here, each actor reads its files here. Only pyarrow is needed, not Ray. Which
local file a ``file://`` URI names, for the output-safety checks, is
:func:`posture.outputs.local_path` (the same parser).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from ..errors import InputError


def is_uri(spec: Any) -> bool:
    """Whether ``spec`` is a URI (``scheme://...``) rather than a local path or glob."""
    return isinstance(spec, str) and "://" in spec.split("?", 1)[0][:32]


def filesystem(uri: str):
    """(pyarrow filesystem, path inside it) of a URI; InputError for a scheme or address
    pyarrow cannot open."""
    import pyarrow.fs as pafs

    try:
        return pafs.FileSystem.from_uri(uri)
    except (ValueError, OSError, TypeError) as exc:  # ArrowInvalid is a ValueError
        raise InputError(f"cannot open {uri!r} ({exc})", code="file_unreadable") from None


def expand_uri(spec: str) -> list[str]:
    """Image URIs of a folder URI (its files with image extensions, not recursive) or of
    one file URI, sorted. ``file:///photos`` gives ``file:///photos/a.jpg``, ...; a name
    with a space or ``%`` is percent-escaped (``a%20b.jpg``), as pyarrow reads a URI back.

    Raises
    ------
    InputError
        ``no_inputs`` when nothing is found; ``file_unreadable`` when the filesystem
        cannot be opened or listed.
    """
    import pyarrow.fs as pafs

    from ..images import IMAGE_EXTENSIONS

    fs, path = filesystem(spec)
    base = spec.split("?", 1)[0]
    scheme = base[: base.index("://") + 3]
    try:
        info = fs.get_file_info(path)
        if info.type == pafs.FileType.Directory:
            infos = fs.get_file_info(pafs.FileSelector(path, recursive=False))
        elif info.type == pafs.FileType.File:
            infos = [info]
        else:
            infos = []
    except OSError as exc:
        raise InputError(f"cannot list {spec!r} ({exc})", code="file_unreadable") from None
    found = []
    for i in infos:
        if i.type == pafs.FileType.File and i.path.lower().endswith(IMAGE_EXTENSIONS):
            # file:// paths are absolute ("/x"), object stores' are "bucket/key"; pyarrow
            # decodes %-escapes when it reads the URI back, so they are escaped here
            found.append(scheme + quote(i.path, safe="/", errors="surrogateescape"))
    if not found:
        raise InputError(f"no image files found for {spec!r}", code="no_inputs")
    return sorted(set(found))


def read_uri(uri: str, max_bytes: int) -> bytes:
    """The bytes of a file URI, with the local reader's error codes."""
    import pyarrow.fs as pafs

    fs, path = filesystem(uri)
    try:
        info = fs.get_file_info(path)
        if info.type == pafs.FileType.NotFound:
            raise InputError(f"no such file: {uri}", code="file_not_found")
        if info.type != pafs.FileType.File:
            raise InputError(f"not a regular file: {uri}", code="file_not_found")
        if info.size == 0:
            raise InputError(f"{uri} is empty (0 bytes)", code="empty_file")
        if info.size is not None and info.size > max_bytes:
            raise InputError(f"{uri} is {info.size / 1e6:.1f} MB; the limit is "
                             f"{max_bytes / 1e6:.1f} MB", code="file_too_large")
        with fs.open_input_stream(path) as f:
            return f.read(max_bytes + 1)
    except OSError as exc:
        raise InputError(f"cannot read {uri}: {exc}", code="file_unreadable") from None
