"""Tests for posture.models and posture._tflite_metadata. None of them touches the internet:
downloads come from a local HTTP server, and pip is replaced by a stub that fails the test."""

from __future__ import annotations

import http.server
import io
import json
import os
import struct
import threading
import zipfile
from functools import partial
from pathlib import Path

import pytest
from conftest import require_or_skip

from posture import models
from posture.errors import ModelError
from posture.models import (
    BUNDLE_MEMBERS,
    DETECTOR_MEMBER,
    LANDMARKS_MEMBER,
    VARIANTS,
    ModelBundle,
    cache_dir,
    fetch_model,
    list_models,
    resolve_model,
)
from posture.models.offline import _landmark_model_with_metadata, _write_bundle_temp

# Decided before any fixture redirects the cache: the machine's real cache, where the
# project's setup step puts the real bundle (and the source wheel).
REAL_CACHE = cache_dir()
REAL_FULL = REAL_CACHE / "pose_landmarker_full.task"
_wheels = sorted((REAL_CACHE / "sources").glob(models.SOURCE_WHEEL_GLOB))
if os.environ.get("POSTURE_MEDIAPIPE_WHEEL"):
    _wheels.insert(0, Path(os.environ["POSTURE_MEDIAPIPE_WHEEL"]))
REAL_WHEEL = next((w for w in _wheels if w.is_file()), None)
PHOTOS = Path(__file__).resolve().parents[2] / "shared" / "photos"

ENV_VARS = (
    "POSTURE_MODEL",
    "POSTURE_CACHE_DIR",
    "POSTURE_MODEL_URL",
    "POSTURE_OFFLINE",
    "POSTURE_MEDIAPIPE_WHEEL",
)


def fake_tflite(tag: bytes) -> bytes:
    """Enough of a TFLite flatbuffer for bundle validation: root offset + TFL3 identifier."""
    return struct.pack("<I", 16) + b"TFL3" + tag * 8


def bundle_bytes(
    members: dict[str, bytes] | None = None, compression: int = zipfile.ZIP_STORED
) -> bytes:
    members = members or {DETECTOR_MEMBER: fake_tflite(b"d"), LANDMARKS_MEMBER: fake_tflite(b"l")}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


@pytest.fixture(autouse=True)
def isolated(monkeypatch, tmp_path):
    """A private cache; no env leaking in; downloads aimed at a closed local port; no pip."""
    for var in ENV_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("POSTURE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("POSTURE_MODEL_URL", "http://127.0.0.1:9/closed")

    def no_pip(*args, **kwargs):
        raise AssertionError("a test tried to run pip download")

    monkeypatch.setattr(models.offline, "_pip_download", no_pip)  # where the build calls it
    return tmp_path / "cache"


class _Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep test output clean
        pass


class _LyingHandler(_Handler):
    """Announces more bytes than it sends: a connection dropped half way."""

    def do_GET(self):  # noqa: N802 - http.server's name
        self.server.requests.append(self.path)
        body = bundle_bytes()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body) * 2))
        self.end_headers()
        self.wfile.write(body[: len(body) // 2])


class _CountingHandler(_Handler):
    def do_GET(self):  # noqa: N802
        self.server.requests.append(self.path)
        super().do_GET()


def _serve(monkeypatch, root: Path, handler=_CountingHandler):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(handler, directory=root))
    server.requests = []
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    monkeypatch.setenv("POSTURE_MODEL_URL", f"http://127.0.0.1:{server.server_port}/models")
    return server


@pytest.fixture
def model_server(monkeypatch, tmp_path):
    """Serves a fake full and lite bundle in the official path layout; yields (server, bytes)."""
    root = tmp_path / "www"
    served = {}
    for variant in ("full", "lite"):
        d = root / "models" / f"pose_landmarker_{variant}" / "float16" / "latest"
        d.mkdir(parents=True)
        served[variant] = bundle_bytes(
            {DETECTOR_MEMBER: fake_tflite(b"D"), LANDMARKS_MEMBER: fake_tflite(variant.encode())}
        )
        (d / f"pose_landmarker_{variant}.task").write_bytes(served[variant])
    server = _serve(monkeypatch, root)
    yield server, served
    server.shutdown()
    server.server_close()


def leftovers(cache: Path) -> list[str]:
    return sorted(p.name for p in cache.glob("*.part")) if cache.exists() else []


# --- download path ---------------------------------------------------------------------


def test_download_then_cache(model_server, isolated):
    server, served = model_server
    bundle = resolve_model("full", allow_build=False, progress=False)
    assert isinstance(bundle, ModelBundle)
    assert bundle.source == "download"
    assert bundle.variant == "full"
    assert bundle.path == isolated / "pose_landmarker_full.task"
    assert bundle.path.read_bytes() == served["full"]
    assert server.requests == [
        "/models/pose_landmarker_full/float16/latest/pose_landmarker_full.task"
    ]

    again = resolve_model("full", allow_build=False, progress=False)
    assert again.source == "cache"
    assert again.sha256 == bundle.sha256
    assert len(server.requests) == 1  # the cache answered
    assert leftovers(isolated) == []


def test_provenance_json(model_server, isolated):
    _, served = model_server
    bundle = resolve_model("lite", allow_build=False, progress=False)
    record = json.loads((isolated / "pose_landmarker_lite.task.json").read_text())
    import hashlib

    digest = hashlib.sha256(served["lite"]).hexdigest()
    assert record["sha256"] == digest == bundle.sha256
    assert record["source"] == "download"
    assert record["variant"] == "lite"
    assert record["url"].endswith("/pose_landmarker_lite/float16/latest/pose_landmarker_lite.task")
    assert record["size"] == len(served["lite"])
    assert record["created"][:2] == "20"
    assert record["tool"]["python"]
    assert resolve_model("lite", allow_build=False).provenance == record


def test_default_variant_is_full(model_server):
    assert resolve_model(allow_build=False, progress=False).variant == "full"


def test_env_variant(model_server, monkeypatch):
    monkeypatch.setenv("POSTURE_MODEL", "lite")
    assert resolve_model(allow_build=False, progress=False).variant == "lite"


@pytest.mark.parametrize(
    "damage",
    [
        lambda b: b"this is not a zip",
        lambda b: b[: len(b) // 2],
        lambda b: bundle_bytes({DETECTOR_MEMBER: fake_tflite(b"d")}),
        lambda b: bundle_bytes(compression=zipfile.ZIP_DEFLATED),
        lambda b: bundle_bytes({DETECTOR_MEMBER: b"x" * 20, LANDMARKS_MEMBER: fake_tflite(b"l")}),
        lambda b: b"",
    ],
    ids=["garbage", "truncated", "member-missing", "compressed", "not-tflite", "empty"],
)
def test_corrupt_cached_bundle_is_replaced(model_server, isolated, damage):
    server, served = model_server
    isolated.mkdir(parents=True)
    cached = isolated / "pose_landmarker_full.task"
    cached.write_bytes(damage(served["full"]))
    bundle = resolve_model("full", allow_build=False, progress=False)
    assert bundle.source == "download"
    assert cached.read_bytes() == served["full"]
    assert len(server.requests) == 1


def test_crc_damage_is_detected(model_server, isolated):
    _, served = model_server
    isolated.mkdir(parents=True)
    data = bytearray(served["full"])
    data[data.find(b"TFL3") + 6] ^= 0xFF  # a stored member's payload byte
    (isolated / "pose_landmarker_full.task").write_bytes(bytes(data))
    assert resolve_model("full", allow_build=False, progress=False).source == "download"


def test_stale_provenance_is_not_trusted(model_server, isolated):
    resolve_model("full", allow_build=False, progress=False)
    record = isolated / "pose_landmarker_full.task.json"
    record.write_text(json.dumps({"source": "download", "sha256": "0" * 64}))
    bundle = resolve_model("full", allow_build=False, progress=False)
    assert bundle.source == "cache"
    assert bundle.provenance["source"] == "unknown"


def test_fetch_force_downloads_again(model_server):
    server, _ = model_server
    fetch_model("full", progress=False)
    fetch_model("full", progress=False)
    assert len(server.requests) == 1
    assert fetch_model("full", force=True, progress=False).source == "download"
    assert len(server.requests) == 2


def test_fetch_unknown_variant():
    with pytest.raises(ModelError) as info:
        fetch_model("medium")
    assert info.value.code == "model_unknown_variant"


def test_dropped_connection_leaves_nothing(monkeypatch, tmp_path, isolated):
    server = _serve(monkeypatch, tmp_path, _LyingHandler)
    try:
        with pytest.raises(ModelError) as info:
            resolve_model("full", allow_build=False, progress=False)
    finally:
        server.shutdown()
        server.server_close()
    assert server.requests
    assert "download" in info.value.message
    assert not (isolated / "pose_landmarker_full.task").exists()
    assert leftovers(isolated) == []


def test_served_file_that_is_no_bundle_is_refused(monkeypatch, tmp_path, isolated):
    d = tmp_path / "www" / "models" / "pose_landmarker_full" / "float16" / "latest"
    d.mkdir(parents=True)
    (d / "pose_landmarker_full.task").write_bytes(b"<html>captive portal</html>")
    server = _serve(monkeypatch, tmp_path / "www")
    try:
        with pytest.raises(ModelError) as info:
            resolve_model("full", allow_build=False, progress=False)
    finally:
        server.shutdown()
        server.server_close()
    assert "not a valid bundle" in info.value.message
    assert not (isolated / "pose_landmarker_full.task").exists()
    assert leftovers(isolated) == []


def test_http_error_is_reported(model_server):
    with pytest.raises(ModelError) as info:
        resolve_model("heavy", allow_build=False, progress=False)  # not served: 404
    assert "HTTP 404" in info.value.message


def test_offline_env_skips_download(model_server, monkeypatch):
    server, _ = model_server
    monkeypatch.setenv("POSTURE_OFFLINE", "1")
    with pytest.raises(ModelError) as info:
        resolve_model("full", allow_build=False, progress=False)
    assert server.requests == []
    assert "POSTURE_OFFLINE" in info.value.message


# --- nothing available -----------------------------------------------------------------


def test_error_when_nothing_is_available(isolated):
    with pytest.raises(ModelError) as info:
        resolve_model("full", allow_download=False, allow_build=False)
    err = info.value
    assert err.code == "model_unavailable"
    assert err.exit_code == 4
    msg = err.message
    for needle in (
        "--model",
        "POSTURE_MODEL",
        "posture models fetch full",
        "POSTURE_MEDIAPIPE_WHEEL",
        "download: disabled",
        "offline build: disabled",
        str(isolated / "pose_landmarker_full.task"),
    ):
        assert needle in msg, needle


def test_heavy_says_it_cannot_be_built_offline():
    with pytest.raises(ModelError) as info:
        resolve_model("heavy", allow_download=False)  # build allowed, but impossible
    assert "not possible for 'heavy'" in info.value.message
    assert "--model full" in info.value.message


def test_unreachable_download_is_reported():
    # POSTURE_MODEL_URL points at a closed local port (see the autouse fixture)
    with pytest.raises(ModelError) as info:
        resolve_model("lite", allow_build=True, progress=False)
    assert "unreachable" in info.value.message


# --- explicit paths --------------------------------------------------------------------


def test_explicit_path(tmp_path):
    path = tmp_path / "my_pose_landmarker_heavy.task"
    path.write_bytes(bundle_bytes())
    bundle = resolve_model(path, allow_download=False, allow_build=False)
    assert bundle.source == "explicit"
    assert bundle.path == path
    assert bundle.variant == "heavy"
    assert bundle.provenance["note"] == "no provenance record"
    assert resolve_model(str(path)).path == path


def test_env_path(tmp_path, monkeypatch):
    path = tmp_path / "model.task"
    path.write_bytes(bundle_bytes())
    monkeypatch.setenv("POSTURE_MODEL", str(path))
    bundle = resolve_model(allow_download=False, allow_build=False)
    assert (bundle.source, bundle.path, bundle.variant) == ("env", path, "custom")


def test_explicit_path_missing(tmp_path):
    with pytest.raises(ModelError) as info:
        resolve_model(tmp_path / "nope.task")
    assert info.value.code == "model_not_found"
    assert "lite, full, heavy" in info.value.message


def test_explicit_path_not_a_bundle(tmp_path):
    path = tmp_path / "x.task"
    path.write_bytes(bundle_bytes({DETECTOR_MEMBER: fake_tflite(b"d")}))
    with pytest.raises(ModelError) as info:
        resolve_model(path)
    assert info.value.code == "model_invalid"
    assert LANDMARKS_MEMBER in info.value.message


def test_list_models(model_server, isolated):
    before = {m.variant: m for m in list_models()}
    assert set(before) == set(VARIANTS)
    assert not any(m.cached for m in before.values())
    assert before["full"].offline_buildable and not before["heavy"].offline_buildable
    resolve_model("full", allow_build=False, progress=False)
    after = {m.variant: m for m in list_models()}
    assert after["full"].cached
    assert after["full"].source == "download"
    assert after["full"].size == after["full"].path.stat().st_size
    assert after["full"].path == isolated / "pose_landmarker_full.task"
    assert not after["lite"].cached and after["lite"].size is None


def test_cache_dir_default_and_override(monkeypatch, tmp_path):
    monkeypatch.setenv("POSTURE_CACHE_DIR", str(tmp_path / "x"))
    assert cache_dir() == tmp_path / "x"
    monkeypatch.delenv("POSTURE_CACHE_DIR")
    assert cache_dir().parts[-2:] == ("posture", "models")


# --- offline build pieces (no network) -------------------------------------------------


def test_wheel_with_unexpected_models_is_refused(tmp_path, monkeypatch, isolated):
    wheel = tmp_path / "mediapipe-0.10.21-cp311-cp311-manylinux_2_28_x86_64.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr(models.WHEEL_DETECTOR, fake_tflite(b"x"))
        zf.writestr(models.WHEEL_LANDMARKS["full"], fake_tflite(b"y"))
    monkeypatch.setenv("POSTURE_MEDIAPIPE_WHEEL", str(wheel))
    with pytest.raises(ModelError) as info:
        resolve_model("full", allow_download=False, progress=False)
    assert "refusing an unverified model" in info.value.message
    assert not (isolated / "pose_landmarker_full.task").exists()
    assert leftovers(isolated) == []


def test_pip_command_never_installs(tmp_path):
    cmd = models.pip_download_command(tmp_path)
    assert cmd[1:4] == ["-m", "pip", "download"]
    assert "--no-deps" in cmd and "--only-binary=:all:" in cmd
    assert cmd[-1] == "mediapipe==0.10.21"
    assert cmd[cmd.index("-d") + 1] == str(tmp_path)


def test_bundle_members_are_stored_and_aligned(isolated):
    members = {DETECTOR_MEMBER: b"a" * 1001, LANDMARKS_MEMBER: b"b" * 77}
    tmp = _write_bundle_temp(isolated / "x.task", members)
    data = tmp.read_bytes()
    with zipfile.ZipFile(tmp) as zf:
        assert zf.testzip() is None
        for info in zf.infolist():
            assert info.compress_type == zipfile.ZIP_STORED
            name_len, extra_len = struct.unpack("<HH", data[info.header_offset + 26 :][:4])
            start = info.header_offset + 30 + name_len + extra_len
            assert start % models.ZIP_MEMBER_ALIGNMENT == 0
            assert data[start : start + info.file_size] == members[info.filename]


# --- with the real wheel / real model (skipped when absent) -----------------------------

@pytest.fixture
def needs_wheel():
    # run-tests.sh puts the wheel in the cache even where `models fetch` could download
    # the bundle instead, so under CI (require_or_skip) its absence is a failure.
    require_or_skip(REAL_WHEEL is not None,
                    "no mediapipe-0.10.21 wheel in the user cache (run-tests.sh puts it there) "
                    "nor POSTURE_MEDIAPIPE_WHEEL")


@pytest.fixture
def needs_model():
    require_or_skip(REAL_FULL.is_file(),
                    f"no real pose model at {REAL_FULL} (the setup step provisions it)")
    require_or_skip((PHOTOS / "real_01.jpg").is_file(), f"{PHOTOS} is absent")


@pytest.mark.usefixtures("needs_wheel")
def test_metadata_round_trip_on_the_real_landmark_model():
    from posture import _tflite_metadata as tm

    schemas = tm.load_schemas(REAL_WHEEL)
    with zipfile.ZipFile(REAL_WHEEL) as zf:
        original = zf.read(models.WHEEL_LANDMARKS["full"])
    assert tm.read_model_metadata(schemas, original) is None  # why the build exists

    built = _landmark_model_with_metadata(tm, schemas, original, "full")
    meta = tm.read_model_metadata(schemas, built)
    assert meta is not None
    assert meta.minParserVersion.decode() == tm.MIN_PARSER_VERSION
    (sub,) = meta.subgraphMetadata
    (inp,) = sub.inputTensorMetadata
    norm = inp.processUnits[0].options
    assert list(norm.mean) == [0.0] and list(norm.std) == [255.0]
    assert inp.content.contentProperties.colorSpace == schemas.metadata.ColorSpaceType.RGB
    _, outputs = tm.tensor_names(schemas, original)
    assert [t.name.decode() for t in sub.outputTensorMetadata] == outputs

    # Weights are untouched and every constant buffer is 16-byte aligned.
    m0 = schemas.model.Model.GetRootAs(original, 0)
    m1 = schemas.model.Model.GetRootAs(built, 0)
    assert m1.BuffersLength() == m0.BuffersLength() + 1
    for i in range(m0.BuffersLength()):
        b0, b1 = m0.Buffers(i), m1.Buffers(i)
        assert b0.DataLength() == b1.DataLength()
        if b1.DataLength():
            assert b0.DataAsNumpy().tobytes() == b1.DataAsNumpy().tobytes()
            assert b1._tab.Vector(b1._tab.Offset(4)) % tm.BUFFER_ALIGNMENT == 0
    names = [m1.Metadata(i).Name().decode() for i in range(m1.MetadataLength())]
    assert "TFLITE_METADATA" in names and "min_runtime_version" in names


@pytest.mark.usefixtures("needs_wheel")
def test_offline_build_from_the_wheel(monkeypatch, isolated):
    monkeypatch.setenv("POSTURE_MEDIAPIPE_WHEEL", str(REAL_WHEEL))
    monkeypatch.setenv("POSTURE_OFFLINE", "1")
    bundle = resolve_model("full", progress=False)
    assert bundle.source == "offline-build"
    prov = json.loads((isolated / "pose_landmarker_full.task.json").read_text())
    assert prov["source"] == "offline-build"
    assert prov["inputs"][0]["package"] == "mediapipe==0.10.21"
    assert {i.get("wheel_member") for i in prov["inputs"][1:]} == set(models.WHEEL_MEMBER_SHA256)
    assert prov["sha256"] == bundle.sha256
    with zipfile.ZipFile(bundle.path) as zf:
        assert sorted(zf.namelist()) == sorted(BUNDLE_MEMBERS)
    if prov["verified"] is not None:
        assert prov["verified"]["loaded_in"].endswith("PoseLandmarker")
    # The build is deterministic: a second one gives the very same file.
    assert fetch_model("full", force=True, progress=False).sha256 == bundle.sha256


@pytest.mark.slow
@pytest.mark.usefixtures("needs_model")
def test_real_bundle_detects_a_person(monkeypatch):
    import mediapipe as mp
    from mediapipe.tasks.python import BaseOptions, vision

    from posture.images import load_image

    monkeypatch.setenv("POSTURE_CACHE_DIR", str(REAL_CACHE))
    bundle = resolve_model("full", allow_download=False, allow_build=False)
    assert bundle.source == "cache"
    frame = load_image(PHOTOS / "real_01.jpg")
    options = vision.PoseLandmarkerOptions(
        base_options=BaseOptions(model_asset_path=str(bundle.path)),
        running_mode=vision.RunningMode.IMAGE,
    )
    with vision.PoseLandmarker.create_from_options(options) as landmarker:
        result = landmarker.detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=frame.rgb))
    assert len(result.pose_landmarks) == 1
    lm = result.pose_landmarks[0]
    assert len(lm) == 33
    nose, hip_l, hip_r, ankle = lm[0], lm[23], lm[24], lm[27]
    assert nose.y < hip_l.y < ankle.y  # upright person
    assert nose.x < (hip_l.x + hip_r.x) / 2  # faces left, as the manifest says
