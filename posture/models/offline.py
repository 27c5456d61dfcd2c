"""The offline build: the pinned ``mediapipe`` wheel's tflite files (downloaded with pip,
never installed) plus the TFLite metadata the Tasks API needs, zipped into a bundle."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from .bundle import (
    _ZIP_PAD_HEADER_ID,
    DETECTOR_MEMBER,
    LANDMARK_INPUT_MEAN,
    LANDMARK_INPUT_STD,
    LANDMARKS_MEMBER,
    SOURCE_PACKAGE,
    SOURCE_WHEEL_GLOB,
    SOURCE_WHEEL_PLATFORM,
    WHEEL_DETECTOR,
    WHEEL_LANDMARKS,
    WHEEL_MEMBER_SHA256,
    ZIP_MEMBER_ALIGNMENT,
    ModelBundle,
    _install,
    _remove_quietly,
    _sha256,
    _SourceFailed,
    cache_dir,
    cached_path,
)

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


