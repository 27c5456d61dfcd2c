"""A decoded Pillow image to one upright ``uint8`` RGB array, in bounded memory.

The array is allocated once, upright, and filled a band of rows at a time: each band is
cropped from Pillow's frame, converted (mode, alpha, 16-bit/float levels) and written
through a view of the array that undoes the EXIF orientation, so neither a converted nor a
rotated copy of the whole frame is ever made. Before, 16-bit and float images were converted
in float64 over the full frame (50 MP: 400 MB an array, several alive at once): a 110 KB
16-bit grey PNG took ``posture analyze`` to 1.8 GB and a 300 KB float TIFF to 2.0 GB
(issue 23). Now decoding needs at most Pillow's frame, the result and one band:
:func:`decode_bytes` says how much, from the header, before anything is decoded.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PIL import Image

from posture.errors import InputError

# Pixels converted at a time: a band is cropped from Pillow's frame, converted and copied
# (at most ~24 bytes a pixel of short-lived copies: RGBA compositing, float levels).
BAND_PIXELS = 1 << 20
_BAND_BYTES_PER_PIXEL = 24
# The most memory one decode may need, bytes (:func:`decode_bytes`). ``posture analyze``
# holds ~60 MB before it decodes (the model is loaded after), so 520 MB keeps the decode
# under the 600 MB bound of issue 23. It admits a 50 MP photo as phones write it (baseline or
# progressive JPEG, 4:2:0 or 4:4:4: 366-516 MB; HEIC, PNG, TIFF: at most 366 MB) and refuses
# what needs more: a 50 MP progressive CMYK JPEG (616 MB), a WebP over ~33 MP (15 bytes a
# pixel, see below). ``image_too_large``, from the header, before decoding.
MAX_DECODE_BYTES = 520_000_000

_ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa", "La")
_RGB_BY_PILLOW = ("L", "1", "CMYK", "YCbCr", "LAB", "HSV")
# Pillow's WebP reader keeps libwebp's decoded canvas (RGBA) and a bytes copy of it besides
# its own frame while we convert: 8 more bytes a pixel (measured: a 50 MP WebP peaked at
# 766 MB over the process' start, 15.3 bytes a pixel).
_WEBP_DECODER_BYTES_PER_PIXEL = 8
# SOF markers of progressive JPEG (SOF2, SOF6, SOF10, SOF14) are flagged by Pillow in
# ``info["progressive"]``; those, and JPEGs of several scans, make libjpeg keep every DCT
# coefficient of the picture (2 bytes each, 64 a block) until the decode ends.
_JPEG_COEF_BYTES_PER_BLOCK = 128

# EXIF orientation tag -> a view of the upright array in the stored picture's shape (the
# inverse of the tag's transpose; every one is a NumPy view, so writing to it fills the
# upright array). Checked against Pillow's transposes in tests/test_images.py. Not
# ImageOps.exif_transpose: it makes a rotated copy of the whole frame (a 24 MP JPEG with
# tag 6 peaked 324 MB over the start that way, 175 MB here: 2026-12-06).
_STORED_VIEW: dict[int, Callable[[np.ndarray], np.ndarray]] = {
    1: lambda u: u,
    2: lambda u: u[:, ::-1],
    3: lambda u: u[::-1, ::-1],
    4: lambda u: u[::-1],
    5: lambda u: u.transpose(1, 0, 2),
    6: lambda u: np.rot90(u, 1),
    7: lambda u: u[::-1, ::-1].transpose(1, 0, 2),
    8: lambda u: np.rot90(u, -1),
}
ORIENTATIONS = frozenset(_STORED_VIEW)


def pillow_bytes_per_pixel(mode: str) -> int:
    """Bytes a pixel of ``mode`` takes in Pillow's own storage (1, 2 or 4)."""
    if mode in ("1", "L", "P"):
        return 1
    if mode.startswith("I;16"):
        return 2
    return 4


def decode_bytes(im: Image.Image, scans: int = 1) -> int:
    """Peak memory, bytes, of decoding ``im`` (opened, not yet loaded) to RGB here.

    Pillow's frame, plus the larger of what the decoder keeps while it decodes (a JPEG's
    coefficients when it is progressive or of several ``scans``) and our RGB array with one
    band's work; for WebP, the decoder's canvas and its copy as well.
    """
    w, h = im.size
    pixels = w * h
    frame = pixels * pillow_bytes_per_pixel(im.mode)
    ours = pixels * 3 + _BAND_BYTES_PER_PIXEL * min(pixels, BAND_PIXELS)
    if im.format in ("JPEG", "MPO") and (im.info.get("progressive") or scans > 1):
        return frame + max(_jpeg_coefficient_bytes(im), ours)
    if im.format == "WEBP":
        return frame + _WEBP_DECODER_BYTES_PER_PIXEL * pixels + ours
    return frame + ours


def _jpeg_coefficient_bytes(im: Image.Image) -> int:
    """What libjpeg's whole-image coefficient buffer takes for this JPEG, bytes."""
    w, h = im.size
    # Pillow's SOF parse: (component id, horizontal, vertical sampling factor, table)
    layers = getattr(im, "layer", None) or [(0, 1, 1, 0)] * max(1, len(im.getbands()))
    hmax = max(max(layer[1] for layer in layers), 1)
    vmax = max(max(layer[2] for layer in layers), 1)
    blocks = sum(-(-w * max(layer[1], 1) // (8 * hmax)) * -(-h * max(layer[2], 1) // (8 * vmax))
                 for layer in layers)
    return blocks * _JPEG_COEF_BYTES_PER_BLOCK


def check_decode_budget(im: Image.Image, where: str, *, scans: int = 1,
                        budget: int | None = None) -> None:
    """Refuse (``image_too_large``) a picture whose decode would need more than ``budget``
    bytes (default :data:`MAX_DECODE_BYTES`), from its header, before decoding."""
    budget = MAX_DECODE_BYTES if budget is None else budget
    need = decode_bytes(im, scans)
    if need > budget:
        w, h = im.size
        raise InputError(
            f"{where} ({w}x{h}, {im.format or 'image'} {im.mode}) would need "
            f"{need / 1e6:.0f} MB to decode; the limit is {budget / 1e6:.0f} MB",
            code="image_too_large")


def upright_rgb(im: Image.Image, orientation: int = 1) -> np.ndarray:
    """The decoded ``im`` as a C-contiguous ``H x W x 3`` ``uint8`` array, upright.

    Parameters
    ----------
    im
        A loaded Pillow image of any mode Pillow decodes photos to.
    orientation
        The EXIF orientation tag to undo (1 = none).

    Returns
    -------
    numpy.ndarray
        Alpha composited on white; grey, palette, CMYK and other colour modes converted by
        Pillow; 16-bit, 32-bit and float levels mapped to 0-255 (see :func:`_level_map`).

    Raises
    ------
    InputError
        ``unsupported_image`` for a mode we do not read.
    """
    mode = im.mode
    if mode == "P":
        mode = "RGBA" if "transparency" in im.info else "RGB"
    if not (mode == "RGB" or mode in _ALPHA_MODES or mode in _RGB_BY_PILLOW
            or mode.startswith("I") or mode == "F"):
        raise InputError(f"images in mode {im.mode} are not supported",
                         code="unsupported_image")
    w, h = im.size
    swap = orientation in (5, 6, 7, 8)
    out = np.empty((w, h, 3) if swap else (h, w, 3), dtype=np.uint8)
    stored = _STORED_VIEW[orientation](out)  # (h, w, 3): writing here fills `out` upright
    rows = max(1, BAND_PIXELS // max(w, 1))
    bands = [(y, min(h, y + rows)) for y in range(0, h, rows)]
    if im.mode.startswith("I") or im.mode == "F":
        level = _level_map(im, bands)
        for y0, y1 in bands:
            stored[y0:y1] = level(_band_levels(im, y0, y1))[..., None]
        return out
    for y0, y1 in bands:
        stored[y0:y1] = np.asarray(_band_rgb(im.crop((0, y0, w, y1))))
    return out


def _band_rgb(band: Image.Image) -> Image.Image:
    if band.mode == "P":
        band = band.convert("RGBA" if "transparency" in band.info else "RGB")
    if band.mode == "RGB":
        return band
    if band.mode in _ALPHA_MODES:
        rgba = band.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return band.convert("RGB")


def _band_levels(im: Image.Image, y0: int, y1: int) -> np.ndarray:
    """Rows ``y0:y1`` of a 16-bit, 32-bit or float image as float64, non-finite as 0."""
    v = np.asarray(im.crop((0, y0, im.width, y1))).astype(np.float64)
    return np.nan_to_num(v, copy=False, nan=0.0, posinf=0.0, neginf=0.0)


def _level_map(im: Image.Image, bands: list[tuple[int, int]]
               ) -> Callable[[np.ndarray], np.ndarray]:
    """How to map this image's grey levels to 0-255, from one pass over its bands.

    16-bit data (the common case: 16-bit PNG/TIFF) is scaled by 255/65535 so that brightness
    is kept; float data within 0-1 by 255; other ranges (negative, beyond 16 bits, float
    beyond 0-1) are stretched min-to-max. Non-finite values count as 0.
    """
    lo, hi = np.inf, -np.inf
    for y0, y1 in bands:
        v = _band_levels(im, y0, y1)
        if v.size:
            lo, hi = min(lo, float(v.min())), max(hi, float(v.max()))
    integer = im.mode != "F"
    if integer and lo >= 0 and hi <= 65535:
        scale, offset = 255.0 / 65535.0, 0.0
    elif not integer and lo >= 0 and hi <= 1:
        scale, offset = 255.0, 0.0
    elif hi > lo:
        scale, offset = 255.0 / (hi - lo), lo
    else:
        scale, offset = 0.0, 0.0

    def level(v: np.ndarray) -> np.ndarray:  # in place: v is a band's own float64 copy
        if offset:
            v -= offset
        v *= scale
        np.rint(v, out=v)
        np.clip(v, 0, 255, out=v)
        return v.astype(np.uint8)

    return level
