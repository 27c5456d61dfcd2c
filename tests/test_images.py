"""Tests for posture.images. Every image is made here; no binary fixtures are committed."""

from __future__ import annotations

import io
import json
import os
import struct
import subprocess
import sys
import time
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageOps

from posture import images, images_convert, images_structure
from posture.errors import InputError
from posture.images import DEFAULT_MAX_PIXELS, MIN_LONG_SIDE_PX, MIN_SIDE_PX, Frame, load_image

PHOTOS = Path(__file__).resolve().parents[2] / "shared" / "photos"

CODES = {
    "file_not_found",
    "file_unreadable",
    "empty_file",
    "file_too_large",
    "not_an_image",
    "corrupt_image",
    "image_too_large",
    "image_too_small",
    "unsupported_image",
}

# How to store an upright image so that a viewer honouring EXIF tag t shows it upright,
# written from the EXIF 2.3 definitions (row 0 / column 0 positions), not from the loader.
STORE_FOR_TAG = {
    1: None,
    2: Image.Transpose.FLIP_LEFT_RIGHT,  # mirrored horizontally
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,  # mirrored vertically
    5: Image.Transpose.TRANSPOSE,  # mirrored about the main diagonal
    6: Image.Transpose.ROTATE_90,  # viewer turns it 90 degrees clockwise
    7: Image.Transpose.TRANSVERSE,  # mirrored about the anti-diagonal
    8: Image.Transpose.ROTATE_270,  # viewer turns it 90 degrees counter-clockwise
}


def pattern(w: int = 96, h: int = 128) -> np.ndarray:
    """An asymmetric, smooth RGB test image: every flip or rotation changes it."""
    y, x = np.mgrid[0:h, 0:w]
    rgb = np.stack([x * 255 // (w - 1), y * 255 // (h - 1), (x + 2 * y) % 256], axis=2)
    return rgb.astype(np.uint8)


def encode(im: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format=fmt, **kw)
    return buf.getvalue()


def exif_with_orientation(tag: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = tag
    return exif.tobytes()


def oriented_copy(upright: np.ndarray, tag: int, fmt: str) -> bytes:
    im = Image.fromarray(upright)
    if STORE_FOR_TAG[tag] is not None:
        im = im.transpose(STORE_FOR_TAG[tag])
    kw = {"quality": 95} if fmt == "JPEG" else {}
    return encode(im, fmt, exif=exif_with_orientation(tag), **kw)


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    return (
        struct.pack(">I", len(payload))
        + kind
        + payload
        + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF)
    )


def png_declaring(width: int, height: int) -> bytes:
    """A tiny PNG whose header declares ``width x height`` RGB pixels (a decompression bomb)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", idat)
        + png_chunk(b"IEND", b"")
    )


def code_of(src, **kw) -> str:
    with pytest.raises(InputError) as info:
        load_image(src, **kw)
    assert info.value.exit_code == 2
    return info.value.code


def check_frame(frame: Frame) -> None:
    assert isinstance(frame, Frame)
    assert frame.rgb.dtype == np.uint8
    assert frame.rgb.ndim == 3 and frame.rgb.shape[2] == 3
    assert frame.rgb.flags.c_contiguous
    assert (frame.height, frame.width) == frame.rgb.shape[:2]


# --- formats and modes -----------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["PNG", "BMP", "TIFF", "WEBP"])
def test_lossless_formats_round_trip_exactly(fmt):
    rgb = pattern()
    kw = {"lossless": True} if fmt == "WEBP" else {}
    frame = load_image(encode(Image.fromarray(rgb), fmt, **kw))
    check_frame(frame)
    assert frame.format == fmt
    assert frame.source == "<bytes>"
    np.testing.assert_array_equal(frame.rgb, rgb)


def test_jpeg_from_path_reports_file_name(tmp_path):
    path = tmp_path / "side.jpg"
    path.write_bytes(encode(Image.fromarray(pattern()), "JPEG", quality=95))
    frame = load_image(path)
    check_frame(frame)
    assert frame.format == "JPEG"
    assert frame.source == "side.jpg"
    assert frame.exif_orientation == 1
    assert np.abs(frame.rgb.astype(int) - pattern()).mean() < 3
    assert load_image(str(path)).source == "side.jpg"


def test_heif():
    pillow_heif = pytest.importorskip("pillow_heif")
    buf = io.BytesIO()
    pillow_heif.from_pillow(Image.fromarray(pattern())).save(buf, quality=95)
    frame = load_image(buf.getvalue())
    check_frame(frame)
    assert frame.format == "HEIF"
    assert (frame.width, frame.height) == (96, 128)
    assert np.abs(frame.rgb.astype(int) - pattern()).mean() < 6


def test_heif_stored_sideways_comes_out_upright():
    pillow_heif = pytest.importorskip("pillow_heif")
    upright = pattern()
    stored = Image.fromarray(upright).transpose(STORE_FOR_TAG[6])
    buf = io.BytesIO()
    pillow_heif.from_pillow(stored).save(buf, quality=95, exif=exif_with_orientation(6))
    frame = load_image(buf.getvalue())
    assert frame.exif_orientation == 6
    assert (frame.width, frame.height) == (96, 128)
    assert np.abs(frame.rgb.astype(int) - upright).mean() < 6


@pytest.mark.parametrize("tag", range(1, 9))
@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_every_exif_orientation_gives_the_upright_pixels(tag, fmt):
    upright = pattern()
    frame = load_image(oriented_copy(upright, tag, fmt))
    assert frame.exif_orientation == tag
    assert frame.rgb.shape == upright.shape
    if fmt == "PNG":
        np.testing.assert_array_equal(frame.rgb, upright)
    else:
        assert np.abs(frame.rgb.astype(int) - upright).mean() < 3


@pytest.mark.parametrize("tag", range(1, 9))
def test_orientation_agrees_with_pillow_exif_transpose(tag):
    data = oriented_copy(pattern(), tag, "PNG")
    expected = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB"))
    np.testing.assert_array_equal(load_image(data).rgb, expected)


@pytest.mark.parametrize("bad_tag", [0, 9, 65535])
def test_invalid_orientation_tag_is_ignored(bad_tag):
    frame = load_image(
        encode(Image.fromarray(pattern()), "PNG", exif=exif_with_orientation(bad_tag))
    )
    assert frame.exif_orientation == 1
    np.testing.assert_array_equal(frame.rgb, pattern())


def test_rgba_is_composited_on_white():
    rgba = np.zeros((80, 80, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[:, :40, 3] = 255  # left half opaque red-ish, right half fully transparent
    rgba[:, 40:60, 3] = 128  # a half-transparent band
    frame = load_image(encode(Image.fromarray(rgba, "RGBA"), "PNG"))
    np.testing.assert_array_equal(frame.rgb[0, 0], [200, 0, 0])
    np.testing.assert_array_equal(frame.rgb[0, 79], [255, 255, 255])
    # 50 % of (200, 0, 0) over white
    assert np.abs(frame.rgb[0, 50].astype(int) - [228, 127, 127]).max() <= 2


def test_gray_alpha_is_composited_on_white():
    la = Image.merge("LA", [Image.new("L", (70, 70), 10), Image.new("L", (70, 70), 0)])
    frame = load_image(encode(la, "PNG"))
    assert (frame.rgb == 255).all()


def test_grayscale_becomes_three_equal_channels():
    gray = pattern()[..., 0]
    frame = load_image(encode(Image.fromarray(gray, "L"), "PNG"))
    check_frame(frame)
    for c in range(3):
        np.testing.assert_array_equal(frame.rgb[..., c], gray)


def test_one_bit_image():
    im = Image.fromarray(pattern()[..., 0] > 127)
    frame = load_image(encode(im, "PNG"))
    assert set(np.unique(frame.rgb)) <= {0, 255}


def test_palette_with_transparency():
    im = Image.new("P", (64, 64), 0)
    im.putpalette([10, 20, 30, 40, 50, 60] + [0] * 762)
    im.paste(1, (0, 0, 32, 64))
    data = encode(im, "PNG", transparency=0)  # index 0 (the right half) is transparent
    frame = load_image(data)
    np.testing.assert_array_equal(frame.rgb[5, 5], [40, 50, 60])
    np.testing.assert_array_equal(frame.rgb[5, 60], [255, 255, 255])


def test_palette_without_transparency():
    im = Image.fromarray(pattern()).quantize(16)
    frame = load_image(encode(im, "PNG"))
    np.testing.assert_array_equal(frame.rgb, np.asarray(im.convert("RGB")))


def test_16_bit_grayscale_keeps_brightness():
    values = np.linspace(0, 65535, 80 * 90).reshape(90, 80).astype(np.uint16)
    data = encode(Image.fromarray(values), "PNG")
    frame = load_image(data)
    expected = np.rint(values / 257.0).astype(np.uint8)
    assert np.abs(frame.rgb[..., 1].astype(int) - expected).max() <= 1
    assert frame.rgb[0, 0, 0] == 0 and frame.rgb[-1, -1, 0] == 255


def test_16_bit_rgb_png():
    # Pillow cannot write 16-bit RGB PNG, so write the chunks by hand.
    h, w = 70, 66
    rgb16 = (pattern(w, h).astype(np.uint16) * 257).astype(">u2")
    raw = b"".join(b"\x00" + row.tobytes() for row in rgb16)
    data = (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0))
        + png_chunk(b"IDAT", zlib.compress(raw))
        + png_chunk(b"IEND", b"")
    )
    frame = load_image(data)
    np.testing.assert_array_equal(frame.rgb, pattern(w, h))


def test_cmyk_jpeg_and_tiff():
    cmyk = Image.new("CMYK", (80, 80), (0, 255, 255, 0))  # pure red in CMYK
    for fmt in ("JPEG", "TIFF"):
        frame = load_image(encode(cmyk, fmt))
        assert frame.rgb[40, 40, 0] > 200 and frame.rgb[40, 40, 1:].max() < 60, fmt


def test_animated_gif_uses_the_first_frame():
    red = Image.new("RGB", (70, 70), (255, 0, 0))
    blue = Image.new("RGB", (70, 70), (0, 0, 255))
    data = encode(red, "GIF", save_all=True, append_images=[blue], duration=100, loop=0)
    assert Image.open(io.BytesIO(data)).n_frames == 2
    frame = load_image(data)
    np.testing.assert_array_equal(frame.rgb[10, 10], [255, 0, 0])


def test_animated_webp_uses_the_first_frame():
    red = Image.new("RGB", (70, 70), (255, 0, 0))
    blue = Image.new("RGB", (70, 70), (0, 0, 255))
    data = encode(red, "WEBP", save_all=True, append_images=[blue], lossless=True)
    np.testing.assert_array_equal(load_image(data).rgb[10, 10], [255, 0, 0])


# --- arrays ----------------------------------------------------------------------------


def test_rgb_array_is_copied_and_contiguous():
    rgb = pattern()
    view = rgb[:, ::-1]  # not contiguous
    frame = load_image(view)
    check_frame(frame)
    assert frame.source == "<array>" and frame.format is None and frame.exif_orientation == 1
    np.testing.assert_array_equal(frame.rgb, view)
    assert not np.shares_memory(frame.rgb, rgb)


@pytest.mark.parametrize("shape", [(80, 90), (80, 90, 1)])
def test_gray_array(shape):
    gray = np.arange(np.prod(shape), dtype=np.uint32).reshape(shape).astype(np.uint8)
    frame = load_image(gray)
    assert frame.rgb.shape == (80, 90, 3)
    np.testing.assert_array_equal(frame.rgb[..., 2], gray.reshape(80, 90))


@pytest.mark.parametrize(
    "arr",
    [
        np.zeros((80, 80, 3), np.float32),
        np.zeros((80, 80, 3), np.uint16),
        np.zeros((80, 80, 4), np.uint8),
        np.zeros((80, 80, 3, 1), np.uint8),
        np.zeros((80,), np.uint8),
    ],
)
def test_unsupported_arrays(arr):
    assert code_of(arr) == "unsupported_image"


def test_array_size_limits():
    assert code_of(np.zeros((MIN_SIDE_PX - 1, 200, 3), np.uint8)) == "image_too_small"
    assert code_of(np.zeros((MIN_LONG_SIDE_PX - 1, MIN_LONG_SIDE_PX - 1, 3), np.uint8)) \
        == "image_too_small"
    assert code_of(np.zeros((100, 100), np.uint8), max_pixels=9999) == "image_too_large"
    # a narrow portrait of a standing person is fine: the long side carries the body
    narrow = load_image(np.zeros((MIN_LONG_SIDE_PX, MIN_SIDE_PX, 3), np.uint8))
    assert (narrow.width, narrow.height) == (MIN_SIDE_PX, MIN_LONG_SIDE_PX)


# --- error codes -----------------------------------------------------------------------


def test_file_not_found(tmp_path):
    assert code_of(tmp_path / "nope.jpg") == "file_not_found"
    assert code_of(str(tmp_path / "nope.jpg")) == "file_not_found"
    assert code_of(tmp_path) == "not_a_regular_file"  # a directory


def test_empty_file(tmp_path):
    path = tmp_path / "empty.png"
    path.write_bytes(b"")
    assert code_of(path) == "empty_file"
    assert code_of(b"") == "empty_file"


def test_file_too_large_is_refused_before_reading(tmp_path, monkeypatch):
    data = encode(Image.fromarray(pattern()), "PNG")
    path = tmp_path / "big.png"
    path.write_bytes(data)
    assert code_of(data, max_bytes=len(data) - 1) == "file_too_large"

    def no_reading(*a, **k):
        raise AssertionError("the file was opened")

    monkeypatch.setattr(Path, "open", no_reading)
    assert code_of(path, max_bytes=len(data) - 1) == "file_too_large"


def test_file_at_the_byte_limit_is_accepted():
    data = encode(Image.fromarray(pattern()), "PNG")
    assert load_image(data, max_bytes=len(data)).width == 96


@pytest.mark.parametrize(
    "data",
    [b"hello, world\n" * 20, b"\x00" * 1000, b"%PDF-1.4\n" + b"x" * 200, bytes(range(256))],
)
def test_not_an_image(data):
    assert code_of(data) == "not_an_image"


def test_truncated_images_are_corrupt():
    for fmt in ("JPEG", "PNG", "WEBP"):
        data = encode(Image.fromarray(pattern(200, 200)), fmt)
        assert code_of(data[: len(data) // 2]) == "corrupt_image", fmt


def test_damaged_header_is_corrupt():
    data = bytearray(encode(Image.fromarray(pattern()), "PNG"))
    data[12:16] = b"XXXX"  # IHDR chunk renamed
    assert code_of(bytes(data)) == "corrupt_image"


def test_known_but_unsupported_format():
    data = encode(Image.fromarray(pattern()), "PPM")
    assert code_of(data) == "unsupported_image"


def test_unsupported_source_type():
    assert code_of(12345) == "unsupported_image"


def test_image_too_small():
    assert code_of(encode(Image.new("RGB", (MIN_SIDE_PX - 1, 300)), "PNG")) == "image_too_small"


def test_image_too_large_by_pixel_limit():
    data = encode(Image.new("RGB", (100, 100)), "PNG")
    assert code_of(data, max_pixels=100 * 100 - 1) == "image_too_large"
    assert load_image(data, max_pixels=100 * 100).width == 100


@pytest.mark.parametrize(
    "size",
    [
        (8000, 8000),  # 64 MP: over our limit, under Pillow's warning threshold
        (10_000, 10_000),  # over Pillow's warning threshold
        (100_000, 100_000),  # over Pillow's hard DecompressionBombError threshold
        (2**31 - 1, 2**31 - 1),
    ],
)
def test_decompression_bomb_is_rejected_fast(size):
    # "fast" = before decoding: bounded memory, not a wall-clock limit that a loaded machine
    # can break. A decoded 8000² RGB image alone would take 192 MB.
    data = png_declaring(*size)
    assert len(data) < 200
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no DecompressionBombWarning may escape
        grown = _peak_growth_mb(lambda: code_of(data) == "image_too_large")
    assert grown[0], "not refused as image_too_large"
    assert grown[1] < 50, f"peak memory grew {grown[1]:.0f} MB: it was decoded"


def _peak_growth_mb(fn):
    """(fn(), growth of this process's peak RSS in MB while it ran); Linux's clear_refs
    resets the peak mark, elsewhere the growth reads 0."""
    from pathlib import Path

    def peak_kb() -> int:
        try:
            with open("/proc/self/status") as f:
                return int(next(x.split()[1] for x in f if x.startswith("VmHWM:")))
        except OSError:
            return 0

    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass
    before = peak_kb()
    out = fn()
    return out, (peak_kb() - before) / 1024


def test_bomb_rejected_even_when_our_limit_is_raised_past_pillows():
    assert code_of(png_declaring(100_000, 100_000), max_pixels=10**12) == "image_too_large"


def test_jpeg_declaring_huge_dimensions_is_rejected_before_decoding():
    data = bytearray(encode(Image.new("RGB", (80, 80)), "JPEG"))
    sof = data.find(b"\xff\xc0")
    assert sof > 0
    # SOF0: marker, length(2), precision(1), height(2), width(2)
    data[sof + 5 : sof + 9] = struct.pack(">HH", 60000, 60000)
    refused, grown = _peak_growth_mb(lambda: code_of(bytes(data)) == "image_too_large")
    assert refused
    assert grown < 50, f"peak memory grew {grown:.0f} MB: it was decoded"  # 60000² = 10 GB


def test_default_limits_are_sane():
    assert 48_000_000 <= DEFAULT_MAX_PIXELS < Image.MAX_IMAGE_PIXELS


def test_errors_carry_a_message():
    with pytest.raises(InputError) as info:
        load_image(b"not an image at all")
    assert info.value.to_dict()["code"] == "not_an_image"
    assert info.value.message


# --- real photos -----------------------------------------------------------------------


@pytest.mark.skipif(not PHOTOS.is_dir(), reason=f"{PHOTOS} is absent")
def test_real_photos_load():
    photos = sorted(PHOTOS.glob("real_*.jpg"))
    assert photos
    for path in photos:
        frame = load_image(path)
        check_frame(frame)
        assert frame.height > frame.width  # all are portrait side views


# --- fuzzing ---------------------------------------------------------------------------


def _seeds() -> list[bytes]:
    base = Image.fromarray(pattern(72, 72))
    return [
        encode(base, "PNG"),
        encode(base, "JPEG", quality=80, exif=exif_with_orientation(6)),
        encode(base, "WEBP"),
        encode(base, "GIF"),
        encode(base, "BMP"),
        encode(base, "TIFF"),
    ]


SEEDS = _seeds()


@st.composite
def mutated_image(draw) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 8))):
        op = draw(st.sampled_from(["flip", "truncate", "insert", "delete"]))
        pos = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "flip" and data:
            data[pos] = draw(st.integers(0, 255))
        elif op == "truncate":
            del data[pos:]
        elif op == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=16))
        elif op == "delete":
            del data[pos : pos + draw(st.integers(1, 16))]
    return bytes(data)


@settings(  # deadline and derandomisation: the conftest profile (none / on under CI)
    max_examples=200,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(st.one_of(st.binary(max_size=2048), mutated_image()))
def test_fuzz_gives_a_frame_or_an_input_error(data):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            frame = load_image(data)
        except InputError as exc:
            assert exc.code in CODES
            return
    check_frame(frame)


# --- not a regular file, bounded parsing, decoder warnings (issue 15) -----------------------


def test_fifo_device_link_and_folder_are_not_regular_files(tmp_path):
    fifo = tmp_path / "photo.jpg"
    os.mkfifo(fifo)  # opening it for reading would wait for a writer forever
    assert code_of(fifo) == "not_a_regular_file"
    zero = tmp_path / "zero.jpg"
    zero.symlink_to("/dev/zero")
    assert code_of(zero) == "not_a_regular_file"
    assert code_of(tmp_path) == "not_a_regular_file"
    broken = tmp_path / "gone.jpg"
    broken.symlink_to(tmp_path / "nowhere.jpg")
    assert code_of(broken) == "file_not_found"


def test_cli_says_not_a_regular_file_for_a_fifo(tmp_path):
    fifo = tmp_path / "p.jpg"
    os.mkfifo(fifo)
    r = subprocess.run([sys.executable, "-m", "posture.cli", "analyze", "--json", str(fifo)],
                       capture_output=True, text=True, timeout=60)
    assert json.loads(r.stdout)["error"]["code"] == "not_a_regular_file"
    assert r.returncode == 2 and "Traceback" not in r.stderr


def _corpus_tool():
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "make_bad_corpus", Path(__file__).resolve().parents[1] / "tools" / "make_bad_corpus.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


class _ReachedPillow(BaseException):
    """Not an Exception: the loader's ``except Exception`` must not turn it into a code."""


def _no_pillow(monkeypatch):
    def refuse(*a, **k):
        raise _ReachedPillow("the bytes reached Pillow")

    monkeypatch.setattr(images.Image, "open", refuse)


@pytest.mark.parametrize("marker", [0xE2, 0xFE, 0xE1])
def test_jpeg_metadata_segment_cap_is_checked_before_pillow(marker, monkeypatch):
    tool = _corpus_tool()
    jpeg = encode(Image.fromarray(pattern()), "JPEG")
    limit = images.MAX_JPEG_METADATA_SEGMENTS
    ok = tool.marker_flood_jpeg(jpeg, marker, limit - 1)  # plus the JFIF APP0: at the limit
    assert load_image(ok).width == 96
    monkeypatch.setattr(images_structure, "MAX_JPEG_METADATA_SEGMENTS", 50)
    _no_pillow(monkeypatch)
    assert code_of(tool.marker_flood_jpeg(jpeg, marker, 50)) == "too_many_segments"


def test_png_chunk_caps_are_checked_before_pillow(monkeypatch):
    tool = _corpus_tool()
    png = encode(Image.fromarray(pattern()), "PNG")
    assert load_image(tool.chunk_flood_png(png, images.MAX_PNG_METADATA_CHUNKS - 2)).width == 96
    # many IDAT chunks are normal (encoders split pixel data): only the total is capped
    many_idat = _split_idat(png, 4000)
    assert np.array_equal(load_image(many_idat).rgb, load_image(png).rgb)
    monkeypatch.setattr(images_structure, "MAX_PNG_METADATA_CHUNKS", 20)
    monkeypatch.setattr(images_structure, "MAX_PNG_CHUNKS", 1000)
    _no_pillow(monkeypatch)
    assert code_of(tool.chunk_flood_png(png, 20)) == "too_many_segments"
    assert code_of(_split_idat(png, 1000)) == "too_many_segments"


def _split_idat(png: bytes, parts: int) -> bytes:
    """The same PNG with its pixel data split over ``parts`` IDAT chunks."""
    pos, head, data = 8, b"", b""
    while pos < len(png):
        length = int.from_bytes(png[pos:pos + 4], "big")
        kind = png[pos + 4:pos + 8]
        if kind == b"IDAT":
            data += png[pos + 8:pos + 8 + length]
        elif kind != b"IEND":
            head += png[pos:pos + 12 + length]
        pos += 12 + length
    step = max(1, -(-len(data) // parts))
    pieces = [data[i:i + step] for i in range(0, len(data), step)]
    pieces += [b""] * (parts - len(pieces))
    return (png[:8] + head + b"".join(png_chunk(b"IDAT", p) for p in pieces)
            + png_chunk(b"IEND", b""))


@pytest.mark.parametrize("kind", ["app2", "com", "png"])
def test_default_caps_refuse_the_real_floods_fast(kind, tmp_path):
    # the files of the report, at their real size (44-47 MB), from a file on disk
    tool = _corpus_tool()
    im = Image.fromarray(pattern())
    data = (tool.marker_flood_jpeg(encode(im, "JPEG"), 0xE2 if kind == "app2" else 0xFE)
            if kind != "png" else tool.chunk_flood_png(encode(im, "PNG")))
    assert len(data) > 40_000_000
    path = tmp_path / f"flood.{'png' if kind == 'png' else 'jpg'}"
    path.write_bytes(data)
    del data
    start = time.perf_counter()
    assert code_of(path) == "too_many_segments"
    # generous: a loaded 2-core machine must not fail it; parsing every segment of the
    # flood is what it guards against (the refusal itself reads only the first segments)
    assert time.perf_counter() - start < 10.0


def test_jpeg_junk_between_segments_is_bounded(monkeypatch):
    jpeg = encode(Image.fromarray(pattern()), "JPEG")
    at = 4 + int.from_bytes(jpeg[4:6], "big")  # after the APP0 segment
    junk = jpeg[:at] + b"\x00" * 5000 + jpeg[at:]
    assert load_image(junk).width == 96  # tolerated by the decoders: allowed under the cap
    monkeypatch.setattr(images_structure, "MAX_JPEG_JUNK_BYTES", 4096)
    assert code_of(junk) == "corrupt_image"


def test_real_photo_structures_pass_the_walk():
    # progressive, EXIF + ICC, MPO-like trailing data after EOI
    im = Image.fromarray(pattern())
    icc = bytes(300_000)  # split by Pillow into 5 APP2 segments
    for data in (encode(im, "JPEG", progressive=True),
                 encode(im, "JPEG", exif=exif_with_orientation(6), icc_profile=icc),
                 encode(im, "JPEG") + b"\xff\xe2\x00\x02" * 5000):
        images.check_structure(data, "x")


def test_corrupt_exif_warning_becomes_a_note_not_stderr(tmp_path):
    tool = _corpus_tool()
    data = tool.bad_exif_jpeg(encode(Image.fromarray(pattern()), "JPEG"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning that escapes fails the test
        frame = load_image(data)
    assert frame.width == 96 and frame.exif_orientation == 1
    assert [c for c, _ in frame.notes] == ["exif_unreadable"]
    path = tmp_path / "bad_exif.jpg"
    path.write_bytes(data)
    r = subprocess.run([sys.executable, "-W", "always", "-c",
                        "from posture.images import load_image; import sys; "
                        "load_image(sys.argv[1])", str(path)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stderr == "", r.stderr


# --- bounded decoding and every JPEG marker kind capped (issue 23) --------------------------


def _png16_gray(values: np.ndarray) -> bytes:
    raw = b"".join(b"\x00" + row.astype(">u2").tobytes() for row in values)
    h, w = values.shape
    ihdr = struct.pack(">IIBBBBB", w, h, 16, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr)
            + png_chunk(b"IDAT", zlib.compress(raw, 1)) + png_chunk(b"IEND", b""))


def _traced_peak(fn):
    """(fn(), peak bytes Python and NumPy allocated while it ran: tracemalloc sees both,
    not Pillow's own frame)."""
    import tracemalloc

    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        out = fn()
        return out, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("kind", ["gray16", "float", "rgba"])
def test_conversion_never_copies_the_whole_frame(kind, monkeypatch):
    # issue 23: 16-bit and float levels were mapped in float64 over the whole frame (8 bytes
    # a pixel, several copies alive: 1.8-2.0 GB for 50 MP), RGBA composited on full-size
    # copies. Now only the RGB result (3 bytes a pixel) and one band of rows at a time.
    monkeypatch.setattr(images_convert, "BAND_PIXELS", 1 << 14)
    h, w = 1200, 1000
    y, x = np.mgrid[0:h, 0:w]
    if kind == "gray16":
        values = (x * 65 + y * 3).astype(np.uint16)
        data = _png16_gray(values)
        expected = np.rint(values / 257.0).astype(np.uint8)
    elif kind == "float":
        values = (x / (w - 1)).astype(np.float32)
        data = encode(Image.fromarray(values), "TIFF", compression="tiff_adobe_deflate")
        expected = np.rint(values.astype(np.float64) * 255).astype(np.uint8)
    else:
        rgba = np.dstack([pattern(w, h), np.full((h, w), 128, np.uint8)])
        data = encode(Image.fromarray(rgba), "PNG")
        white = Image.new("RGBA", (w, h), (255, 255, 255, 255))
        expected = np.asarray(Image.alpha_composite(white, Image.fromarray(rgba)).convert("RGB"))
    frame, peak = _traced_peak(lambda: load_image(data))
    if expected.ndim == 2:
        expected = np.repeat(expected[..., None], 3, axis=2)
    np.testing.assert_array_equal(frame.rgb, expected)
    # the result, the encoded bytes and a few bands' work; a float64 copy alone is 9.6 MB
    budget = 3 * h * w + len(data) + 48 * (1 << 14) + 512_000
    assert peak < budget, f"{peak / 1e6:.1f} MB allocated, budget {budget / 1e6:.1f} MB"


def test_high_depth_levels_keep_their_mapping():
    # float beyond 0..1 and negative integers are stretched min-to-max; NaN and inf count 0
    f = np.linspace(-2.0, 6.0, 100 * 80, dtype=np.float32).reshape(80, 100)
    f[0, 0], f[0, 1] = np.nan, np.inf
    rgb = load_image(encode(Image.fromarray(f), "TIFF")).rgb[..., 0]
    v = np.nan_to_num(f.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    want = np.clip(np.rint((v - v.min()) * (255.0 / (v.max() - v.min()))), 0, 255)
    np.testing.assert_array_equal(rgb, want.astype(np.uint8))
    i32 = (np.arange(100 * 80, dtype=np.int32).reshape(80, 100) - 4000) * 1000
    rgb = load_image(encode(Image.fromarray(i32, mode="I"), "TIFF")).rgb[..., 0]
    assert rgb.min() == 0 and rgb.max() == 255 and np.all(np.diff(rgb.ravel().astype(int)) >= 0)


@pytest.mark.parametrize("tag", range(1, 9))
def test_orientation_is_written_through_a_view_of_the_upright_array(tag):
    # each band is written through a view that undoes the EXIF transpose: the same pixels
    # as Pillow's transpose of the whole frame
    upright = pattern(70, 50)
    im = Image.fromarray(upright)
    if STORE_FOR_TAG[tag] is not None:
        im = im.transpose(STORE_FOR_TAG[tag])
    out = images_convert.upright_rgb(im, tag)
    assert out.flags.c_contiguous and out.dtype == np.uint8
    np.testing.assert_array_equal(out, upright)


def test_decode_budget_is_checked_from_the_header_before_decoding(monkeypatch):
    from PIL import ImageFile

    data = encode(Image.new("RGB", (400, 300), (10, 20, 30)), "PNG")
    im = Image.open(io.BytesIO(data))
    need = images_convert.decode_bytes(im)
    assert need == 400 * 300 * (4 + 3) + 24 * 400 * 300  # Pillow's RGBX, ours, band work
    monkeypatch.setattr(images_convert, "MAX_DECODE_BYTES", need - 1)

    def no_decode(self):
        raise AssertionError("the pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decode)
    assert code_of(data) == "image_too_large"
    monkeypatch.setattr(images_convert, "MAX_DECODE_BYTES", need)
    monkeypatch.undo()
    assert load_image(data).width == 400


def test_decode_estimate_counts_what_the_decoders_keep():
    # progressive JPEG: libjpeg's whole-picture coefficients (2 bytes x 64 a block and
    # component, fewer with chroma subsampling); WebP: libwebp's canvas and its copy
    w, h = 800, 640
    im = Image.new("RGB", (w, h), (1, 2, 3))
    px = w * h
    band = 24 * min(px, images_convert.BAND_PIXELS)
    for subsampling, coef in ((0, 3 * 2 * px), (2, int(1.5 * 2 * px))):
        prog = Image.open(io.BytesIO(encode(im, "JPEG", progressive=True,
                                            subsampling=subsampling)))
        assert images_convert.decode_bytes(prog) == 4 * px + max(coef, 3 * px + band)
        base = Image.open(io.BytesIO(encode(im, "JPEG", subsampling=subsampling)))
        assert images_convert.decode_bytes(base) == 4 * px + 3 * px + band
    webp = Image.open(io.BytesIO(encode(im, "WEBP", lossless=True)))
    assert images_convert.decode_bytes(webp) == (4 + 8 + 3) * px + band
    gray16 = Image.open(io.BytesIO(_png16_gray(np.zeros((h, w), np.uint16))))
    assert images_convert.decode_bytes(gray16) == (2 + 3) * px + band


def test_default_budget_admits_phone_photos_and_refuses_what_needs_more():
    # 50 MP as phones write it decodes; a 50 MP WebP (15 bytes a pixel) does not
    def need(fmt, mode="RGB", **kw):
        buf = io.BytesIO()
        Image.new(mode, (816, 612)).save(buf, fmt, **kw)
        im = Image.open(buf)
        im._size = (8160, 6120)  # the header of a 50 MP picture of that kind, not decoded
        return images_convert.decode_bytes(im)

    limit = images_convert.MAX_DECODE_BYTES
    assert need("JPEG") <= limit and need("JPEG", progressive=True) <= limit
    assert need("JPEG", progressive=True, subsampling=0) <= limit
    assert need("PNG", "RGBA") <= limit and need("TIFF", "F") <= limit
    assert need("WEBP") > limit
    assert need("JPEG", "CMYK", progressive=True) > limit


def _flood(kind: str, count: int) -> bytes:
    tool = _corpus_tool()
    jpeg = encode(Image.fromarray(pattern()), "JPEG")
    unit = tool.FLOOD_UNITS[kind](jpeg)
    return jpeg[:2] + unit * count + jpeg[2:]


FLOOD_KINDS = ("dri", "rst", "tem", "jpg0", "sof", "dht", "dqt")


@pytest.mark.parametrize("kind", FLOOD_KINDS)
def test_every_jpeg_marker_kind_is_capped_before_pillow(kind, monkeypatch):
    # issue 23: floods of markers other than APPn/COM were walked one by one (11-15 s for
    # 45 MB) and then parsed by Pillow in Python (8-105 s)
    cap = images_structure.MAX_JPEG_TABLE_SEGMENTS
    if kind == "sof":  # one frame header is the picture's own: a second is refused
        assert images_structure.MAX_JPEG_FRAME_HEADERS == 1
        ok, bad = _flood(kind, 0), _flood(kind, 1)
    else:  # the picture's own tables (DQT x2, DHT x4, SOF) count against the cap
        ok, bad = _flood(kind, cap - 10), _flood(kind, cap)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # stray RST/TEM/JPGn: libjpeg warns, we note it
        if kind not in ("tem", "jpg0"):  # libjpeg refuses those markers however few
            assert load_image(ok).width == 96
    _no_pillow(monkeypatch)
    assert code_of(bad) == "too_many_segments"


@pytest.mark.parametrize("kind", FLOOD_KINDS)
def test_real_size_marker_floods_are_refused_before_pillow(kind, tmp_path, monkeypatch):
    # 45 MB each, from a file on disk, as uploaded; the refusal reads only the first
    # segments (bench/hostile.py measures how fast: docs/reliability.md)
    tool = _corpus_tool()
    jpeg = encode(Image.fromarray(pattern()), "JPEG")
    path = tmp_path / f"{kind}.jpg"
    path.write_bytes(tool.segment_flood_jpeg(jpeg, tool.FLOOD_UNITS[kind](jpeg)))
    assert path.stat().st_size > 40_000_000
    _no_pillow(monkeypatch)
    assert code_of(path) == "too_many_segments"


def test_segments_longer_than_the_standard_allows_are_corrupt(monkeypatch):
    jpeg = encode(Image.fromarray(pattern()), "JPEG")
    # one DQT segment of 8 tables (the standard allows 4): Pillow parses each in Python
    dqt = _corpus_tool().jpeg_segment(jpeg, 0xDB)
    tables = dqt[4:] * 8
    long_dqt = b"\xff\xdb" + struct.pack(">H", len(tables) + 2) + tables
    _no_pillow(monkeypatch)
    assert code_of(jpeg[:2] + long_dqt + jpeg[2:]) == "corrupt_image"
    dri = b"\xff\xdd\x00\x06\x00\x01\x00\x00"  # DRI is 4 bytes long, always
    assert code_of(jpeg[:2] + dri + jpeg[2:]) == "corrupt_image"


def test_stuffed_and_fill_bytes_count_as_junk(monkeypatch):
    jpeg = encode(Image.fromarray(pattern()), "JPEG")
    limit = images_structure.MAX_JPEG_JUNK_BYTES
    _no_pillow(monkeypatch)
    at = 4 + int.from_bytes(jpeg[4:6], "big")  # after the APP0 segment
    for junk in (b"\xff\x00", b"\xff\xff", b"\x00\x00"):  # FF 00 was skipped uncounted
        assert code_of(jpeg[:at] + junk * (limit // 2 + 1) + jpeg[at:]) == "corrupt_image"


def test_restart_markers_inside_scans_and_tables_per_scan_pass():
    # a JPEG with a restart marker after every MCU row, and a progressive one (a DHT before
    # most scans): real structures, well under every cap
    im = Image.fromarray(np.tile(pattern(), (8, 8, 1)))
    for data in (encode(im, "JPEG", restart_marker_rows=1),
                 encode(im, "JPEG", progressive=True, restart_marker_blocks=1)):
        assert sum(data.count(bytes((0xFF, 0xD0 + i))) for i in range(8)) > 50
        images.check_structure(data, "x")
        pillow = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
        np.testing.assert_array_equal(load_image(data).rgb, pillow)


def test_scans_are_counted_by_the_walk_before_pillow(monkeypatch):
    tool = _corpus_tool()
    data = tool.many_scans_jpeg(side=64, copies=images.MAX_JPEG_SCANS + 1)
    _no_pillow(monkeypatch)
    assert code_of(data) == "corrupt_image"
