"""Model bundles on disk: the variants and pinned sources, where bundles live, how a
bundle is validated, installed (temp file + rename) and its provenance recorded."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import platform
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import platformdirs

VARIANTS = ("lite", "full", "heavy")
DEFAULT_VARIANT = "full"

DETECTOR_MEMBER = "pose_detector.tflite"
LANDMARKS_MEMBER = "pose_landmarks_detector.tflite"
BUNDLE_MEMBERS = (DETECTOR_MEMBER, LANDMARKS_MEMBER)

OFFICIAL_BASE_URL = "https://storage.googleapis.com/mediapipe-models/pose_landmarker"
DOWNLOAD_TIMEOUT_S = 15.0  # per socket operation; unreachable hosts fail well before this
MAX_DOWNLOAD_BYTES = 200 * 1024 * 1024  # the heavy bundle is ~30 MB

# The offline build's source: one pinned wheel; the members are pinned by sha256 because the
# metadata below was checked against exactly these models.
SOURCE_PACKAGE = "mediapipe==0.10.21"
# The tflite files are the same in every platform's wheel; pin one so the download is
# reproducible whatever machine runs it.
SOURCE_WHEEL_PLATFORM = ("manylinux_2_28_x86_64", "3.11", "cp", "cp311")
SOURCE_WHEEL_GLOB = "mediapipe-0.10.21-*.whl"
WHEEL_DETECTOR = "mediapipe/modules/pose_detection/pose_detection.tflite"
WHEEL_LANDMARKS = {"full": "mediapipe/modules/pose_landmark/pose_landmark_full.tflite"}
WHEEL_MEMBER_SHA256 = {
    WHEEL_DETECTOR: "9ba9dd3d42efaaba86b4ff0122b06f29c4122e756b329d89dca1e297fd8f866c",
    WHEEL_LANDMARKS["full"]: "e9a5c5cb17f736fafd4c2ec1da3b3d331d6edbe8a0d32395855aeb2cdfd64b9f",
}
OFFLINE_VARIANTS = tuple(WHEEL_LANDMARKS)
# The landmark model takes RGB scaled to [0, 1]: (pixel - 0) / 255.
LANDMARK_INPUT_MEAN = 0.0
LANDMARK_INPUT_STD = 255.0
# Data of each member starts on a 64-byte boundary so the runtime can map weights in place.
ZIP_MEMBER_ALIGNMENT = 64
_ZIP_PAD_HEADER_ID = 0xD935  # the extra-field id Android's zipalign uses for padding

_TRUE = {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class ModelBundle:
    """A validated ``.task`` bundle ready for ``PoseLandmarker``.

    Attributes
    ----------
    path : Path
        The ``.task`` file.
    variant : str
        ``"lite"``, ``"full"``, ``"heavy"``, or ``"custom"`` for an explicit file of unknown kind.
    source : str
        How it was found this time: ``"explicit"``, ``"env"``, ``"cache"``, ``"download"`` or
        ``"offline-build"``.
    sha256 : str
        Hex digest of the file.
    provenance : dict
        The content of ``<name>.task.json`` (origin, input hashes, date, tool versions), or a
        minimal record for files that have none.
    """

    path: Path
    variant: str
    source: str
    sha256: str
    provenance: dict = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class ModelInfo:
    """One row of :func:`list_models`.

    ``size`` is in bytes (``None`` when not cached); ``source`` is where the cached file came
    from (``"download"``, ``"offline-build"``, ...) or ``None``.
    """

    variant: str
    cached: bool
    path: Path
    source: str | None
    size: int | None
    offline_buildable: bool


# --- locations -------------------------------------------------------------------------


def cache_dir() -> Path:
    """The model cache: ``$POSTURE_CACHE_DIR`` or the user cache dir + ``posture/models``."""
    override = os.environ.get("POSTURE_CACHE_DIR")
    if override:
        return Path(override).expanduser()
    return Path(platformdirs.user_cache_dir("posture")) / "models"


def bundle_name(variant: str) -> str:
    """File name of a variant's bundle, the same as the official one."""
    return f"pose_landmarker_{variant}.task"


def cached_path(variant: str) -> Path:
    return cache_dir() / bundle_name(variant)


def provenance_path(bundle: Path) -> Path:
    return bundle.with_name(bundle.name + ".json")


def download_url(variant: str) -> str:
    """Official URL of a variant, below ``$POSTURE_MODEL_URL`` when set."""
    base = os.environ.get("POSTURE_MODEL_URL") or OFFICIAL_BASE_URL
    return f"{base.rstrip('/')}/pose_landmarker_{variant}/float16/latest/{bundle_name(variant)}"


def _offline() -> bool:
    return os.environ.get("POSTURE_OFFLINE", "").strip().lower() in _TRUE


class _SourceFailed(Exception):
    """One source (download, build) did not work; the message says why."""


# --- install, validate, provenance -----------------------------------------------------


def _install(tmp: Path, dest: Path, variant: str, source: str, prov: dict) -> ModelBundle:
    """Validate a temp bundle, record provenance and rename it into place."""
    problem = _bundle_problem(tmp)
    if problem is not None:
        _remove_quietly(tmp)
        raise _SourceFailed(f"the result is not a valid bundle ({problem})")
    digest = _sha256(tmp)
    prov = {
        **prov,
        "sha256": digest,
        "size": tmp.stat().st_size,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "tool": _tool_versions(),
    }
    # Provenance first, then the bundle: a run killed in between leaves the old bundle with a
    # record whose sha256 does not match it, which readers ignore (never a half bundle).
    _write_text_atomic(provenance_path(dest), json.dumps(prov, indent=2, sort_keys=True) + "\n")
    os.chmod(tmp, 0o644)  # mkstemp makes 0600; a model is not a secret
    os.replace(tmp, dest)
    return ModelBundle(dest, variant, source, digest, prov)


def _bundle_problem(path: Path) -> str | None:
    """Why ``path`` is not a usable bundle, or ``None`` when it is."""
    try:
        if not zipfile.is_zipfile(path):
            return "not a zip file"
        with zipfile.ZipFile(path) as zf:
            infos = {i.filename: i for i in zf.infolist()}
            missing = [m for m in BUNDLE_MEMBERS if m not in infos]
            if missing:
                return f"missing {', '.join(missing)}"
            for m in BUNDLE_MEMBERS:
                if infos[m].compress_type != zipfile.ZIP_STORED:
                    return f"{m} is compressed; MediaPipe needs stored (uncompressed) members"
                with zf.open(m) as fh:
                    head = fh.read(8)
                if head[4:8] != b"TFL3":
                    return f"{m} is not a TFLite model"
            bad = zf.testzip()
            if bad is not None:
                return f"{bad} fails its CRC check"
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        return f"unreadable ({exc})"
    return None


def _matching_provenance(bundle: Path, digest: str) -> dict:
    """The bundle's provenance record if it describes this very file, else a stub saying so."""
    prov = _read_provenance(bundle)
    if prov and prov.get("sha256") == digest:
        return prov
    note = "provenance record is for another file" if prov else "no provenance record"
    return {"source": "unknown", "sha256": digest, "note": note}


def _read_provenance(bundle: Path) -> dict:
    try:
        data = json.loads(provenance_path(bundle).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _tool_versions() -> dict:
    from importlib import metadata

    versions = {"python": platform.python_version()}
    for dist in ("posture", "mediapipe", "flatbuffers"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = None
    return versions


def _write_text_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=path.name + ".", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(name, 0o644)
        os.replace(name, path)
    except BaseException:
        _remove_quietly(Path(name))
        raise


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _remove_quietly(path: Path) -> None:
    try:
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()
    except OSError:
        pass
