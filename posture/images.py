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
``corrupt_image``      a known format whose pixel data cannot be decoded (e.g. truncated), a
                       JPEG of more scans than :data:`MAX_JPEG_SCANS` (decoding would stall),
                       of more than :data:`MAX_JPEG_JUNK_BYTES` outside its segments, or with
                       a table or header longer than the standard allows
``too_many_segments``  a JPEG of more metadata segments than :data:`MAX_JPEG_METADATA_SEGMENTS`,
                       more other segments than :data:`MAX_JPEG_TABLE_SEGMENTS` or more than
                       :data:`MAX_JPEG_FRAME_HEADERS` frame header, or a PNG of more chunks
                       than :data:`MAX_PNG_CHUNKS` / :data:`MAX_PNG_METADATA_CHUNKS`: refused
                       from a walk over the structure (:mod:`posture.images_structure`),
                       before Pillow parses it (the parse would take seconds and gigabytes)
``image_too_large``    more pixels than ``max_pixels``, or a decode that would need more than
                       :data:`MAX_DECODE_BYTES` (both from the header, before decoding)

Decoding needs at most Pillow's frame, the RGB result and one band of rows
(:mod:`posture.images_convert`): never a float or converted copy of the whole frame.
``image_too_small``    short side < :data:`MIN_SIDE_PX` or long side < :data:`MIN_LONG_SIDE_PX`
"""

from __future__ import annotations

import dataclasses
import io
import logging
import os
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from posture.errors import InputError
from posture.images_convert import MAX_DECODE_BYTES, ORIENTATIONS, check_decode_budget, upright_rgb
from posture.images_file import check_byte_count as _check_byte_count
from posture.images_file import read_regular_file as _read_file
from posture.images_structure import (
    MAX_JPEG_FRAME_HEADERS,
    MAX_JPEG_JUNK_BYTES,
    MAX_JPEG_METADATA_SEGMENTS,
    MAX_JPEG_SCANS,
    MAX_JPEG_TABLE_SEGMENTS,
    MAX_PNG_CHUNKS,
    MAX_PNG_METADATA_CHUNKS,
    check_structure,
)

__all__ = [
    "DEFAULT_MAX_BYTES", "DEFAULT_MAX_PIXELS", "IMAGE_EXTENSIONS", "MAX_DECODE_BYTES",
    "MAX_JPEG_FRAME_HEADERS", "MAX_JPEG_JUNK_BYTES", "MAX_JPEG_METADATA_SEGMENTS",
    "MAX_JPEG_SCANS", "MAX_JPEG_TABLE_SEGMENTS", "MAX_PNG_CHUNKS", "MAX_PNG_METADATA_CHUNKS",
    "MAX_UPLOAD_MB", "MIN_LONG_SIDE_PX", "MIN_SIDE_PX", "UPLOAD_TYPES", "Frame",
    "check_structure", "load_image",
]

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

# EXIF orientation tag (0x0112): 1-8 (see images_convert for the transposes).
_ORIENTATION_TAG = 0x0112

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


def _orientation(im: Image.Image) -> int:
    """The EXIF orientation tag, or 1 when absent or invalid."""
    try:
        value = im.getexif().get(_ORIENTATION_TAG, 1)
    except Exception:  # malformed EXIF must not make a readable photo unreadable
        return 1
    return value if value in ORIENTATIONS else 1


def _decoder_applied_orientation(info: dict) -> int:
    value = info.get("original_orientation", 1)
    return value if value in ORIENTATIONS else 1


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
        # Header dimensions and the memory the decode will need, before any pixel is decoded.
        _check_dimensions(im.width, im.height, max_pixels, where)
        check_decode_budget(im, where, scans=data.count(b"\xff\xda") if fmt in ("JPEG", "MPO")
                            else 1)
        orientation = _orientation(im)
        info = dict(im.info)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                im.seek(0)  # animations: the first frame
                im.load()
                # again before our RGB array is allocated: a decoder may settle on another
                # mode than its header said (a GIF's first frame as RGBA)
                check_decode_budget(im, where)
                arr = upright_rgb(im, orientation)
        except InputError:
            raise
        except Exception as exc:
            raise InputError(
                f"{where} could not be decoded ({exc})", code="corrupt_image"
            ) from None
    if orientation == 1:
        # libheif rotates HEIC while decoding and pillow-heif then resets the EXIF tag to 1,
        # keeping the original value here: report it, but do not rotate twice.
        orientation = _decoder_applied_orientation(info)
    return Frame(rgb=arr, source=where, exif_orientation=orientation, format=fmt)
