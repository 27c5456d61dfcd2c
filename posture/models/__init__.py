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

import os
from pathlib import Path

from posture.errors import ModelError

from .bundle import (
    BUNDLE_MEMBERS,
    DEFAULT_VARIANT,
    DETECTOR_MEMBER,
    DOWNLOAD_TIMEOUT_S,
    LANDMARKS_MEMBER,
    MAX_DOWNLOAD_BYTES,
    OFFICIAL_BASE_URL,
    OFFLINE_VARIANTS,
    SOURCE_PACKAGE,
    SOURCE_WHEEL_GLOB,
    SOURCE_WHEEL_PLATFORM,
    VARIANTS,
    WHEEL_DETECTOR,
    WHEEL_LANDMARKS,
    WHEEL_MEMBER_SHA256,
    ZIP_MEMBER_ALIGNMENT,
    ModelBundle,
    ModelInfo,
    _bundle_problem,
    _matching_provenance,
    _offline,
    _read_provenance,
    _remove_quietly,
    _sha256,
    _SourceFailed,
    bundle_name,
    cache_dir,
    cached_path,
    download_url,
    provenance_path,
)
from .download import _download
from .offline import _build_offline, pip_download_command

# the public API (tests reach internals in the submodules that own them)
__all__ = [
    "BUNDLE_MEMBERS",
    "DEFAULT_VARIANT",
    "DETECTOR_MEMBER",
    "DOWNLOAD_TIMEOUT_S",
    "LANDMARKS_MEMBER",
    "MAX_DOWNLOAD_BYTES",
    "OFFICIAL_BASE_URL",
    "OFFLINE_VARIANTS",
    "SOURCE_PACKAGE",
    "SOURCE_WHEEL_GLOB",
    "SOURCE_WHEEL_PLATFORM",
    "VARIANTS",
    "WHEEL_DETECTOR",
    "WHEEL_LANDMARKS",
    "WHEEL_MEMBER_SHA256",
    "ZIP_MEMBER_ALIGNMENT",
    "ModelBundle",
    "ModelInfo",
    "bundle_name",
    "cache_dir",
    "cached_path",
    "download_url",
    "fetch_model",
    "list_models",
    "pip_download_command",
    "provenance_path",
    "resolve_model",
]


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


