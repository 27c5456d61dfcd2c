"""Build the bad-input corpus: every kind of picture a phone, a user or an attacker may hand us.

Usage::

    python tools/make_bad_corpus.py OUT_DIR [--no-render] [--base samples/x.jpg]

Writes ``OUT_DIR/items/<name>.<ext>`` and ``OUT_DIR/manifest.json``; nothing in the repo.
The same inputs give byte-identical files (fixed seeds, no timestamps). Person pictures are
transforms of one synthetic render from ``samples/`` (made by this project), so the corpus
holds no real person. Front and back views are rendered with ``tools.synth`` (yaw ±90°);
where its dependencies (torch, anny) are missing they are listed under ``skipped``.

Each item has an ``expect``:

``{"code": C}``
    analysing it fails with error code ``C`` (library: a PostureError with that code; CLI
    and batch: that ``error.code``).
``{"like": "base", "landmark_tol": f, "tilt_tol_deg": d}``
    it is the base picture in another encoding: it must be analysed as the base is (same
    view verdict and facing; median landmark distance at most ``f`` × the person's height;
    pelvic tilt within ``d`` degrees when one is given). 0 means identical.
``{"code": "view_not_usable", "reasons": [families]}``
    a person is found but the view gate refuses it, with at least one of these reason
    families (``not_side_on``, ``body_cut_off``, ...).
``{"refused": [codes], "reasons": [families]}``
    no measurement: an error with one of these codes; for ``view_not_usable`` with one of
    the reason families.
``{"partial": true}``
    the feet are out of the picture but the pelvis and thighs are in: measured, with the
    note ``partial_view`` (issue 12).

Hostile items also carry a ``bound`` that ``bench/hostile.py`` measures:
``{"refused_within_s": s}`` (a flood: refused that fast from disk) or ``{"peak_rss_mb": m}``
(a tiny file that decodes to 50 MP: ``posture analyze`` peaks under ``m`` MB, accepted or
refused). The floods and 50 MP items are large once decoded or on disk: never commit them.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import io
import json
import shutil
import struct
import sys
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"
SEED = 20240909  # every random choice below comes from this

# How to store an upright picture so that a viewer honouring EXIF tag t shows it upright
# (EXIF 2.3 row-0/column-0 definitions; the same table as tests/test_images.py).
STORE_FOR_TAG = {
    1: None,
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}

# Lossless variants (same pixels once decoded) must give identical results. Re-encoding
# (JPEG, palette, gray) moved the median landmark by 0.2-4 px of a ~700 px person (<0.6%);
# 1.5% leaves room for other renders while a wrong frame or orientation moves it by >10%.
LOSSY = {"like": "base", "landmark_tol": 0.015, "tilt_tol_deg": 3.0}
EXACT = {"like": "base", "landmark_tol": 0.0, "tilt_tol_deg": 0.0}


# --------------------------------------------------------------------------- encoders

def _encode(im: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format=fmt, **kw)
    return buf.getvalue()


def _exif(tag: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = tag
    return exif.tobytes()


def _chunk(kind: bytes, payload: bytes) -> bytes:
    return (struct.pack(">I", len(payload)) + kind + payload
            + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF))


def solid_png(width: int, height: int, rgb: tuple[int, ...], rows_per_unit: int = 50, *,
              depth: int = 8, colour_type: int = 2) -> bytes:
    """A valid PNG of one colour, of any size, made in well under a second.

    ``rgb`` holds one sample value per channel of ``colour_type`` (0 grey, 2 RGB, 4 grey +
    alpha, 6 RGBA), each ``depth`` bits (8 or 16). Every row is filtered with "Sub" (filter
    1): the first pixel holds the colour, the rest are zero differences, so all rows are the
    same bytes. A unit of rows is deflated once, ending with a full flush (no
    back-references across it), and repeated; the Adler-32 of the whole stream is computed
    over the repeated unit. The file is ~1/1000 of the pixel data, which is the point: a
    decoder that trusts it allocates width × height × channels × depth/8 bytes.
    """
    if height % rows_per_unit:
        raise ValueError("height must be a multiple of rows_per_unit")
    pixel = b"".join(v.to_bytes(depth // 8, "big") for v in rgb)
    row = b"\x01" + pixel + bytes(len(pixel) * (width - 1))
    unit = row * rows_per_unit
    co = zlib.compressobj(9)
    first = co.compress(unit) + co.flush(zlib.Z_FULL_FLUSH)
    again = co.compress(unit) + co.flush(zlib.Z_FULL_FLUSH)
    header, body = first[:2], first[2:]
    if again != body:  # deflate restarted identically after the flush: safe to repeat
        raise RuntimeError("zlib did not repeat the flushed unit identically")
    n = height // rows_per_unit
    adler = 1
    for _ in range(n):
        adler = zlib.adler32(unit, adler)
    # final empty fixed-Huffman block (BFINAL=1, BTYPE=01, end-of-block), then Adler-32
    stream = header + body * n + b"\x03\x00" + struct.pack(">I", adler)
    ihdr = struct.pack(">IIBBBBB", width, height, depth, colour_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", stream)
            + _chunk(b"IEND", b""))


def float_tiff(width: int, height: int, rows_per_strip: int = 60) -> bytes:
    """A valid 32-bit float grey TIFF (deflate) of ramps 0..1 across, 16 KB at 50 MP.

    Every strip has the same rows, so every strip offset points at one compressed strip:
    the file stays tiny whatever its size, and a decoder that converts it in float64
    needs 8 bytes a pixel for each copy (50 MP: 400 MB). Issue 23: a 300 KB float TIFF
    named .jpg took ``posture analyze`` to 2.0 GB.
    """
    if height % rows_per_strip:
        raise ValueError("height must be a multiple of rows_per_strip")
    # a ramp repeated every 1,020 px: within deflate's 32 KB window, so a strip is ~2 KB
    row = np.resize(np.linspace(0.0, 1.0, 1020, dtype="<f4"), width).astype("<f4").tobytes()
    strip = zlib.compress(row * rows_per_strip, 9)
    n = height // rows_per_strip
    entries = [(256, 4, width), (257, 4, height), (258, 3, 32), (259, 3, 8), (262, 3, 1),
               (273, 4, None), (277, 3, 1), (278, 4, rows_per_strip), (279, 4, None),
               (339, 3, 3)]  # SampleFormat 3: IEEE float
    ifd_size = 2 + 12 * len(entries) + 4
    offsets_at = 8 + ifd_size
    counts_at = offsets_at + 4 * n
    strip_at = counts_at + 4 * n
    ifd = struct.pack("<H", len(entries))
    for tag, kind, value in entries:
        if tag == 273:
            ifd += struct.pack("<HHII", tag, 4, n, offsets_at)
        elif tag == 279:
            ifd += struct.pack("<HHII", tag, 4, n, counts_at)
        elif kind == 3:
            ifd += struct.pack("<HHIHH", tag, 3, 1, value, 0)
        else:
            ifd += struct.pack("<HHII", tag, 4, 1, value)
    ifd += struct.pack("<I", 0)
    return (b"II*\x00" + struct.pack("<I", 8) + ifd + struct.pack(f"<{n}I", *[strip_at] * n)
            + struct.pack(f"<{n}I", *[len(strip)] * n) + strip)


def text_chunk_bomb_png(im: Image.Image, inflated: int = 64 * 1024 * 1024) -> bytes:
    """A small valid PNG with a zTXt chunk that inflates to ``inflated`` bytes."""
    png = _encode(im, "PNG")
    text = zlib.compress(bytes(inflated), 9)
    ztxt = _chunk(b"zTXt", b"Comment\x00\x00" + text)
    at = png.index(b"IDAT") - 4  # before the first IDAT: read while the header is parsed
    return png[:at] + ztxt + png[at:]


def many_scans_jpeg(side: int = 4096, copies: int = 100_000) -> bytes:
    """A progressive JPEG with ``copies`` extra copies of its smallest (16-byte) scan.

    Each is a valid refinement scan of almost no data, yet libjpeg works through every one:
    the decoder's time grows with scans x image size (~50 s for these defaults).
    """
    data = _encode(Image.new("RGB", (side, side), (120, 130, 140)), "JPEG", quality=90,
                   progressive=True)
    pos, scans = 2, []
    while data[pos + 1] != 0xD9:  # walk the marker segments up to EOI
        length = struct.unpack(">H", data[pos + 2:pos + 4])[0]
        end = pos + 2 + length
        if data[pos + 1] == 0xDA:  # a scan: its entropy-coded data runs to the next marker
            while data[end] != 0xFF or data[end + 1] == 0 or 0xD0 <= data[end + 1] <= 0xD7:
                end += 1
            scans.append(data[pos:end])
        pos = end
    return data[:pos] + min(scans, key=len) * copies + data[pos:]


def marker_flood_jpeg(jpeg: bytes, marker: int = 0xE2, count: int = 11_700_000) -> bytes:
    """``jpeg`` with ``count`` empty segments (``FF marker 00 02``) after its SOI.

    Each is valid (an empty APP2 or COM segment), so the file still decodes; 11.7 million
    make a 47 MB file that Pillow took 18.9 s and 1.8 GB (APP2) to open, one segment at a
    time. ``count`` can be made small where a test lowers the limit instead.
    """
    return jpeg[:2] + bytes((0xFF, marker, 0, 2)) * count + jpeg[2:]


def chunk_flood_png(png: bytes, count: int = 3_650_000, kind: bytes = b"tEXt") -> bytes:
    """``png`` with ``count`` empty ``kind`` chunks before its first IDAT (12 bytes each,
    valid CRC): 3.65 million took Pillow 5.8 s to parse."""
    at = png.index(b"IDAT") - 4
    return png[:at] + _chunk(kind, b"") * count + png[at:]


def jpeg_segment(jpeg: bytes, marker: int) -> bytes:
    """The first whole segment (marker, length, payload) of kind ``0xFF marker`` in ``jpeg``."""
    pos = 2
    while pos + 4 <= len(jpeg):
        length = struct.unpack(">H", jpeg[pos + 2:pos + 4])[0]
        if jpeg[pos + 1] == marker:
            return jpeg[pos:pos + 2 + length]
        pos += 2 + length
    raise ValueError(f"no 0xFF{marker:02X} segment before the scan data")


#: The marker floods of issue 23, each as the unit repeated after SOI: empty or minimal
#: valid segments (DRI, JPG0), stray markers without a length (RST0, TEM), and copies of the
#: picture's own frame header (SOF0), Huffman table (DHT) and quantisation table (DQT).
FLOOD_UNITS = {
    "dri": lambda jpeg: b"\xff\xdd\x00\x04\x00\x00",
    "rst": lambda jpeg: b"\xff\xd0",
    "tem": lambda jpeg: b"\xff\x01",
    "jpg0": lambda jpeg: b"\xff\xf0\x00\x02",
    "sof": lambda jpeg: jpeg_segment(jpeg, 0xC0),
    "dht": lambda jpeg: jpeg_segment(jpeg, 0xC4),
    "dqt": lambda jpeg: jpeg_segment(jpeg, 0xDB),
}
#: Size of each flood: under the 50 MB upload limit, as in the report.
FLOOD_BYTES = 45_000_000


def segment_flood_jpeg(jpeg: bytes, unit: bytes, size: int = FLOOD_BYTES) -> bytes:
    """``jpeg`` with ``unit`` repeated after its SOI, to about ``size`` bytes in all. Before
    issue 23's fix a 45 MB flood of any kind cost 8-105 s in ``load_image``."""
    return jpeg[:2] + unit * max(1, (size - len(jpeg)) // len(unit)) + jpeg[2:]


def bad_exif_jpeg(jpeg: bytes) -> bytes:
    """``jpeg`` with an EXIF block whose one tag points past the end of the data (Pillow
    warns "Tag data larger than file"): the picture is unchanged."""
    tiff = (b"II*\x00" + struct.pack("<IH", 8, 1) + struct.pack("<HHII", 0x010F, 2, 100, 1000)
            + struct.pack("<I", 0))
    payload = b"Exif\x00\x00" + tiff
    return jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload + jpeg[2:]


# --------------------------------------------------------------------------- the person

def choose_base(samples: Path) -> Path:
    """The sample to transform: arms hanging, closest to profile, whole body well inside the
    frame (from its label). Falls back to the first JPEG when labels are missing."""
    best, best_key = None, None
    for jpg in sorted(samples.glob("*.jpg")):
        label_path = jpg.with_suffix(".json")
        try:
            label = json.loads(label_path.read_text())
            x0, y0, x1, y1 = label["person_bbox_px"]
            w, h = label["camera"]["width"], label["camera"]["height"]
            margin = min(x0, y0, w - x1, h - y1)
            arms = label["params"]["pose"]["arms"]
            key = (arms != "hanging", margin < 40, abs(label["params"]["yaw"]), jpg.name)
        except (OSError, ValueError, KeyError, TypeError):
            key = (True, True, 999.0, jpg.name)
        if best_key is None or key < best_key:
            best, best_key = jpg, key
    if best is None:
        raise SystemExit(f"no samples/*.jpg in {samples}")
    return best


def _label(jpg: Path) -> dict:
    try:
        return json.loads(jpg.with_suffix(".json").read_text())
    except (OSError, ValueError):
        return {}


def _rerender(label: dict, draw) -> tuple[bytes | None, str]:
    """``draw(model, seed, index, (width, height))`` for the base's synthetic person: its
    JPEG, or None and why not (no label to re-render from, tools.synth missing or failing)."""
    try:
        seed, index = int(label["seed"]), int(label["index"])
        size = (label["camera"]["width"], label["camera"]["height"])
    except (KeyError, TypeError, ValueError):
        return None, "the base sample has no seed/index label to re-render it from"
    try:
        sys.path.insert(0, str(ROOT))
        from tools.synth.body import BodyModel
    except Exception as exc:  # torch/anny missing, or the generator changed
        return None, f"tools.synth is unavailable ({type(exc).__name__}: {exc})"
    try:
        return draw(_body_model(BodyModel), seed, index, size), ""
    except Exception as exc:
        return None, f"tools.synth could not render it ({type(exc).__name__}: {exc})"


def render_turned(label: dict, yaw: float) -> tuple[bytes | None, str]:
    """The base's synthetic person re-rendered ``yaw`` degrees off profile (+90 = facing
    the camera, -90 = back to it), or None and why not."""
    def draw(model, seed, index, size):
        from tools.synth import generate as gen

        orig = gen.sample_scene
        gen.sample_scene = lambda rng: dataclasses.replace(orig(rng), yaw=yaw)
        try:
            return gen.make_sample(model, seed, index, size).jpeg
        finally:
            gen.sample_scene = orig

    return _rerender(label, draw)


def render_front(label: dict, view: str) -> tuple[bytes | None, str]:
    """The base's seed and index rendered by the front/back generator (``view`` "front" or
    "back"), or None and why not."""
    def draw(model, seed, index, size):
        from tools.synth.frontal import make_front_sample

        return make_front_sample(model, seed, index, view, size).jpeg

    return _rerender(label, draw)


_MODEL = None


def _body_model(cls):
    global _MODEL
    if _MODEL is None:
        _MODEL = cls()
    return _MODEL


def _no_person(rgb: np.ndarray, bbox) -> np.ndarray:
    """The base's own room without the person: the widest empty strip beside the person,
    mirrored back and forth to the full width."""
    h, w, _ = rgb.shape
    x0, x1 = (int(bbox[0]) - 12, int(bbox[2]) + 12) if bbox else (w // 4, 3 * w // 4)
    left, right = rgb[:, : max(x0, 1)], rgb[:, min(x1, w - 1):]
    strip = left if left.shape[1] >= right.shape[1] else right
    tiles, flip = [], False
    while sum(t.shape[1] for t in tiles) < w:
        tiles.append(strip[:, ::-1] if flip else strip)
        flip = not flip
    return np.ascontiguousarray(np.concatenate(tiles, axis=1)[:, :w])


def _joint_y(label: dict, joints: tuple[str, str], default: int,
             up_to: tuple[str, str] | None = None) -> int:
    """Image row of a joint pair from the label; with ``up_to``, a fifth of the way from the
    joints towards that pair (the waist: a little above the hip joints)."""
    pts = label.get("points") or {}
    try:
        y = float(np.mean([pts[k]["px"][1] for k in joints]))
        if up_to is not None:
            y -= 0.2 * (y - float(np.mean([pts[k]["px"][1] for k in up_to])))
        return int(round(y))
    except (KeyError, TypeError, IndexError):
        return default


# --------------------------------------------------------------------------- the corpus

def build(out_dir: Path, *, base: Path | None = None, render: bool = True) -> dict:
    """Write the corpus into ``out_dir`` (emptied first) and return the manifest."""
    items_dir = out_dir / "items"
    if items_dir.exists():
        shutil.rmtree(items_dir)
    items_dir.mkdir(parents=True)
    base = base or choose_base(SAMPLES)
    label = _label(base)
    base_bytes = base.read_bytes()
    upright = Image.open(io.BytesIO(base_bytes)).convert("RGB")
    rgb = np.asarray(upright)
    h, w, _ = rgb.shape
    rng = np.random.default_rng(SEED)
    items: list[dict] = []
    skipped: list[dict] = []

    def add(name: str, data: bytes, what: str, expect: dict, bound: dict | None = None
            ) -> None:
        (items_dir / name).write_bytes(data)
        item = {"name": name, "what": what, "expect": expect, "bytes": len(data),
                "sha256": hashlib.sha256(data).hexdigest()}
        if bound:  # measured by bench/hostile.py (peak RSS of `posture analyze`, refusal time)
            item["bound"] = bound
        items.append(item)


    # the base itself, so every comparison has its reference in the same run
    add("base.jpg", base_bytes, f"the base picture ({base.name}, synthetic render)", EXACT)

    # -- not images, or broken ones
    add("empty.jpg", b"", "zero-byte file", {"code": "empty_file"})
    add("random.jpg", rng.integers(0, 256, 4096, dtype=np.uint8).tobytes(),
        "4 KiB of random bytes named .jpg", {"code": "not_an_image"})
    add("text.jpg", ("Dear clinic, my photo is attached.\n" * 40).encode(),
        "a text file named .jpg", {"code": "not_an_image"})
    add("truncated.jpg", base_bytes[: len(base_bytes) * 6 // 10],
        "the base JPEG cut off at 60%", {"code": "corrupt_image"})
    add("bomb.png", solid_png(30_000, 30_000, (0, 0, 0)),
        "decompression bomb: a valid 2.6 MB PNG of 30000x30000 px (2.7 GB of pixels)",
        {"code": "image_too_large"})
    add("huge_20000.png", solid_png(20_000, 20_000, (90, 140, 200)),
        "a valid 20000x20000 px PNG of one colour (400 MP)", {"code": "image_too_large"})
    add("text_bomb.png", text_chunk_bomb_png(upright.resize((96, 160))),
        "a small PNG whose zTXt chunk inflates to 64 MB", {"code": "corrupt_image"})
    add("many_scans.jpg", many_scans_jpeg(),
        "a 1.7 MB progressive 4096x4096 JPEG with 100,000 empty scans (decoding stalls)",
        {"code": "corrupt_image"})
    add("app2_flood.jpg", marker_flood_jpeg(base_bytes, 0xE2),
        "the base JPEG after 11.7 million empty APP2 segments (47 MB)",
        {"code": "too_many_segments"}, bound={"refused_within_s": 0.5})
    add("com_flood.jpg", marker_flood_jpeg(base_bytes, 0xFE),
        "the base JPEG after 11.7 million empty COM segments (47 MB)",
        {"code": "too_many_segments"}, bound={"refused_within_s": 0.5})
    add("chunk_flood.png", chunk_flood_png(_encode(upright.resize((120, 200)), "PNG")),
        "a PNG with 3.65 million empty tEXt chunks (44 MB)", {"code": "too_many_segments"},
        bound={"refused_within_s": 0.5})
    for kind, unit in FLOOD_UNITS.items():
        flood = segment_flood_jpeg(base_bytes, unit(base_bytes))
        add(f"{kind}_flood.jpg", flood,
            f"the base JPEG after {(len(flood) - len(base_bytes)) // len(unit(base_bytes)):,} "
            f"{kind.upper()} markers ({len(flood) / 1e6:.0f} MB)",
            {"code": "too_many_segments"}, bound={"refused_within_s": 0.5})

    # -- tiny files that decode to 50 MP (issue 23): accepted, in bounded memory, or refused
    #    from the header when their decode alone would pass the budget
    big = {"peak_rss_mb": 600}
    add("gray16_50mp.png", solid_png(8160, 6120, (23130,), 60, depth=16, colour_type=0),
        "a 16-bit grey PNG of 8160x6120 px (50 MP) in ~100 KB", {"code": "no_person"},
        bound=big)
    add("float_tiff.jpg", float_tiff(8160, 6120),
        "a 32-bit float TIFF of 8160x6120 px named .jpg, 16 KB", {"code": "no_person"},
        bound=big)
    add("rgba_50mp.png", solid_png(8160, 6120, (90, 140, 200, 128), 60, colour_type=6),
        "an 8-bit RGBA PNG of 8160x6120 px, half transparent (composited on white)",
        {"code": "no_person"}, bound=big)
    add("progressive444_50mp.jpg",
        _encode(Image.new("RGB", (8160, 6120), (120, 130, 140)), "JPEG", quality=90,
                progressive=True, subsampling=0),
        "a progressive 4:4:4 JPEG of 8160x6120 px: libjpeg keeps 300 MB of coefficients",
        {"code": "no_person"}, bound=big)
    add("webp_50mp.webp",
        _encode(Image.new("RGBA", (8160, 6120), (90, 140, 200, 255)), "WEBP", lossless=True),
        "a lossless WebP of 8160x6120 px: Pillow's WebP reader would need 774 MB",
        {"code": "image_too_large"}, bound=big)
    add("tiny_32.png", _encode(upright.resize((32, 32), Image.Resampling.LANCZOS), "PNG"),
        "the person scaled to 32x32 px", {"code": "image_too_small"})

    # -- the base in other encodings, modes and orientations: analysed as the base is
    add("cmyk.jpg", _encode(upright.convert("CMYK"), "JPEG", quality=95),
        "CMYK JPEG", LOSSY)
    add("rgb16.png", _png16(rgb), "16-bit RGB PNG (8-bit values x 257: lossless)", EXACT)
    add("gray.jpg", _encode(upright.convert("L"), "JPEG", quality=95),
        "grayscale JPEG", LOSSY)
    add("rgba.png", _encode(upright.convert("RGBA"), "PNG"), "RGBA PNG, opaque", EXACT)
    add("palette.png", _encode(upright.quantize(256, dither=Image.Dither.NONE), "PNG"),
        "palette PNG (256 colours)", LOSSY)
    second = upright.transpose(Image.Transpose.FLIP_LEFT_RIGHT).quantize(256)
    add("animated.gif", _encode(upright.quantize(256), "GIF", save_all=True,
                                append_images=[second], duration=500, loop=0),
        "animated GIF: the base, then its mirror image (only frame 1 may be used)",
        LOSSY)
    add("bad_exif.jpg", bad_exif_jpeg(base_bytes),
        "the base JPEG with a damaged EXIF block (a tag past the end)", EXACT)
    for tag, op in STORE_FOR_TAG.items():
        stored = upright if op is None else upright.transpose(op)
        add(f"exif_{tag}.jpg", _encode(stored, "JPEG", quality=95, exif=_exif(tag)),
            f"stored for EXIF orientation {tag}: upright once the tag is applied", LOSSY)

    # -- scenes the view gate must refuse
    add("no_person.jpg", _encode(Image.fromarray(_no_person(rgb, label.get("person_bbox_px"))),
                                 "JPEG", quality=92),
        "the base's room with nobody in it", {"refused": ["no_person"]})
    other = _other_sample(base)
    pair = [rgb, np.asarray(Image.open(other).convert("RGB").resize((w, h)))]
    add("two_people.jpg", _encode(Image.fromarray(np.concatenate(pair, axis=1)), "JPEG",
                                  quality=92),
        f"two renders side by side ({base.name}, {other.name})",
        {"code": "view_not_usable", "reasons": ["several_people"]})
    add("lying_down.jpg", _encode(upright.transpose(Image.Transpose.ROTATE_90), "JPEG",
                                  quality=92),
        "the base turned 90 degrees: a person lying down",
        {"refused": ["no_person", "view_not_usable"], "reasons": ["not_standing"]})
    waist = _joint_y(label, ("hip_L", "hip_R"), h // 2, up_to=("shoulder_L", "shoulder_R"))
    # Cut at the waist MediaPipe usually finds nobody; either refusal is right.
    add("cut_at_waist.jpg", _encode(upright.crop((0, 0, w, waist)), "JPEG", quality=92),
        f"the base cropped at the waist (rows 0-{waist})",
        {"refused": ["no_person", "view_not_usable"], "reasons": ["body_cut_off"]})
    knees = _joint_y(label, ("knee_L", "knee_R"), 3 * h // 4)
    add("cut_at_knees.jpg", _encode(upright.crop((0, 0, w, knees)), "JPEG", quality=92),
        f"the base cropped at the knees (rows 0-{knees})",
        {"partial": True})
    # Front and back photos are measured (issue 28): the same person rendered by the
    # front/back generator; a body turned halfway is neither view and is refused.
    renders = (
        ("front_view.jpg", lambda: render_front(label, "front"),
         "front view (tools.synth front generator, the base's seed and index)",
         {"view": "front"}),
        ("back_view.jpg", lambda: render_front(label, "back"),
         "back view (tools.synth front generator, the base's seed and index)",
         {"view": "back"}),
        ("half_turned.jpg", lambda: render_turned(label, 45.0),
         "the base's person turned 45 degrees off profile (neither side nor front)",
         {"code": "view_not_usable", "reasons": ["not_side_on"]}),
    )
    for name, make, what, expect in renders:
        if not render:
            skipped.append({"name": name, "why": "--no-render"})
            continue
        jpeg, why = make()
        if jpeg is None:
            skipped.append({"name": name, "why": why})
            continue
        add(name, jpeg, what, expect)

    manifest = {"format": "posture-bad-corpus", "version": 1, "seed": SEED,
                "base": base.name, "items": items, "skipped": skipped}
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    return manifest


def _png16(rgb: np.ndarray) -> bytes:
    import cv2

    ok, buf = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR).astype(np.uint16) * 257)
    if not ok:
        raise RuntimeError("cv2 could not encode a 16-bit PNG")
    return buf.tobytes()


def _other_sample(base: Path) -> Path:
    """A second render for the two-people picture: the next sample after the base."""
    all_ = sorted(base.parent.glob("*.jpg"))
    if base not in all_ or len(all_) < 2:
        return base
    return all_[(all_.index(base) + 1) % len(all_)]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("out_dir", type=Path, help="where to write items/ and manifest.json")
    p.add_argument("--base", type=Path, default=None,
                   help="person picture to transform (default: chosen from samples/)")
    p.add_argument("--no-render", action="store_true",
                   help="skip the front/back views (they need tools.synth: torch, anny)")
    args = p.parse_args(argv)
    m = build(args.out_dir, base=args.base, render=not args.no_render)
    print(f"{len(m['items'])} items in {args.out_dir / 'items'} (base {m['base']})"
          + "".join(f"\nskipped {s['name']}: {s['why']}" for s in m["skipped"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
