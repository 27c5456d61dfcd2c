"""Image input: bytes, files or arrays to an upright RGB ``uint8`` frame.

Every failure caused by the input raises :class:`posture.errors.InputError` with a stable
``code``; nothing here writes files.

Codes
-----
``file_not_found``     the path does not exist
``not_a_regular_file`` a folder, FIFO, device (e.g. a link to ``/dev/zero``) or socket
``file_unreadable``    the file exists but cannot be read (permissions, I/O error)
``empty_file``         zero bytes
``file_too_large``     more bytes than ``max_bytes`` (checked before reading it all)
``not_an_image``       the bytes are not in any image format we read
``unsupported_image``  an image, but in a format, mode or array layout we do not read
``corrupt_image``      a known format whose pixel data cannot be decoded (e.g. truncated), or a
                       JPEG of more scans than :data:`MAX_JPEG_SCANS` (decoding would stall)
``too_many_segments``  a JPEG of more metadata segments than :data:`MAX_JPEG_METADATA_SEGMENTS`
                       or a PNG of more chunks than :data:`MAX_PNG_CHUNKS` /
                       :data:`MAX_PNG_METADATA_CHUNKS`: refused from a scan of the structure,
                       before Pillow parses it (the parse would take seconds and gigabytes)
``image_too_large``    more pixels than ``max_pixels`` (checked from the header, before decoding)
``image_too_small``    short side < :data:`MIN_SIDE_PX` or long side < :data:`MIN_LONG_SIDE_PX`
"""

from __future__ import annotations

import dataclasses
import io
import logging
import os
import re
import stat
import struct
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from posture.errors import InputError

# THE size limit, in one place: the app's uploader and .streamlit/config.toml use
# MAX_UPLOAD_MB. 50 MB: the largest phone photos (50 MP HEIC/JPEG) are 15-30 MB; a file twice
# that is not a photo we can use, and reading it all into memory first would be the attack.
# Decimal megabytes, because Streamlit's uploader counts 1 MB = 1,000,000 bytes in the
# browser (except on Windows, where it counts 2**20 and the library refuses the excess with
# file_too_large); its server allows maxUploadSize * 2**20 bytes, more than this.
MAX_UPLOAD_MB = 50
DEFAULT_MAX_BYTES = MAX_UPLOAD_MB * 1_000_000
#: File name endings of the formats we read, in one place (batch folders, every uploader).
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".heic", ".heif")
#: The same, as upload widgets want them (no dot).
UPLOAD_TYPES = tuple(e[1:] for e in IMAGE_EXTENSIONS)
# 50 megapixels: phone sensors top out at 48-50 MP (8160 x 6120 = 49.9 MP). Decoded as RGB that
# is 150 MB; beyond it a tiny file declaring huge dimensions (a "decompression bomb") could
# exhaust memory. The pose model works at 256 px, so nothing is lost by refusing more.
DEFAULT_MAX_PIXELS = 50_000_000
# A baseline JPEG has one scan, a progressive one about ten, an MPO a few per picture. libjpeg
# works through every scan however empty: 100,000 empty scans (a 1.7 MB file) in a 4096 x 4096
# JPEG take ~50 s to decode, and 50 MB of them would tie up a worker for many minutes.
MAX_JPEG_SCANS = 1000
# APPn and COM segments (EXIF, XMP, ICC, maker notes, comments) before the end of the first
# picture. A phone JPEG has under 20; an ICC profile is split into at most 255 APP2 segments
# and extended XMP into 64 KB APP1 segments (about 800 in a 50 MB file). Pillow parses every
# segment in Python and keeps each: 11.7 million empty APP2 markers (47 MB) took 18.9 s and
# 1.8 GB in Image.open.
MAX_JPEG_METADATA_SEGMENTS = 1000
# Bytes that are not part of any segment (libjpeg skips them with a warning; Pillow's header
# loop reads them one at a time in Python).
MAX_JPEG_JUNK_BYTES = 1 << 20
# PNG chunks up to the end of the first picture's pixel data. Encoders write IDAT chunks of
# 8-64 KB (a 50 MB PNG: under 7,000), and a handful of metadata chunks; 3.65 million tiny
# chunks took Pillow 5.8 s.
MAX_PNG_CHUNKS = 100_000
MAX_PNG_METADATA_CHUNKS = 1000
# A standing person fills the long side of a side view and a third of the short one, so a
# side view may be narrow: a 47x157 copy of a 93x314 real photo still reads within 0.3 deg
# of it, while at 24x79 the reading moved by 2.7 deg (2026-12-02).
MIN_SIDE_PX = 32
MIN_LONG_SIDE_PX = 64

# Formats we let Pillow decode. Anything else Pillow knows (EPS, PSD, ...) is refused as
# unsupported: fewer parsers exposed to untrusted bytes, and none that shell out.
# JPEG includes MPO, the multi-picture JPEGs many phones write. HEIF is present once
# pillow-heif is registered; AVIF only where Pillow was built with it.
_ALLOWED_FORMATS = ("JPEG", "PNG", "WEBP", "HEIF", "AVIF", "GIF", "BMP", "TIFF")

# EXIF orientation tag (0x0112) -> the transpose that makes the image upright.
_ORIENTATION_TAG = 0x0112
_TRANSPOSE_FOR_ORIENTATION = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}

log = logging.getLogger(__name__)

_heif_lock = threading.Lock()
_heif_registered = False


@dataclass(frozen=True)
class Frame:
    """A decoded, upright RGB image.

    Attributes
    ----------
    rgb : numpy.ndarray
        ``H x W x 3`` ``uint8``, C-contiguous, EXIF orientation already applied.
    source : str
        The file name, ``"<bytes>"`` or ``"<array>"``.
    exif_orientation : int
        The EXIF orientation tag that was applied (1 = none, also for arrays).
    format : str or None
        Pillow's name of the container format (``"JPEG"``, ``"PNG"``, ``"HEIF"``, ...);
        ``None`` for arrays.
    notes : tuple of (code, message)
        What the decoder warned about and we worked around, e.g. ``("exif_unreadable",
        ...)`` for damaged EXIF (the photo is used, its orientation tag taken as absent).
        Decoder warnings never reach stderr.
    """

    rgb: np.ndarray
    source: str
    exif_orientation: int = 1
    format: str | None = None
    notes: tuple[tuple[str, str], ...] = ()

    @property
    def width(self) -> int:
        """Width in pixels."""
        return int(self.rgb.shape[1])

    @property
    def height(self) -> int:
        """Height in pixels."""
        return int(self.rgb.shape[0])


def load_image(
    src: str | os.PathLike | bytes | bytearray | memoryview | np.ndarray,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> Frame:
    """Load an image from a path, encoded bytes or an array.

    Parameters
    ----------
    src
        A path to an image file; the encoded file content as bytes; or an array, which is
        taken as RGB when ``H x W x 3`` (not BGR: convert OpenCV frames first) and as
        grayscale when ``H x W`` or ``H x W x 1``. Arrays must be ``uint8``.
    max_bytes
        Largest accepted encoded size in bytes.
    max_pixels
        Largest accepted width x height in pixels, checked from the header before decoding.

    Returns
    -------
    Frame
        Upright RGB pixels. Alpha is composited on white; grayscale, palette, 16-bit and CMYK
        images are converted; of an animation only the first frame is used.

    Raises
    ------
    InputError
        With one of the codes listed in the module docstring.
    """
    if isinstance(src, np.ndarray):
        return _frame_from_array(src, max_pixels=max_pixels)
    if isinstance(src, bytes | bytearray | memoryview):
        data = bytes(src)
        _check_byte_count(len(data), max_bytes, "<bytes>")
        return _decode(data, "<bytes>", max_pixels=max_pixels)
    if isinstance(src, str | os.PathLike):
        path = Path(src)
        data = _read_file(path, max_bytes)
        return _decode(data, path.name, max_pixels=max_pixels)
    raise InputError(
        f"cannot load an image from a {type(src).__name__}; pass a path, bytes or an array",
        code="unsupported_image",
    )


def _read_file(path: Path, max_bytes: int) -> bytes:
    """Read a regular file, refusing empty, oversized and non-regular files before reading.

    The file is opened without blocking (a FIFO would otherwise wait for a writer forever)
    and checked again through the open descriptor, so a path swapped after the first check
    is still refused.
    """
    try:
        st = path.stat()
    except FileNotFoundError:
        if path.is_symlink():
            raise InputError(f"{path} is a broken symbolic link", code="file_not_found") from None
        raise InputError(f"no such file: {path}", code="file_not_found") from None
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}", code="file_unreadable") from None
    _check_regular(st, path)
    _check_byte_count(st.st_size, max_bytes, str(path))
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}", code="file_unreadable") from None
    try:
        _check_regular(os.fstat(fd), path)
        with os.fdopen(fd, "rb", closefd=False) as fh:
            # Read at most one byte past the limit: the file may have grown since stat().
            data = fh.read(max_bytes + 1)
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}", code="file_unreadable") from None
    finally:
        os.close(fd)
    _check_byte_count(len(data), max_bytes, str(path))
    return data


def _check_regular(st: os.stat_result, path: Path) -> None:
    if stat.S_ISREG(st.st_mode):
        return
    kind = ("a folder" if stat.S_ISDIR(st.st_mode) else "a FIFO (named pipe)"
            if stat.S_ISFIFO(st.st_mode) else "a device" if stat.S_ISCHR(st.st_mode)
            or stat.S_ISBLK(st.st_mode) else "a socket" if stat.S_ISSOCK(st.st_mode)
            else "not a regular file")
    raise InputError(f"{path} is {kind}, not a photo file", code="not_a_regular_file")


def _check_byte_count(n: int, max_bytes: int, where: str) -> None:
    if n == 0:
        raise InputError(f"{where} is empty (0 bytes)", code="empty_file")
    if n > max_bytes:
        raise InputError(
            f"{where} is {n / 1e6:.1f} MB; the limit is {max_bytes / 1e6:.1f} MB "
            f"({max_bytes:,} bytes)",
            code="file_too_large",
        )


def _check_dimensions(width: int, height: int, max_pixels: int, where: str) -> None:
    if width * height > max_pixels:
        raise InputError(
            f"{where} is {width}x{height} = {width * height / 1e6:.1f} megapixels; "
            f"the limit is {max_pixels / 1e6:.1f} megapixels",
            code="image_too_large",
        )
    if min(width, height) < MIN_SIDE_PX or max(width, height) < MIN_LONG_SIDE_PX:
        raise InputError(
            f"{where} is {width}x{height} px; it must be at least {MIN_SIDE_PX} px on its "
            f"short side and {MIN_LONG_SIDE_PX} px on its long side",
            code="image_too_small",
        )


def _frame_from_array(arr: np.ndarray, *, max_pixels: int) -> Frame:
    """Validate an in-memory array and return it as an RGB frame (always a copy)."""
    if arr.dtype != np.uint8:
        raise InputError(f"arrays must be uint8, got {arr.dtype}", code="unsupported_image")
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    elif not (arr.ndim == 3 and arr.shape[2] == 3):
        raise InputError(
            f"arrays must be H x W x 3 (RGB) or H x W (gray), got shape {arr.shape}",
            code="unsupported_image",
        )
    _check_dimensions(arr.shape[1], arr.shape[0], max_pixels, "<array>")
    return Frame(rgb=np.array(arr, dtype=np.uint8, order="C"), source="<array>")


def _looks_like_heif(data: bytes) -> bool:
    """ISO-BMFF files (HEIC, HEIF, AVIF) start with a size and an ``ftyp`` box."""
    return len(data) >= 12 and data[4:8] == b"ftyp"


def _register_heif() -> bool:
    """Register pillow-heif's opener once, on first need (importing it costs ~100 ms)."""
    global _heif_registered
    with _heif_lock:
        if not _heif_registered:
            try:
                import pillow_heif
            except ImportError:
                return False
            pillow_heif.register_heif_opener()
            _heif_registered = True
    return True


def _open(data: bytes, where: str) -> Image.Image:
    """Parse the header only; map every failure to an :class:`InputError`."""
    if _looks_like_heif(data) and not _register_heif():
        raise InputError(
            f"{where} looks like HEIC/HEIF but pillow-heif is not installed",
            code="unsupported_image",
        )
    try:
        with warnings.catch_warnings():
            # We apply our own, stricter pixel limit right after opening.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            return Image.open(io.BytesIO(data), formats=_available_formats())
    except Image.DecompressionBombError as exc:
        raise InputError(f"{where}: {exc}", code="image_too_large") from None
    except Image.UnidentifiedImageError:
        pass
    except Exception as exc:  # a known format whose header is broken
        raise InputError(f"{where} is not a readable image ({exc})", code="corrupt_image") from None
    known = _claimed_format(data)
    if known is not None:  # the signature of a format we read, but its header did not parse
        raise InputError(f"{where} looks like {known} but is damaged", code="corrupt_image")
    other = _identify_any_format(data)
    if other is not None:
        raise InputError(
            f"{where} is a {other} image; use JPEG, PNG, WebP or HEIC", code="unsupported_image"
        )
    raise InputError(f"{where} is not an image in a format we read", code="not_an_image")


def _available_formats() -> tuple[str, ...]:
    """The allowed formats this Pillow build (plus pillow-heif, if registered) can open."""
    Image.init()
    return tuple(f for f in _ALLOWED_FORMATS if f in Image.OPEN)


def _claimed_format(data: bytes) -> str | None:
    """The allowed format whose signature ``data`` starts with, if any."""
    prefix = data[:16]
    for fmt in _available_formats():
        accept = Image.OPEN[fmt][1]
        try:
            claimed = accept is not None and accept(prefix)
        except Exception:
            continue
        # Some plugins answer with a warning string rather than a bool; only True-ish counts.
        if claimed and not isinstance(claimed, str):
            return fmt
    return None


def _identify_any_format(data: bytes) -> str | None:
    """Name the format of an image we refuse, for a helpful message; header parse only."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data)) as im:
                return im.format
    except Exception:
        return None


def _check_jpeg_scans(data: bytes, where: str) -> None:
    # Entropy-coded data stuffs every 0xFF byte (FF 00), so FF DA occurs only as a
    # start-of-scan marker or inside another segment (e.g. an EXIF thumbnail): the count can
    # only be too high, never too low.
    scans = data.count(b"\xff\xda")
    if scans > MAX_JPEG_SCANS:
        raise InputError(
            f"{where} is a JPEG of {scans} scans; at most {MAX_JPEG_SCANS} are accepted "
            "(a photo has at most a few dozen)",
            code="corrupt_image",
        )


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# markers without a length field: TEM, RSTn, SOI, EOI
_JPEG_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8), 0xD8, 0xD9})
# inside entropy-coded data a marker is 0xFF followed by anything but 0x00 (stuffing), RSTn
# (restart) or 0xFF (fill)
_JPEG_FILL = re.compile(rb"\xff+")
_JPEG_NEXT_MARKER = re.compile(rb"\xff+(?=[^\x00\xd0-\xd7\xff])")


def check_structure(data: bytes, where: str) -> None:
    """Refuse a JPEG or PNG whose structure would make parsing it slow or large.

    A cheap walk over the segment (JPEG) or chunk (PNG) headers, jumping over their
    contents, up to the end of the first picture; at most a few thousand steps before it
    answers. Pillow and libjpeg/zlib see the bytes only after this passes. Other formats,
    and damage this walk does not understand, are left to the decoder.

    Raises
    ------
    InputError
        ``too_many_segments`` past :data:`MAX_JPEG_METADATA_SEGMENTS`,
        :data:`MAX_PNG_CHUNKS` or :data:`MAX_PNG_METADATA_CHUNKS`; ``corrupt_image`` past
        :data:`MAX_JPEG_JUNK_BYTES` of bytes outside any JPEG segment.
    """
    if data[:3] == b"\xff\xd8\xff":
        _walk_jpeg(data, where)
    elif data[:8] == _PNG_SIGNATURE:
        _walk_png(data, where)


def _too_many(where: str, what: str, limit: int) -> InputError:
    return InputError(f"{where} has more than {limit:,} {what}; a photo has far fewer "
                      "(refused before decoding)", code="too_many_segments")


def _walk_jpeg(data: bytes, where: str) -> None:
    n, pos, meta, junk = len(data), 2, 0, 0
    while pos < n:
        if data[pos] != 0xFF:  # bytes outside any segment
            nxt = data.find(b"\xff", pos)
            nxt = n if nxt < 0 else nxt
            junk += nxt - pos
            if junk > MAX_JPEG_JUNK_BYTES:
                raise InputError(f"{where} holds more than {MAX_JPEG_JUNK_BYTES:,} bytes "
                                 "outside its JPEG segments", code="corrupt_image")
            pos = nxt
            continue
        fill = _JPEG_FILL.match(data, pos).end() - 1  # 0xFF fill bytes before a marker
        junk += fill - pos
        pos = fill
        if junk > MAX_JPEG_JUNK_BYTES:
            raise InputError(f"{where} holds more than {MAX_JPEG_JUNK_BYTES:,} fill bytes",
                             code="corrupt_image")
        if pos + 1 >= n:
            return
        marker = data[pos + 1]
        pos += 2
        if marker == 0xD9:  # EOI: the first picture ends (an MPO's others are not decoded)
            return
        if marker in _JPEG_STANDALONE or marker == 0x00:
            continue
        if pos + 2 > n:
            return
        length = (data[pos] << 8) | data[pos + 1]
        if 0xE0 <= marker <= 0xEF or marker == 0xFE:  # APPn, COM
            meta += 1
            if meta > MAX_JPEG_METADATA_SEGMENTS:
                raise _too_many(where, "JPEG metadata (APP/COM) segments",
                                MAX_JPEG_METADATA_SEGMENTS)
        pos += max(length, 2)
        if marker == 0xDA:  # start of scan: jump over the entropy-coded data
            m = _JPEG_NEXT_MARKER.search(data, pos)
            if m is None:
                return
            pos = m.end() - 1


def _walk_png(data: bytes, where: str) -> None:
    n, pos, chunks, meta, in_pixels = len(data), 8, 0, 0, False
    while pos + 8 <= n:
        length, kind = struct.unpack_from(">I4s", data, pos)
        if kind in (b"IDAT", b"fdAT"):
            in_pixels = True
        elif in_pixels or kind == b"IEND":  # the first picture's pixel data ended
            return
        else:
            meta += 1
            if meta > MAX_PNG_METADATA_CHUNKS:
                raise _too_many(where, "PNG metadata chunks", MAX_PNG_METADATA_CHUNKS)
        chunks += 1
        if chunks > MAX_PNG_CHUNKS:
            raise _too_many(where, "PNG chunks", MAX_PNG_CHUNKS)
        pos += 12 + length


def _orientation(im: Image.Image) -> int:
    """The EXIF orientation tag, or 1 when absent or invalid."""
    try:
        value = im.getexif().get(_ORIENTATION_TAG, 1)
    except Exception:  # malformed EXIF must not make a readable photo unreadable
        return 1
    return value if value in _TRANSPOSE_FOR_ORIENTATION else 1


def _decoder_applied_orientation(info: dict) -> int:
    value = info.get("original_orientation", 1)
    return value if value in _TRANSPOSE_FOR_ORIENTATION else 1


def _decode(data: bytes, where: str, *, max_pixels: int) -> Frame:
    check_structure(data, where)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        frame = _decode_checked(data, where, max_pixels=max_pixels)
    notes = []
    for w in caught:
        text = " ".join(str(w.message).split())
        # EXIF is a TIFF structure: Pillow's TIFF reader warns about a damaged one
        exif = "exif" in text.lower() or "TiffImagePlugin" in (w.filename or "")
        code = "exif_unreadable" if exif else "decoder_warning"
        if (code, text) not in notes:
            notes.append((code, text))
    if notes:
        log.debug("%s: %s", where, notes)
        frame = dataclasses.replace(frame, notes=tuple(notes))
    return frame


def _decode_checked(data: bytes, where: str, *, max_pixels: int) -> Frame:
    im = _open(data, where)
    with im:
        fmt = im.format
        # Header dimensions, before any pixel is decoded.
        _check_dimensions(im.width, im.height, max_pixels, where)
        if fmt in ("JPEG", "MPO"):
            _check_jpeg_scans(data, where)
        orientation = _orientation(im)
        info = dict(im.info)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                im.seek(0)  # animations: the first frame
                im.load()
                rgb = _to_rgb(im)
        except InputError:
            raise
        except Exception as exc:
            raise InputError(
                f"{where} could not be decoded ({exc})", code="corrupt_image"
            ) from None
    if orientation != 1:
        rgb = rgb.transpose(_TRANSPOSE_FOR_ORIENTATION[orientation])
    else:
        # libheif rotates HEIC while decoding and pillow-heif then resets the EXIF tag to 1,
        # keeping the original value here: report it, but do not rotate twice.
        orientation = _decoder_applied_orientation(info)
    arr = np.array(rgb, dtype=np.uint8, order="C")
    if arr.ndim != 3 or arr.shape[2] != 3:  # defensive: a plugin returned something odd
        raise InputError(f"{where} decoded to shape {arr.shape}", code="unsupported_image")
    return Frame(rgb=arr, source=where, exif_orientation=orientation, format=fmt)


def _to_rgb(im: Image.Image) -> Image.Image:
    """Convert any decoded mode to 8-bit RGB; alpha is composited on white."""
    if im.mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
    mode = im.mode
    if mode == "RGB":
        return im
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        return _composite_on_white(im.convert("RGBA"))
    if mode in ("L", "1", "CMYK", "YCbCr", "LAB", "HSV"):
        return im.convert("RGB")
    if mode.startswith("I") or mode == "F":
        gray = _high_depth_to_uint8(np.asarray(im))
        return Image.fromarray(gray).convert("RGB")
    raise InputError(f"images in mode {mode} are not supported", code="unsupported_image")


def _composite_on_white(rgba: Image.Image) -> Image.Image:
    white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return Image.alpha_composite(white, rgba).convert("RGB")


def _high_depth_to_uint8(values: np.ndarray) -> np.ndarray:
    """Map 16-bit, 32-bit integer or float gray levels to 0-255.

    16-bit data (the common case: 16-bit PNG/TIFF) is scaled by 255/65535 so that brightness is
    kept; other ranges (float, negative or beyond 16 bits) are stretched min-to-max.
    """
    v = values.astype(np.float64)
    if v.size == 0 or not np.all(np.isfinite(v)):
        v = np.nan_to_num(v, nan=0.0, posinf=0.0, neginf=0.0)
    if np.issubdtype(values.dtype, np.integer) and v.min() >= 0 and v.max() <= 65535:
        scaled = v * (255.0 / 65535.0)
    elif values.dtype.kind == "f" and v.min() >= 0 and v.max() <= 1:
        scaled = v * 255.0
    else:
        lo, hi = float(v.min()), float(v.max())
        scaled = (v - lo) * (255.0 / (hi - lo)) if hi > lo else np.zeros_like(v)
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)
