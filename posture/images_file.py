"""Reading a user's file in bounded time and memory: a photo, or an analysis JSON.

A path may name a FIFO (opening it waits for a writer forever), a device such as
``/dev/zero`` (reading it never ends) or a file larger than anything we would use. Every
file the tool reads on a user's say-so goes through :func:`read_regular_file`.

Codes: ``file_not_found``, ``not_a_regular_file``, ``file_unreadable``, ``empty_file``,
``file_too_large`` (all :class:`~posture.errors.InputError`, exit code 2).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from posture.errors import InputError


def read_regular_file(path: str | os.PathLike, max_bytes: int, *,
                      what: str = "photo file") -> bytes:
    """Read a regular file, refusing empty, oversized and non-regular files before reading.

    The file is opened without blocking (a FIFO would otherwise wait for a writer forever)
    and checked again through the open descriptor, so a path swapped after the first check
    is still refused; at most ``max_bytes + 1`` bytes are read.

    Parameters
    ----------
    path
        The file.
    max_bytes
        Largest accepted size, bytes.
    what
        What the file should have been, for the message (``"... is a FIFO, not a WHAT"``).

    Raises
    ------
    InputError
        With one of the codes in the module docstring.
    """
    path = Path(path)
    try:
        st = path.stat()
    except FileNotFoundError:
        if path.is_symlink():
            raise InputError(f"{path} is a broken symbolic link", code="file_not_found") from None
        raise InputError(f"no such file: {path}", code="file_not_found") from None
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}", code="file_unreadable") from None
    check_regular(st, path, what)
    check_byte_count(st.st_size, max_bytes, str(path))
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}", code="file_unreadable") from None
    try:
        check_regular(os.fstat(fd), path, what)
        with os.fdopen(fd, "rb", closefd=False) as fh:
            # Read at most one byte past the limit: the file may have grown since stat().
            data = fh.read(max_bytes + 1)
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}", code="file_unreadable") from None
    finally:
        os.close(fd)
    check_byte_count(len(data), max_bytes, str(path))
    return data


def check_regular(st: os.stat_result, path: Path, what: str = "photo file") -> None:
    """Refuse (``not_a_regular_file``) a folder, FIFO, device or socket."""
    if stat.S_ISREG(st.st_mode):
        return
    kind = ("a folder" if stat.S_ISDIR(st.st_mode) else "a FIFO (named pipe)"
            if stat.S_ISFIFO(st.st_mode) else "a device" if stat.S_ISCHR(st.st_mode)
            or stat.S_ISBLK(st.st_mode) else "a socket" if stat.S_ISSOCK(st.st_mode)
            else "not a regular file")
    raise InputError(f"{path} is {kind}, not a {what}", code="not_a_regular_file")


def check_byte_count(n: int, max_bytes: int, where: str) -> None:
    """Refuse zero bytes (``empty_file``) and more than ``max_bytes`` (``file_too_large``)."""
    if n == 0:
        raise InputError(f"{where} is empty (0 bytes)", code="empty_file")
    if n > max_bytes:
        raise InputError(
            f"{where} is {n / 1e6:.1f} MB; the limit is {max_bytes / 1e6:.1f} MB "
            f"({max_bytes:,} bytes)",
            code="file_too_large",
        )
