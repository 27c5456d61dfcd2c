"""posture.safe.analyze_input: one safe entry point, one set of error codes (no model needed:
the analyzers here are stand-ins)."""

from __future__ import annotations

import io
import threading

import numpy as np
from PIL import Image

from posture.errors import InternalError, ModelError
from posture.safe import INTERNAL_ERROR, NOBODY_CODE, Outcome, analyze_input


def _jpeg() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 96), (120, 120, 120)).save(buf, "JPEG")
    return buf.getvalue()


_SENTINEL = object()


class Recorder:
    """Returns a sentinel as the 'assessment' and records what it was given."""

    def __init__(self, result=_SENTINEL, exc=None):
        self.result, self.exc, self.calls = result, exc, []

    def analyze(self, frame):
        self.calls.append(frame)
        if self.exc:
            raise self.exc
        return self.result

    def analyze_video_frame(self, rgb, ts, mirrored=False):
        self.calls.append((rgb.shape, ts))
        if self.exc:
            raise self.exc
        return self.result


def test_unreadable_input_is_coded_and_loads_no_model():
    made = []
    out = analyze_input(lambda: made.append(1) or Recorder(), b"not an image", name="x.jpg")
    assert out.failed and out.code == "not_an_image" and out.assessment is None
    assert made == []  # the model factory is never called for a bad file
    d = out.to_dict()
    assert d["ok"] is False and d["error"]["code"] == "not_an_image"
    assert d["source"] == "x.jpg" and d["abstain_reasons"][0].startswith("not_an_image: ")


def test_unforeseen_failure_is_internal_error_everywhere():
    out = analyze_input(Recorder(exc=RuntimeError("boom")), _jpeg())
    assert out.code == INTERNAL_ERROR == InternalError.code == "internal_error"
    assert out.to_dict()["error"]["exit_code"] == 1
    assert out.frame is not None  # decoded before the failure


def test_posture_errors_keep_their_code():
    out = analyze_input(Recorder(exc=ModelError("no model")), _jpeg())
    assert out.code == "model_unavailable"


def test_photo_is_decoded_and_lock_held():
    lock = threading.Lock()
    seen = []

    class Locked(Recorder):
        def analyze(self, frame):
            seen.append(lock.locked())
            return super().analyze(frame)

    rec = Locked()
    out = analyze_input(rec, _jpeg(), lock=lock)
    assert not out.failed and out.assessment is rec.result
    assert seen == [True] and not lock.locked()
    assert rec.calls[0].rgb.shape == (96, 64, 3)


def test_path_names_the_source(tmp_path):
    p = tmp_path / "a.jpg"
    p.write_bytes(_jpeg())
    assert analyze_input(Recorder(), p).source == str(p)
    assert analyze_input(Recorder(), p.read_bytes()).source is None


def test_stream_frame_with_nobody_is_no_person():
    rgb = np.zeros((48, 32, 3), np.uint8)
    rec = Recorder(result=None)
    out = analyze_input(rec, rgb, timestamp_ms=40)
    assert out.code == NOBODY_CODE and rec.calls == [((48, 32, 3), 40)]
    out = analyze_input(Recorder(exc=ValueError("bad")), rgb, timestamp_ms=80)
    assert out.code == INTERNAL_ERROR and "bad" in out.error.message


def test_failure_outcome_has_no_overlay():
    out = Outcome.failure(ModelError("x"), "s")
    assert out.overlay() is None and out.to_dict()["ok"] is False
