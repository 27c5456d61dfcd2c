"""A cheap walk over a JPEG's segments or a PNG's chunks, before any decoder sees the bytes.

Pillow parses a JPEG's segments up to the first scan, and a PNG's chunks, in Python, one at a
time; libjpeg then works through every later segment and scan. A file of millions of tiny
valid segments therefore costs seconds to minutes and, for some kinds, gigabytes (issue 15:
APP2/COM floods; issue 23: DRI, RST, TEM, JPGn, SOF, DHT, DQT, DNL floods of 45 MB took
8-105 s in :func:`posture.images.load_image`). This walk counts every segment of the first
picture, jumps over segment contents and scan data with C-speed searches, and refuses at the
first count past its cap, so it answers after at most a few thousand Python steps whatever
the file holds.

Codes: ``too_many_segments`` (a count past its cap), ``corrupt_image`` (too many scans, too
many bytes outside any segment, a segment longer than the JPEG standard allows its kind).
"""

from __future__ import annotations

import re
import struct

import numpy as np

from posture.errors import InputError

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
# Every other segment and stray marker of the first picture but its scans: tables (DQT, DHT,
# DAC, DRI), frame headers (SOFn, DHP, EXP), DNL, JPGn, and TEM/RSTn/SOI outside scan data.
# A baseline photo has under 10 (2-4 DQT, 1-4 DHT, one SOF, maybe a DRI); a progressive
# encoder writes a DHT or two before each scan. Four per allowed scan is far above any
# encoder and bounds the walk (and Pillow's parse) at a few thousand steps. A 45 MB DRI flood
# (7.5 million segments) took 63 s in load_image; RST (22 million markers) 105 s.
MAX_JPEG_TABLE_SEGMENTS = 4 * MAX_JPEG_SCANS
# Frame headers (SOFn, DHP) in one picture: the standard allows one outside hierarchical
# mode, which neither Pillow nor libjpeg decodes (libjpeg stops at a second: "two SOF
# markers"). Pillow parses each in Python and keeps its component list.
MAX_JPEG_FRAME_HEADERS = 1
# Bytes that are not part of any segment (libjpeg skips them with a warning; Pillow's header
# loop reads them one at a time in Python), 0xFF fill bytes and stuffed FF 00 pairs included.
MAX_JPEG_JUNK_BYTES = 1 << 20
# PNG chunks up to the end of the first picture's pixel data. Encoders write IDAT chunks of
# 8-64 KB (a 50 MB PNG: under 7,000), and a handful of metadata chunks; 3.65 million tiny
# chunks took Pillow 5.8 s.
MAX_PNG_CHUNKS = 100_000
MAX_PNG_METADATA_CHUNKS = 1000

_SOF = frozenset({*range(0xC0, 0xC4), *range(0xC5, 0xC8), *range(0xC9, 0xCC),
                  *range(0xCD, 0xD0), 0xDE})  # SOF0-3, 5-7, 9-11, 13-15, DHP
# Longest segment (length field, bytes) the standard allows each table/header kind (ITU-T
# T.81 B.2.2-B.2.4, B.3.2, B.3.3): SOF 8 + 3 x 255 components; DHT 4 DC + 4 AC tables of
# 17 + 256 bytes; DQT 4 tables of 1 + 128 bytes; DAC 4 DC + 4 AC conditioning pairs; DRI,
# DNL, EXP fixed. Pillow parses DQT in Python with a copy per table: 690 DQT segments of
# 64 KB (45 MB) would be ~700,000 tables. Longer is not a JPEG libjpeg decodes.
_MAX_SEGMENT_LENGTH = {**dict.fromkeys(_SOF, 8 + 3 * 255), 0xC4: 2 + 8 * 273,
                       0xDB: 2 + 4 * 129, 0xCC: 2 + 8 * 2, 0xDD: 4, 0xDC: 4, 0xDF: 3,
                       0xDA: 6 + 2 * 4}
# markers without a length field: TEM, RSTn, SOI
_JPEG_STANDALONE = frozenset({0x01, *range(0xD0, 0xD9)})
# The next marker outside a segment: the last 0xFF of a run (fill bytes before it are junk)
# and anything but 0x00 (a stuffed byte, junk here) or 0xFF. Two bytes, never "\xff+": a
# pattern that may start anywhere in a long run of 0xFF is matched again from each of its
# bytes, which is quadratic (1 MB of 0xFF did not finish in minutes).
_JPEG_MARKER = re.compile(rb"\xff[^\x00\xff]")
# Entropy-coded (scan) data is searched a chunk at a time with NumPy (~1 GB/s whatever the
# bytes; a regular expression took ~1 s over 45 MB of 0xFF or stuffed FF 00 pairs).
_SCAN_CHUNK = 1 << 20
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def check_structure(data: bytes, where: str) -> None:
    """Refuse a JPEG or PNG whose structure would make parsing it slow or large.

    A walk over the segment (JPEG) or chunk (PNG) headers, jumping over their contents and
    over scan data, up to the end of the first picture; it answers after at most
    ``MAX_JPEG_METADATA_SEGMENTS + MAX_JPEG_TABLE_SEGMENTS + MAX_JPEG_SCANS`` steps (JPEG) or
    :data:`MAX_PNG_CHUNKS` (PNG). Pillow and libjpeg/zlib see the bytes only after this
    passes. Other formats, and damage this walk does not understand, are left to the decoder.

    Raises
    ------
    InputError
        ``too_many_segments`` past :data:`MAX_JPEG_METADATA_SEGMENTS`,
        :data:`MAX_JPEG_TABLE_SEGMENTS`, :data:`MAX_JPEG_FRAME_HEADERS`,
        :data:`MAX_PNG_CHUNKS` or :data:`MAX_PNG_METADATA_CHUNKS`; ``corrupt_image`` past
        :data:`MAX_JPEG_SCANS` scans or :data:`MAX_JPEG_JUNK_BYTES` bytes outside any JPEG
        segment, or for a JPEG table or header longer than the standard allows.
    """
    if data[:3] == b"\xff\xd8\xff":
        _walk_jpeg(data, where)
    elif data[:8] == _PNG_SIGNATURE:
        _walk_png(data, where)


def _too_many(where: str, what: str, limit: int) -> InputError:
    return InputError(f"{where} has more than {limit:,} {what}; a photo has far fewer "
                      "(refused before decoding)", code="too_many_segments")


def _walk_jpeg(data: bytes, where: str) -> None:
    n, pos, arr = len(data), 2, np.frombuffer(data, np.uint8)
    meta = tables = frames = scans = junk = 0
    blocks = MAX_JPEG_TABLE_SEGMENTS  # 8x8 blocks of the picture, once its SOF is read
    while pos < n:
        # The next marker, searched for in C, at most as far as the junk budget reaches:
        # whatever lies before it (non-0xFF bytes, FF 00 pairs, fill bytes) is junk.
        budget = MAX_JPEG_JUNK_BYTES - junk
        m = _JPEG_MARKER.search(data, pos, min(n, pos + budget + 2))
        if m is None:
            if pos + budget + 2 < n:
                raise InputError(f"{where} holds more than {MAX_JPEG_JUNK_BYTES:,} bytes "
                                 "outside its JPEG segments", code="corrupt_image")
            return  # the data ends without another marker: the decoder says what it thinks
        junk += m.start() - pos
        if junk > MAX_JPEG_JUNK_BYTES:
            raise InputError(f"{where} holds more than {MAX_JPEG_JUNK_BYTES:,} bytes "
                             "outside its JPEG segments", code="corrupt_image")
        marker, pos = data[m.end() - 1], m.end()
        if marker == 0xD9:  # EOI: the first picture ends (an MPO's others are not decoded)
            return
        if marker in _JPEG_STANDALONE:
            tables += 1
            if tables > MAX_JPEG_TABLE_SEGMENTS:
                raise _too_many(where, "JPEG table segments and markers (other than APP/COM "
                                "and scans)", MAX_JPEG_TABLE_SEGMENTS)
            continue
        if pos + 2 > n:
            return
        length = (data[pos] << 8) | data[pos + 1]
        if 0xE0 <= marker <= 0xEF or marker == 0xFE:  # APPn, COM
            meta += 1
            if meta > MAX_JPEG_METADATA_SEGMENTS:
                raise _too_many(where, "JPEG metadata (APP/COM) segments",
                                MAX_JPEG_METADATA_SEGMENTS)
        elif marker == 0xDA:
            scans += 1
            if scans > MAX_JPEG_SCANS:
                raise InputError(
                    f"{where} is a JPEG of more than {MAX_JPEG_SCANS} scans (a photo has at "
                    "most a few dozen)", code="corrupt_image")
        else:
            tables += 1
            if tables > MAX_JPEG_TABLE_SEGMENTS:
                raise _too_many(where, "JPEG table segments and markers (other than APP/COM "
                                "and scans)", MAX_JPEG_TABLE_SEGMENTS)
            if marker in _SOF:
                frames += 1
                if frames > MAX_JPEG_FRAME_HEADERS:
                    raise _too_many(where, "JPEG frame headers (SOF) in one picture",
                                    MAX_JPEG_FRAME_HEADERS)
                if pos + 7 <= n:  # length, precision, height, width
                    height, width = struct.unpack_from(">HH", data, pos + 3)
                    blocks = max(1, -(-height // 8) * -(-width // 8))
        if length > _MAX_SEGMENT_LENGTH.get(marker, 0xFFFF):
            raise InputError(f"{where} has a JPEG segment 0xFF{marker:02X} of {length:,} "
                             f"bytes; the standard allows at most "
                             f"{_MAX_SEGMENT_LENGTH[marker]:,}", code="corrupt_image")
        pos += max(length, 2)
        if marker == 0xDA:  # start of scan: jump over the entropy-coded data
            pos, restarts = _skip_scan(arr, pos)
            # a scan restarts at most once per MCU, and an MCU is at least one 8x8 block
            if restarts > blocks:
                raise _too_many(where, "restart markers in one JPEG scan (one per 8x8 block)",
                                blocks)
            if pos < 0:
                return


def _skip_scan(arr: np.ndarray, pos: int) -> tuple[int, int]:
    """Where the entropy-coded data from ``pos`` ends (the 0xFF of the next marker that is
    not a restart, or -1 at the end of the data), and how many restart markers it holds.

    A marker there is 0xFF followed by anything but 0x00 (a stuffed byte), RSTn or 0xFF (a
    fill byte: the marker is the last 0xFF of the run).
    """
    n, restarts = arr.size, 0
    while pos < n - 1:
        end = min(n, pos + _SCAN_CHUNK + 1)  # one byte more: a pair across the chunk's end
        ff, after = arr[pos:end - 1] == 0xFF, arr[pos + 1:end]
        rst = ff & ((after & 0xF8) == 0xD0)
        marker = ff & (after != 0x00) & (after != 0xFF)
        marker &= ~rst
        k = int(np.argmax(marker))
        if marker[k]:
            return pos + k, restarts + int(np.count_nonzero(rst[:k]))
        restarts += int(np.count_nonzero(rst))
        pos = end - 1
    return -1, restarts


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
