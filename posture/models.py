"""Find, download or build the MediaPipe pose landmarker model bundle (``.task``).

A ``.task`` bundle is an uncompressed zip holding ``pose_detector.tflite`` and
``pose_landmarks_detector.tflite``; ``mediapipe.tasks.python.vision.PoseLandmarker`` loads it.
MediaPipe >= 1.0 ships no pose model, so :func:`resolve_model` looks, in this order:

1. an explicit path (``spec`` / ``--model``), or the environment variable ``POSTURE_MODEL``
   (a path or a variant name);
2. the user cache (:func:`cache_dir`);
3. the official download from Google's model storage;
4. an offline build: the ``mediapipe==0.10.21`` wheel from PyPI (downloaded with pip, never
   installed) holds the detector and the *full* landmark model; the landmark model gets the
   TFLite metadata the Tasks API needs (see :mod:`posture._tflite_metadata`). Only ``full``
   can be built this way: no wheel carries the lite or heavy landmark models.

Environment variables
---------------------
``POSTURE_MODEL``            path to a ``.task`` file or a variant name (lite, full, heavy)
``POSTURE_CACHE_DIR``        overrides the cache directory
``POSTURE_MODEL_URL``        overrides the download base URL (the path layout below it stays)
``POSTURE_OFFLINE=1``        never download a bundle (an offline build may still use pip)
``POSTURE_MEDIAPIPE_WHEEL``  path to an already downloaded ``mediapipe-0.10.21`` wheel

Every bundle written to the cache is written to a temporary file and renamed into place, and
comes with ``<name>.task.json`` recording where it came from.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import platformdirs

from posture.errors import ModelError

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


# --- public API ------------------------------------------------------------------------


def resolve_model(
    spec: str | os.PathLike | None = None,
    *,
    allow_download: bool = True,
    allow_build: bool = True,
    progress: bool = True,
) -> ModelBundle:
    """Find a usable pose model bundle, downloading or building one if needed.

    Parameters
    ----------
    spec
        A path to a ``.task`` file or a variant name (``"lite"``, ``"full"``, ``"heavy"``).
        ``None``: ``$POSTURE_MODEL`` if set, else ``"full"``.
    allow_download
        Try the official download (also off when ``POSTURE_OFFLINE=1``).
    allow_build
        Try the offline build from the ``mediapipe==0.10.21`` wheel (full only).
    progress
        Show progress bars on stderr while downloading or building.

    Raises
    ------
    ModelError
        ``model_not_found`` / ``model_invalid`` for a bad explicit path; ``model_unavailable``
        (listing every option) when no source worked.
    """
    source = "explicit"
    if spec is None:
        env = os.environ.get("POSTURE_MODEL", "").strip()
        spec, source = (env, "env") if env else (DEFAULT_VARIANT, "default")
    variant = _as_variant(spec)
    if variant is None:
        return _explicit_bundle(Path(spec).expanduser(), source)

    tried: list[str] = []
    bundle = _from_cache(variant, tried)
    if bundle is not None:
        return bundle
    return _obtain(variant, allow_download, allow_build, progress, tried)


def fetch_model(variant: str = DEFAULT_VARIANT, *, force: bool = False, progress: bool = True):
    """Put a variant into the cache (download, else offline build) and return it.

    With ``force`` a cached copy is ignored and replaced. Returns a :class:`ModelBundle`.
    """
    v = _as_variant(variant)
    if v is None:
        raise ModelError(
            f"unknown model variant {variant!r}; choose one of {', '.join(VARIANTS)}",
            code="model_unknown_variant",
        )
    tried: list[str] = []
    if not force:
        bundle = _from_cache(v, tried)
        if bundle is not None:
            return bundle
    return _obtain(v, True, True, progress, tried)


def list_models() -> list[ModelInfo]:
    """One row per variant: whether it is cached (and valid), where, from what, how big."""
    rows = []
    for v in VARIANTS:
        path = cached_path(v)
        ok = path.is_file() and _bundle_problem(path) is None
        prov = _read_provenance(path) if ok else {}
        rows.append(
            ModelInfo(
                variant=v,
                cached=ok,
                path=path,
                source=prov.get("source") if ok else None,
                size=path.stat().st_size if ok else None,
                offline_buildable=v in OFFLINE_VARIANTS,
            )
        )
    return rows


# --- resolution steps ------------------------------------------------------------------


def _as_variant(spec: str | os.PathLike) -> str | None:
    """The variant named by ``spec``, or ``None`` when it is a path."""
    if isinstance(spec, str) and spec.strip().lower() in VARIANTS:
        return spec.strip().lower()
    return None


def _explicit_bundle(path: Path, source: str) -> ModelBundle:
    origin = "POSTURE_MODEL" if source == "env" else "--model"
    if not path.is_file():
        raise ModelError(
            f"no model file at {path} (from {origin}); give a .task file or one of "
            f"{', '.join(VARIANTS)}",
            code="model_not_found",
        )
    problem = _bundle_problem(path)
    if problem is not None:
        raise ModelError(
            f"{path} (from {origin}) is not a pose landmarker .task bundle: {problem}",
            code="model_invalid",
        )
    digest = _sha256(path)
    prov = _matching_provenance(path, digest)
    variant = prov.get("variant") or _variant_from_name(path.name)
    return ModelBundle(path, variant, "env" if source == "env" else "explicit", digest, prov)


def _variant_from_name(name: str) -> str:
    hits = [v for v in VARIANTS if v in name.lower()]
    return hits[0] if len(hits) == 1 else "custom"


def _from_cache(variant: str, tried: list[str]) -> ModelBundle | None:
    """The cached bundle when valid; a corrupt one is removed so it gets replaced."""
    path = cached_path(variant)
    if not path.exists():
        tried.append(f"cache: no {path}")
        return None
    problem = _bundle_problem(path)
    if problem is not None:
        tried.append(f"cache: {path} was unusable ({problem}); removed")
        _remove_quietly(path)
        _remove_quietly(provenance_path(path))
        return None
    digest = _sha256(path)
    return ModelBundle(path, variant, "cache", digest, _matching_provenance(path, digest))


def _obtain(
    variant: str, allow_download: bool, allow_build: bool, progress: bool, tried: list[str]
) -> ModelBundle:
    if not allow_download:
        tried.append("download: disabled")
    elif _offline():
        tried.append("download: disabled by POSTURE_OFFLINE")
    else:
        try:
            return _download(variant, progress)
        except _SourceFailed as exc:
            tried.append(f"download from {download_url(variant)}: {exc}")
    if not allow_build:
        tried.append("offline build: disabled")
    elif variant not in OFFLINE_VARIANTS:
        tried.append(
            f"offline build: not possible for {variant!r} (no PyPI wheel ships its landmark "
            f"model; only {', '.join(OFFLINE_VARIANTS)} can be built offline)"
        )
    else:
        try:
            return _build_offline(variant, progress)
        except _SourceFailed as exc:
            tried.append(f"offline build: {exc}")
    raise ModelError(_unavailable_message(variant, tried), code="model_unavailable")


def _unavailable_message(variant: str, tried: list[str]) -> str:
    lines = [f"No pose model ({variant!r}) is available. Tried:"]
    lines += [f"  - {t}" for t in tried]
    lines += [
        "Options:",
        f"  - on a machine with internet access download {download_url(variant)} (or another",
        "    pose_landmarker_*.task), copy it here and pass it with --model PATH or",
        "    POSTURE_MODEL=PATH;",
        "  - allow network access (unset POSTURE_OFFLINE) and run",
        f"    `posture models fetch {variant}`;",
    ]
    if variant in OFFLINE_VARIANTS:
        lines += [
            "  - for an offline build allow PyPI access (pip download mediapipe==0.10.21), or",
            "    download that wheel elsewhere and set POSTURE_MEDIAPIPE_WHEEL=PATH;",
        ]
    else:
        lines.append(
            f"  - use the {'/'.join(OFFLINE_VARIANTS)} variant, which can be built offline "
            "(--model full);"
        )
    lines.append(f"  - or put a bundle at {cached_path(variant)}.")
    return "\n".join(lines)


class _SourceFailed(Exception):
    """One source (download, build) did not work; the message says why."""


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


# --- offline build ---------------------------------------------------------------------


def _build_offline(variant: str, progress: bool) -> ModelBundle:
    from tqdm import tqdm

    from posture import _tflite_metadata as tm

    dest = cached_path(variant)
    steps = ["wheel", "extract", "metadata", "bundle", "verify"]
    with tqdm(
        total=len(steps), desc=f"build {variant}", file=sys.stderr, disable=not progress
    ) as bar:
        bar.set_postfix_str("get mediapipe 0.10.21 wheel")
        wheel, wheel_origin = _source_wheel(progress)
        bar.update()

        bar.set_postfix_str("extract models")
        members = {WHEEL_DETECTOR: b"", WHEEL_LANDMARKS[variant]: b""}
        try:
            with zipfile.ZipFile(wheel) as zf:
                for name in members:
                    members[name] = zf.read(name)
        except (zipfile.BadZipFile, KeyError, OSError) as exc:
            raise _SourceFailed(f"{wheel} is not the expected wheel ({exc})") from None
        for name, data in members.items():
            got = hashlib.sha256(data).hexdigest()
            if got != WHEEL_MEMBER_SHA256[name]:
                raise _SourceFailed(
                    f"{name} in {wheel.name} has sha256 {got}, expected "
                    f"{WHEEL_MEMBER_SHA256[name]}; refusing an unverified model"
                )
        bar.update()

        bar.set_postfix_str("write TFLite metadata")
        try:
            schemas = tm.load_schemas(wheel)
            landmarks = _landmark_model_with_metadata(
                tm, schemas, members[WHEEL_LANDMARKS[variant]], variant
            )
            # The detector already has metadata; re-serialising only aligns its weights.
            detector = tm.realign(schemas, members[WHEEL_DETECTOR])
        except Exception as exc:  # a schema or flatbuffers mismatch: report, don't crash
            raise _SourceFailed(f"could not write model metadata ({exc!r})") from None
        bar.update()

        bar.set_postfix_str("write bundle")
        tmp = _write_bundle_temp(dest, {DETECTOR_MEMBER: detector, LANDMARKS_MEMBER: landmarks})
        bar.update()

        bar.set_postfix_str("check it loads")
        try:
            verified = _verify_loads(tmp)
        except Exception as exc:
            _remove_quietly(tmp)
            raise _SourceFailed(f"the built bundle does not load in MediaPipe ({exc})") from None
        bar.update()

    prov = {
        "source": "offline-build",
        "variant": variant,
        "inputs": [
            {
                "name": wheel.name,
                "package": SOURCE_PACKAGE,
                "origin": wheel_origin,
                "sha256": _sha256(wheel),
            },
        ]
        + [
            {"wheel_member": n, "sha256": hashlib.sha256(d).hexdigest()} for n, d in members.items()
        ],
        "members": {
            DETECTOR_MEMBER: {
                "from": WHEEL_DETECTOR,
                "sha256": hashlib.sha256(detector).hexdigest(),
                "change": "re-serialised with 16-byte aligned buffers; metadata kept",
            },
            LANDMARKS_MEMBER: {
                "from": WHEEL_LANDMARKS[variant],
                "sha256": hashlib.sha256(landmarks).hexdigest(),
                "change": (
                    "TFLITE_METADATA added: RGB image input, NormalizationOptions "
                    f"mean {LANDMARK_INPUT_MEAN:g} std {LANDMARK_INPUT_STD:g} (input in [0, 1])"
                ),
            },
        },
        "verified": verified,
        "license": "Apache-2.0 (the MediaPipe models)",
    }
    return _install(tmp, dest, variant, "offline-build", prov)


def _landmark_model_with_metadata(tm, schemas, model: bytes, variant: str) -> bytes:
    _, outputs = tm.tensor_names(schemas, model)
    meta = tm.build_image_model_metadata(
        schemas,
        name=f"BlazePose GHUM 3D pose landmarks ({variant})",
        description=(
            "33 pose landmarks, world landmarks and a segmentation mask from a 256x256 RGB "
            "crop. Metadata written by posture for the MediaPipe Tasks API."
        ),
        image=tm.ImageInputSpec(mean=LANDMARK_INPUT_MEAN, std=LANDMARK_INPUT_STD),
        output_names=outputs,
        author="MediaPipe (model); posture (metadata)",
    )
    return tm.attach_metadata(schemas, model, meta)


def _source_wheel(progress: bool) -> tuple[Path, str]:
    """The mediapipe 0.10.21 wheel: ``$POSTURE_MEDIAPIPE_WHEEL``, cached, or pip download."""
    given = os.environ.get("POSTURE_MEDIAPIPE_WHEEL")
    if given:
        path = Path(given).expanduser()
        if not path.is_file():
            raise _SourceFailed(f"POSTURE_MEDIAPIPE_WHEEL={given} is not a file")
        return path, "POSTURE_MEDIAPIPE_WHEEL"
    sources = cache_dir() / "sources"
    found = sorted(sources.glob(SOURCE_WHEEL_GLOB))
    if found and zipfile.is_zipfile(found[0]):
        return found[0], "PyPI (pip download, cached)"
    sources.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=sources, prefix=".download-") as tmpdir:
        _pip_download(Path(tmpdir), progress)
        got = sorted(Path(tmpdir).glob(SOURCE_WHEEL_GLOB))
        if not got:
            raise _SourceFailed("pip download produced no mediapipe 0.10.21 wheel")
        final = sources / got[0].name
        os.replace(got[0], final)
    return final, "PyPI (pip download)"


def pip_download_command(dest: Path) -> list[str]:
    """The pip command that fetches the source wheel (without installing it)."""
    plat, pyver, impl, abi = SOURCE_WHEEL_PLATFORM
    return [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--platform",
        plat,
        "--python-version",
        pyver,
        "--implementation",
        impl,
        "--abi",
        abi,
        "--disable-pip-version-check",
        "-d",
        str(dest),
        SOURCE_PACKAGE,
    ]


def _pip_download(dest: Path, progress: bool) -> None:
    cmd = pip_download_command(dest)
    try:
        # pip's output goes to stderr: stdout may carry the CLI's JSON.
        proc = subprocess.run(
            cmd,
            stdout=sys.stderr if progress else subprocess.PIPE,
            stderr=subprocess.STDOUT if not progress else None,
            timeout=900,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise _SourceFailed(f"pip download failed ({exc})") from None
    if proc.returncode != 0:
        tail = (proc.stdout or b"").decode(errors="replace").strip().splitlines()[-3:]
        detail = "; ".join(tail) if tail else "see the pip output above"
        raise _SourceFailed(
            f"pip download {SOURCE_PACKAGE} failed (exit {proc.returncode}: {detail})"
        )


def _verify_loads(bundle: Path) -> dict | None:
    """Create a ``PoseLandmarker`` from the bundle and run it once on a blank image.

    Returns what was checked, or ``None`` when MediaPipe is not importable (nothing to check
    against); raises when MediaPipe refuses the bundle.
    """
    try:
        import mediapipe as mp
        import numpy as np
        from mediapipe.tasks.python import BaseOptions, vision
    except ImportError:
        return None
    options = vision.PoseLandmarkerOptions(
        base_options=BaseOptions(model_asset_buffer=bundle.read_bytes()),
        running_mode=vision.RunningMode.IMAGE,
    )
    with vision.PoseLandmarker.create_from_options(options) as landmarker:
        blank = np.full((256, 256, 3), 255, np.uint8)
        landmarker.detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=blank))
    return {
        "loaded_in": "mediapipe.tasks.python.vision.PoseLandmarker",
        "mediapipe": mp.__version__,
    }


def _write_bundle_temp(dest: Path, members: dict[str, bytes]) -> Path:
    """Write an uncompressed zip (members 64-byte aligned) to a temp file beside ``dest``."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=dest.name + ".", suffix=".part", dir=dest.parent)
    tmp = Path(name)
    try:
        with os.fdopen(fd, "wb") as fh, zipfile.ZipFile(fh, "w", zipfile.ZIP_STORED) as zf:
            for member, data in members.items():
                info = zipfile.ZipInfo(member, date_time=(1980, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_STORED
                info.extra = _alignment_padding(fh.tell(), member)
                zf.writestr(info, data)
    except BaseException:
        _remove_quietly(tmp)
        raise
    return tmp


def _alignment_padding(header_offset: int, member: str) -> bytes:
    """An extra field that makes the member's data start on a 64-byte boundary."""
    fixed = 30 + len(member.encode()) + 4  # local header + name + the extra field's own header
    pad = (-(header_offset + fixed)) % ZIP_MEMBER_ALIGNMENT
    return _ZIP_PAD_HEADER_ID.to_bytes(2, "little") + pad.to_bytes(2, "little") + b"\0" * pad


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
