"""Making one labelled image from (seed, index), and whole data sets of them."""

from __future__ import annotations

import csv
import dataclasses
import json
import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .appearance import add_hair_volume, vertex_colours
from .body import BodyModel, pelvic_tilts
from .camera import body_to_world, frame_camera
from .labels import bone_rng, draw_bone_offsets, make_label
from .pose import pose_body
from .render import encode_jpeg, render
from .scene import make_rng, sample_scene

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
    params = sample_scene(make_rng(seed, index))
    slider = model.height_for_stature(params.shape, params.stature)
    params = dataclasses.replace(params, shape=dataclasses.replace(params.shape, height=slider))
    body = model.build(params.shape)
    rest_tilt = pelvic_tilts(body.vertices, body.faces)["mid"]
    d_t = params.target_tilt - rest_tilt
    params = dataclasses.replace(
        params, pose=dataclasses.replace(params.pose, pelvic_tilt_change=d_t))
    albedo, material = vertex_colours(body, params.appearance)
    body = add_hair_volume(body, material, params.appearance)
    posed = pose_body(body, params.pose)
    ankles = (posed.joints[body.bone("foot.L")] + posed.joints[body.bone("foot.R")]) / 2
    world = body_to_world(ankles, params.facing, params.yaw)
    verts = posed.vertices @ world[:3, :3].T + world[:3, 3]
    width, height = size
    camera = frame_camera(verts, body.stature, params.camera, width, height)
    out = render(camera, verts, body.faces, albedo, material, params.lighting, params.room,
                 params.sensor, params.appearance.fabric_gloss)
    jpeg = encode_jpeg(out.image, params.sensor.jpeg_quality)
    decoded = cv2.cvtColor(cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR),
                           cv2.COLOR_BGR2RGB)
    label = make_label(seed=seed, index=index, params=params, dT=d_t, rest_tilt=rest_tilt,
                       body=body, posed=posed, world=world, camera=camera,
                       facing=params.facing,
                       bone_offsets=draw_bone_offsets(bone_rng(seed, index)))
    label["id"] = sample_id(seed, index)
    label["image"] = f"{label['id']}.jpg"
    label["mask"] = f"{label['id']}_mask.png"
    return Sample(id=label["id"], jpeg=jpeg, image=decoded, mask=out.mask, label=label)


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
