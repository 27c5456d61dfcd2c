"""Getting a bundle from the official model storage (streamed to a temp file, size-capped)."""

from __future__ import annotations

import os
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from .bundle import (
    DOWNLOAD_TIMEOUT_S,
    MAX_DOWNLOAD_BYTES,
    ModelBundle,
    _install,
    _remove_quietly,
    _SourceFailed,
    cached_path,
    download_url,
)

# --- download --------------------------------------------------------------------------


def _download(variant: str, progress: bool) -> ModelBundle:
    url = download_url(variant)
    dest = cached_path(variant)
    try:
        with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as resp:  # noqa: S310
            total = int(resp.headers.get("Content-Length") or 0) or None
            if total and total > MAX_DOWNLOAD_BYTES:
                raise _SourceFailed(f"refusing {total} bytes (limit {MAX_DOWNLOAD_BYTES})")
            info = {
                "etag": resp.headers.get("ETag"),
                "last_modified": resp.headers.get("Last-Modified"),
            }
            tmp = _stream_to_temp(resp, dest, total, progress, f"download {variant}")
    except urllib.error.HTTPError as exc:
        raise _SourceFailed(f"HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        raise _SourceFailed(f"unreachable ({exc.reason})") from None
    except (TimeoutError, OSError) as exc:
        raise _SourceFailed(f"failed ({exc})") from None
    prov = {
        "source": "download",
        "variant": variant,
        "url": url,
        "http": {k: v for k, v in info.items() if v},
        "inputs": [],
    }
    return _install(tmp, dest, variant, "download", prov)


def _stream_to_temp(resp, dest: Path, total: int | None, progress: bool, desc: str) -> Path:
    """Copy a response into a temp file beside ``dest``; remove it on any failure."""
    from tqdm import tqdm

    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=dest.name + ".", suffix=".part", dir=dest.parent)
    tmp = Path(name)
    try:
        with (
            os.fdopen(fd, "wb") as out,
            tqdm(
                total=total,
                unit="B",
                unit_scale=True,
                desc=desc,
                file=sys.stderr,
                disable=not progress,
            ) as bar,
        ):
            n = 0
            while chunk := resp.read(1 << 16):
                n += len(chunk)
                if n > MAX_DOWNLOAD_BYTES:
                    raise _SourceFailed(f"more than {MAX_DOWNLOAD_BYTES} bytes; stopped")
                out.write(chunk)
                bar.update(len(chunk))
        if total is not None and n != total:
            raise _SourceFailed(f"connection closed after {n} of {total} bytes")
    except BaseException:
        _remove_quietly(tmp)
        raise
    return tmp


