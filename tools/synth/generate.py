"""Making one labelled image from (seed, index), and whole data sets of them."""

from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .body import BodyModel
from .camera import body_to_world
from .labels import bone_rng, draw_bone_offsets, make_label
from .scene import make_rng, sample_scene
from .scene_build import Photo, ankle_midpoint, build_body, photograph, pose_at_target

DEFAULT_SIZE = (540, 960)  # width, height
INDEX_COLUMNS = ("id", "seed", "index", "pelvic_tilt_deg", "pelvic_tilt_palpation_deg",
                 "pelvic_tilt_image_deg",
                 "lordosis_l1_rotation_deg", "lordosis_surface_deg", "facing", "arms",
                 "sex_gender", "age_years", "stature_m", "yaw_deg", "roll_deg")


@dataclass(frozen=True)
class Sample:
    """One generated image with its label."""

    id: str
    jpeg: bytes
    image: np.ndarray  # the decoded JPEG, RGB uint8
    mask: np.ndarray  # uint8, 255 = person
    label: dict


def sample_id(seed: int, index: int) -> str:
    """File stem of image ``index`` of the set made with ``seed``."""
    return f"s{seed}_{index:06d}"


def make_sample(model: BodyModel, seed: int, index: int,
                size: tuple[int, int] = DEFAULT_SIZE) -> Sample:
    """Generate image ``index`` of the data set ``seed`` (depends on nothing else)."""
    scene = pose_at_target(build_body(model, sample_scene(make_rng(seed, index))))
    params, body, posed = scene.params, scene.built.body, scene.posed
    world = body_to_world(ankle_midpoint(body, posed), params.facing, params.yaw)
    photo = photograph(scene.built, posed, world, params.camera, params.sensor, size)
    label = make_label(seed=seed, index=index, params=params, dT=scene.tilt_change,
                       rest_tilt=scene.built.rest_tilt, body=body, posed=posed, world=world,
                       camera=photo.camera, facing=params.facing,
                       bone_offsets=draw_bone_offsets(bone_rng(seed, index)))
    return to_sample(sample_id(seed, index), label, photo)


def to_sample(stem: str, label: dict, photo: Photo) -> Sample:
    """The :class:`Sample` of ``photo``; names ``label``'s id, image and mask after ``stem``."""
    label["id"] = stem
    label["image"] = f"{stem}.jpg"
    label["mask"] = f"{stem}_mask.png"
    return Sample(id=stem, jpeg=photo.jpeg, image=photo.decoded, mask=photo.rendered.mask,
                  label=label)


def write_sample(sample: Sample, out_dir: Path, mask: bool = True) -> None:
    """Write ``<id>.jpg``, ``<id>_mask.png`` and, last, ``<id>.json`` (marks it complete)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"{sample.id}.jpg").write_bytes(sample.jpeg)
    if mask:
        cv2.imwrite(str(out_dir / f"{sample.id}_mask.png"), sample.mask,
                    [cv2.IMWRITE_PNG_COMPRESSION, 9])
    tmp = out_dir / f"{sample.id}.json.tmp"
    tmp.write_text(json.dumps(sample.label, indent=1))
    os.replace(tmp, out_dir / f"{sample.id}.json")  # atomic: a crash leaves no half label


def is_complete(out_dir: Path, seed: int, index: int) -> bool:
    """An image counts as done when its label, image and mask all exist."""
    stem = out_dir / sample_id(seed, index)
    return all(Path(f"{stem}{ext}").exists() for ext in (".json", ".jpg", "_mask.png"))


def index_row(label: dict) -> dict:
    """The CSV index row of one label."""
    p = label["params"]
    return {
        "id": label["id"], "seed": label["seed"], "index": label["index"],
        "pelvic_tilt_deg": label["pelvic_tilt_deg"],
        "pelvic_tilt_palpation_deg": label.get("pelvic_tilt_palpation_deg"),
        "pelvic_tilt_image_deg": label["pelvic_tilt_image_deg"]["with_roll"]["mid"],
        "lordosis_l1_rotation_deg": label["lumbar_lordosis_deg"]["l1_rotation_deg"],
        "lordosis_surface_deg": label["lumbar_lordosis_deg"]["surface_deg"],
        "facing": label["facing"], "arms": p["pose"]["arms"],
        "sex_gender": p["shape"]["gender"], "age_years": p["shape"]["age_years"],
        "stature_m": label["stature_m"], "yaw_deg": p["yaw"],
        "roll_deg": label["camera"]["roll_deg"],
    }


def write_index(out_dir: Path, seed: int, n: int) -> int:
    """(Re)write ``index.csv`` from the labels present; returns the number of rows."""
    rows = []
    for i in range(n):
        path = out_dir / f"{sample_id(seed, i)}.json"
        if path.exists():
            rows.append(index_row(json.loads(path.read_text())))
    with open(out_dir / "index.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=INDEX_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return len(rows)


# --- worker processes: each builds the body model once, then makes many images
_MODEL: BodyModel | None = None


def _worker_init() -> None:
    global _MODEL
    cv2.setNumThreads(1)
    _MODEL = BodyModel()


def _worker_job(job: tuple[int, int, tuple[int, int], str]) -> str:
    seed, index, size, out_dir = job
    assert _MODEL is not None
    write_sample(make_sample(_MODEL, seed, index, size), Path(out_dir))
    return sample_id(seed, index)


def generate(n: int, seed: int, out_dir: Path, workers: int = 1,
             size: tuple[int, int] = DEFAULT_SIZE, start: int = 0) -> int:
    """Make images ``start .. n-1`` of set ``seed`` in ``out_dir``, skipping finished ones.

    Returns
    -------
    int
        Number of images made by this call.
    """
    from tqdm import tqdm

    out_dir.mkdir(parents=True, exist_ok=True)
    todo = [i for i in range(start, n) if not is_complete(out_dir, seed, i)]
    jobs = [(seed, i, size, str(out_dir)) for i in todo]
    bar = tqdm(total=n - start, initial=n - start - len(todo), unit="img", desc="synth")
    if workers <= 1:
        _worker_init()
        for job in jobs:
            _worker_job(job)
            bar.update()
    else:
        import multiprocessing as mp

        with mp.get_context("spawn").Pool(workers, initializer=_worker_init) as pool:
            for _ in pool.imap_unordered(_worker_job, jobs, chunksize=1):
                bar.update()
    bar.close()
    write_index(out_dir, seed, n)
    return len(todo)
