"""Speed of the pipeline against MediaPipe alone (issue 8), measured in one run.

Prints one table and writes ``bench/results/speed.{md,json}``:

- **photo**: raw ``PoseLandmarker.detect`` (same model, same decoded image, segmentation on as
  the pipeline runs it) against ``Analyzer.analyze(path)`` (decode, pose, roll, geometry,
  metrics, classification), per input group, wall and CPU time; the overlay on its own;
- **live**: ``Analyzer(mode="video").analyze_video_frame`` on a 640x480 clip made in memory
  from the sample renders, against raw ``detect_for_video`` on the same frames, for each pose
  model variant available here: frames per second and per-frame latency (median, p95);
- **batch**: ``posture batch`` on a folder of copies with 1 and 2 workers;
- **network**: the pelvis-patch network alone, CPU time per photo for its 54 passes (3
  members × 9 shifts × 2 views), single thread, in onnxruntime (what the library runs) and
  OpenCV DNN on the same ONNX graph, with fewer shifts or members (issue 26);
- **model**: cold provisioning (fresh ``POSTURE_CACHE_DIR``, offline build from the cached
  source wheel), warm resolution (cached bundle), landmarker creation; peak RSS of a
  ``posture analyze`` process.

Inputs: ``samples/*.jpg`` (540x960 renders), ``../shared/photos/*.jpg`` when present, and two
renders upscaled to a phone's 3024x4032 ("phone-size", written to a temp dir) so that the cost
of large photos shows even where no real photo is at hand.

Usage::

    python bench/speed.py [--rounds 5] [--batch-images 48] [--out bench/results]
    python bench/speed.py --only network       # one section, to speed_network.{md,json}

``--only`` runs one section and writes ``speed_<section>.{md,json}``: ``photo``,
``network``, and three measurements that are not part of the full run (issue 26):
``passes`` (what each part of the 54 network passes buys in accuracy on the labelled
renders and in re-encoding SD on the shared photos' benign copies), ``overlap`` (the image
and mirror inferences on two landmarkers at once) and ``draft`` (JPEG draft-mode decoding
at reduced size: the change of the reading and the decode time).

Timings on a shared machine are only as good as its idle time: the 1-minute load average
before and after the run is recorded with the figures.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from posture.analysis import Analyzer, assess
from posture.horizon import estimate_roll
from posture.images import load_image
from posture.models import VARIANTS, cache_dir, list_models
from posture.present.overlay import draw_overlay

ROOT = Path(__file__).resolve().parents[1]  # the repository (posture is installed)
#: the tree whose ``posture`` this process imported (ROOT, or another checkout put first on
#: PYTHONPATH to time older code with this bench): subprocesses run the same code
CODE_ROOT = Path(__import__("posture").__file__).resolve().parents[1]

SHARED_PHOTOS = ROOT.parent / "shared" / "photos"
PHONE_SIZE = (3024, 4032)  # (w, h) of a 12 MP phone photo in portrait
CLIP_SIZE = (640, 480)
TARGETS = {
    # issue 17: photo analysis with mirror averaging (two MediaPipe runs) vs one raw
    # inference; without mirror averaging the target was 1.15
    "analysis_over_raw": 2.3,  # at most
    "live_over_raw": 0.95,  # at least: live analysis fps / MediaPipe-alone fps
    "batch_over_raw": 1.25,  # at most: whole `posture batch` process / raw process
    "workers_2_over_1": 1.0,  # at least: steady images/s, local engine
    "live_fps_full": 25.0,  # at least
    "batch_2_over_1": 1.8,  # at least
    "peak_rss_mb": 600.0,  # at most
    "warm_load_s": 1.0,  # at most
}


def _ms(seconds: float) -> float:
    return round(1000.0 * seconds, 1)


def _timed(fn):
    """(result, wall s, process CPU s): CPU counts every thread, MediaPipe's included."""
    w, c = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - w, time.process_time() - c


def load_avg() -> float:
    return round(os.getloadavg()[0], 2)


# -- inputs --------------------------------------------------------------------------------

def input_groups(tmp: Path, phone: bool, photos: Path) -> dict[str, list[Path]]:
    groups = {"renders 540x960": sorted((ROOT / "samples").glob("*.jpg"))}
    shared = sorted(photos.glob("*.jpg"))
    if shared:
        groups["shared photos"] = shared
    if phone:
        out = []
        for src in groups["renders 540x960"][:2]:
            rgb = load_image(src).rgb
            big = cv2.resize(rgb, PHONE_SIZE, interpolation=cv2.INTER_CUBIC)
            dest = tmp / f"phone_{src.stem}.jpg"
            cv2.imwrite(str(dest), cv2.cvtColor(big, cv2.COLOR_RGB2BGR),
                        [cv2.IMWRITE_JPEG_QUALITY, 92])
            out.append(dest)
        groups["phone-size 3024x4032"] = out
    return groups


def make_clip(n_per_render: int = 30, renders: int = 4) -> list[np.ndarray]:
    """640x480 frames: renders letterboxed into the frame, each drifting a pixel per frame so
    that no two frames are identical (the tracker must track, not replay)."""
    w, h = CLIP_SIZE
    frames = []
    for src in sorted((ROOT / "samples").glob("*.jpg"))[:renders]:
        rgb = load_image(src).rgb
        s = h / rgb.shape[0]
        small = cv2.resize(rgb, (round(rgb.shape[1] * s), h), interpolation=cv2.INTER_AREA)
        x0 = (w - small.shape[1]) // 2
        canvas = cv2.copyMakeBorder(small, 0, 0, x0, w - small.shape[1] - x0,
                                    cv2.BORDER_REPLICATE)
        for k in range(n_per_render):
            frames.append(np.ascontiguousarray(np.roll(canvas, k - n_per_render // 2, axis=1)))
    return frames


# -- photo: raw MediaPipe vs the whole analyze path -----------------------------------------

def bench_photo(groups: dict[str, list[Path]], rounds: int) -> dict:
    import mediapipe as mp

    out = {}
    with Analyzer() as a:
        landmarker = a.landmarker._landmarker  # the pipeline's own: same model and options
        first = next(iter(groups.values()))[0]
        for _ in range(2):  # warm-up: first inferences allocate
            a.analyze(first)
        for name, files in groups.items():
            rgbs = [load_image(f).rgb for f in files]
            raw_w, raw_c, an_w, an_c = ([[] for _ in files] for _ in range(4))
            for _ in range(rounds):  # interleaved, so drifting load hits both alike
                for i, (f, rgb) in enumerate(zip(files, rgbs, strict=True)):
                    _, w, c = _timed(lambda rgb=rgb: landmarker.detect(
                        mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb)))
                    raw_w[i].append(w)
                    raw_c[i].append(c)
                    _, w, c = _timed(lambda f=f: a.analyze(f))
                    an_w[i].append(w)
                    an_c[i].append(c)
            # one serial pass through the stages, to see where the difference goes
            stages = {k: [] for k in ("decode", "pose", "roll", "geometry", "overlay")}
            for f in files:
                frame, w, _ = _timed(lambda f=f: load_image(f))
                stages["decode"].append(w)
                result, w, _ = _timed(lambda frame=frame: a.landmarker.detect(frame))
                stages["pose"].append(w)
                roll, w, _ = _timed(lambda frame=frame, result=result: estimate_roll(
                    frame.rgb, result.primary.mask if result.primary else None))
                stages["roll"].append(w)
                try:
                    asmt, w, _ = _timed(lambda result=result, roll=roll: assess(
                        result, a.estimator, roll, model_variant=a.landmarker.bundle.variant))
                except Exception:  # nobody found: no geometry, no overlay
                    continue
                stages["geometry"].append(w)
                _, w, _ = _timed(lambda frame=frame, asmt=asmt: draw_overlay(frame.rgb, asmt))
                stages["overlay"].append(w)

            def per_image(xs):  # median over rounds per image, mean over images
                return float(np.mean([np.median(x) for x in xs]))

            raw, an = per_image(raw_w), per_image(an_w)
            rawc, anc = per_image(raw_c), per_image(an_c)
            out[name] = {
                "images": len(files),
                "size": (f"{rgbs[0].shape[1]}x{rgbs[0].shape[0]}"
                         if len({x.shape for x in rgbs}) == 1 else "mixed"),
                "raw_ms": _ms(raw), "analyze_ms": _ms(an),
                "ratio": round(an / raw, 3),
                "raw_cpu_ms": _ms(rawc), "analyze_cpu_ms": _ms(anc),
                "cpu_ratio": round(anc / rawc, 3),
                "stages_ms": {k: _ms(float(np.median(v))) if v else None
                              for k, v in stages.items()},
            }
    return out


# -- live: VIDEO-mode loop on 640x480 -------------------------------------------------------

def _loop(frames, step, ts0: int) -> tuple[float, np.ndarray]:
    lat = np.empty(len(frames))
    t0 = time.perf_counter()
    for i, fr in enumerate(frames):
        s = time.perf_counter()
        step(fr, ts0 + 33 * i)
        lat[i] = time.perf_counter() - s
    return time.perf_counter() - t0, lat


def _raw_step(landmarker):
    import mediapipe as mp

    def step(rgb, ts):
        landmarker.detect_for_video(mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb), ts)
    return step


def bench_live(frames: list[np.ndarray]) -> dict:

    from posture.pose import PoseEstimator

    out = {}
    available = {m.variant: m for m in list_models()}
    for variant in VARIANTS:
        info = available.get(variant)
        if info is None or not info.cached:
            why = ("not cached; cannot be provisioned offline (no wheel carries it)"
                   if info is None or not info.offline_buildable else "not cached")
            out[variant] = {"available": False, "why": why}
            continue
        res = {"available": True, "frames": len(frames), "size": f"{CLIP_SIZE[0]}x{CLIP_SIZE[1]}"}
        n = len(frames)
        with PoseEstimator(variant, mode="video") as est:
            raw = _raw_step(est._landmarker)
            _loop(frames[:10], raw, 0)  # warm-up
            wall, lat = _loop(frames, raw, 1000)
        res["raw"] = {"fps": round(n / wall, 1), "median_ms": _ms(np.median(lat)),
                      "p95_ms": _ms(np.percentile(lat, 95))}
        # what the segmentation mask costs MediaPipe (the outline features need it)
        with PoseEstimator(variant, mode="video", segmentation=False) as est:
            raw = _raw_step(est._landmarker)
            _loop(frames[:10], raw, 0)
            wall, lat = _loop(frames, raw, 1000)
        res["raw_no_mask"] = {"fps": round(n / wall, 1), "median_ms": _ms(np.median(lat)),
                              "p95_ms": _ms(np.percentile(lat, 95))}
        overlay = []
        with Analyzer(variant, mode="video") as a:
            _loop(frames[:10], a.analyze_video_frame, 0)
            got: list = []

            def step(fr, ts, a=a, got=got):
                got.append(a.analyze_video_frame(fr, ts))

            wall, lat = _loop(frames, step, 1000)
            for fr, asmt in zip(frames[:30], got[:30], strict=True):
                if asmt is not None:
                    overlay.append(_timed(lambda fr=fr, asmt=asmt: draw_overlay(fr, asmt))[1])
        res["analysis"] = {"fps": round(n / wall, 1), "median_ms": _ms(np.median(lat)),
                           "p95_ms": _ms(np.percentile(lat, 95)),
                           "with_person": sum(g is not None for g in got)}
        res["overlay_ms"] = _ms(float(np.median(overlay))) if overlay else None
        out[variant] = res
    return out


# -- batch: posture batch with 1 and 2 workers ----------------------------------------------

def _posture_cmd() -> list[str]:
    # this checkout's code, even when another one is installed (PYTHONPATH: see _env)
    return [sys.executable, "-c", "import sys; from posture.cli import main; "
            "sys.exit(main(sys.argv[1:]))"]


def _env(**extra: str) -> dict:
    return dict(os.environ, PYTHONPATH=os.pathsep.join([str(CODE_ROOT), os.environ.get(
        "PYTHONPATH", "")]).rstrip(os.pathsep), **extra)


def _run_batch(folder: Path, csv: Path, workers: int) -> tuple[float, int, int]:
    cmd = _posture_cmd() + ["batch", str(folder), "--out", str(csv), "--workers", str(workers)]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, env=_env())
    wall = time.perf_counter() - t0
    rows = max(0, len(csv.read_text().splitlines()) - 1) if csv.exists() else 0
    return wall, rows, proc.returncode


def bench_batch(tmp: Path, n_images: int) -> dict:
    """End to end on ``n_images`` copies, and the steady rate with start-up taken out: the
    same run on a quarter of the copies, differenced (spawning workers and loading models
    is a fixed cost that a small folder would otherwise mostly measure)."""
    src = sorted((ROOT / "samples").glob("*.jpg"))
    n_small = max(2, n_images // 4)
    folders = {n_images: tmp / "batch_all", n_small: tmp / "batch_quarter"}
    for n, folder in folders.items():
        folder.mkdir()
        for i in range(n):
            shutil.copy(src[i % len(src)], folder / f"img_{i:04d}.jpg")
    out = {"images": n_images, "images_small": n_small}
    for workers in (1, 2):
        wall, rows, code = _run_batch(folders[n_images], tmp / f"all_{workers}.csv", workers)
        wall_s, _, _ = _run_batch(folders[n_small], tmp / f"quarter_{workers}.csv", workers)
        steady = (n_images - n_small) / max(wall - wall_s, 1e-6)
        out[f"workers_{workers}"] = {
            "wall_s": round(wall, 2), "rows": rows, "exit": code,
            "images_per_s": round(n_images / wall, 2),
            "steady_images_per_s": round(steady, 2),
            "startup_s": round(wall - n_images / steady, 2),
        }
    w1, w2 = out["workers_1"], out["workers_2"]
    out["ratio"] = round(w2["images_per_s"] / w1["images_per_s"], 3)
    out["steady_ratio"] = round(w2["steady_images_per_s"] / w1["steady_images_per_s"], 3)
    return out


# -- engines: local workers 1/2/auto and Ray, against raw MediaPipe (issue 17) ---------------

_RAW_PROCESS = textwrap.dedent("""
    import json, sys, time
    t0 = time.perf_counter()
    import mediapipe as mp
    from posture.images import load_image
    from posture.pose import PoseEstimator
    from posture.threads import limit_worker_threads
    limit_worker_threads()  # as a batch worker runs
    files = open(sys.argv[1]).read().split("\\n")
    with PoseEstimator("full") as est:  # the pipeline's options: 2 poses, mask on
        t1 = time.perf_counter()
        for f in files:
            rgb = load_image(f).rgb
            est._landmarker.detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb))
        t2 = time.perf_counter()
    print(json.dumps({"startup_s": t1 - t0, "loop_s": t2 - t1}))
""")


def _session_cpu(sid: int, seen: dict[int, float]) -> None:
    """Record the CPU seconds (user + system) of every live process of session ``sid``."""
    tick = os.sysconf("SC_CLK_TCK")
    for p in Path("/proc").iterdir():
        if not p.name.isdigit():
            continue
        try:
            f = (p / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(f[3]) == sid:
            seen[int(p.name)] = max(seen.get(int(p.name), 0.0), (int(f[11]) + int(f[12])) / tick)


def _timed_process(cmd: list[str]) -> tuple[float, float, subprocess.CompletedProcess]:
    """(wall s, CPU s, result). CPU is that of every process of the command's session,
    sampled every 0.1 s (Ray's workers are not children the command waits for, so
    ``os.times`` would miss them; a process's last 0.1 s before it exits is lost)."""
    seen: dict[int, float] = {}
    t0 = time.perf_counter()
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          env=_env(), start_new_session=True) as p:
        import threading

        out: dict = {}
        reader = threading.Thread(target=lambda: out.update(zip(
            ("stdout", "stderr"), p.communicate(), strict=True)))
        reader.start()
        while reader.is_alive():
            _session_cpu(p.pid, seen)
            reader.join(0.1)
    wall = time.perf_counter() - t0
    proc = subprocess.CompletedProcess(cmd, p.returncode, out.get("stdout", ""),
                                       out.get("stderr", ""))
    return wall, sum(seen.values()), proc


def _engine_run(folder: Path, csv: Path, workers: str, engine: str) -> dict:
    cmd = _posture_cmd() + ["batch", str(folder), "--out", str(csv), "--workers", workers,
                            "--engine", engine]
    load = load_avg()
    wall, cpu, proc = _timed_process(cmd)
    rows = max(0, len(csv.read_text().splitlines()) - 1) if csv.exists() else 0
    return {"wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "rows": rows,
            "exit": proc.returncode, "load_before": load,
            "error": proc.stderr.strip().splitlines()[-1] if proc.returncode else None}


def bench_engines(images: list[Path], tmp: Path, with_ray: bool = True) -> dict:
    """Whole ``posture batch`` processes on the same images (local 1, 2 and auto workers;
    Ray Data with auto actors on a local instance) against one process that only decodes
    and runs MediaPipe on them. Each is run on all images and on a quarter of them: the
    difference gives the steady rate without start-up (imports, model loads, Ray)."""
    from posture.threads import auto_workers, usable_cores

    n = len(images)
    n_small = max(2, n // 4)
    sets = {"all": images, "quarter": images[:n_small]}
    folders = {}
    for name, files in sets.items():
        folders[name] = tmp / f"engines_{name}"
        folders[name].mkdir()
        for i, f in enumerate(files):  # numbered: --engine-repeat lists a file again
            shutil.copy(f, folders[name] / f"{i:04d}_{f.name}")
    out: dict = {"images": n, "images_small": n_small, "cores": usable_cores(),
                 "auto_workers": auto_workers(), "runs": {}}

    def steady(name: str, run_all: dict, run_small: dict) -> dict:
        dt = run_all["wall_s"] - run_small["wall_s"]
        rate = (n - n_small) / dt if dt > 0 else float("nan")
        cpu_per_image = (run_all["cpu_s"] - run_small["cpu_s"]) / (n - n_small)
        return {"images_per_s": round(n / run_all["wall_s"], 2),
                "steady_images_per_s": round(rate, 2),
                "startup_s": round(run_all["wall_s"] - n / rate, 2) if dt > 0 else None,
                "cpu_ms_per_image": round(1000 * cpu_per_image, 1),
                "all": run_all, "quarter": run_small}

    # raw MediaPipe: the same images, one process, decode + detect only
    raw = {}
    for name, files in sets.items():
        lst = tmp / f"raw_{name}.txt"
        lst.write_text("\n".join(str(f) for f in files))
        load = load_avg()
        wall, cpu, proc = _timed_process([sys.executable, "-c", _RAW_PROCESS, str(lst)])
        inner = json.loads(proc.stdout.strip().splitlines()[-1]) if proc.returncode == 0 \
            else {}
        raw[name] = {"wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "rows": len(files),
                     "exit": proc.returncode, "load_before": load,
                     "loop_s": round(inner.get("loop_s", float("nan")), 2)}
    out["runs"]["raw mediapipe"] = steady("raw", raw["all"], raw["quarter"])
    out["runs"]["raw mediapipe"]["loop_images_per_s"] = round(n / raw["all"]["loop_s"], 2)

    configs = [("local", "1"), ("local", "2"), ("local", "auto")]
    if with_ray:
        configs.append(("ray", "auto"))
    for engine, workers in configs:
        label = f"{engine} workers={workers}"
        if engine == "local" and workers == "auto" and str(auto_workers()) in ("1", "2"):
            out["runs"][label] = {"same_as": f"local workers={auto_workers()}"}
            continue
        runs = {name: _engine_run(folders[name], tmp / f"{engine}_{workers}_{name}.csv",
                                  workers, engine) for name in ("all", "quarter")}
        out["runs"][label] = steady(label, runs["all"], runs["quarter"])

    def get(label):
        r = out["runs"][label]
        return out["runs"][r["same_as"]] if "same_as" in r else r

    rawr = out["runs"]["raw mediapipe"]
    for label in list(out["runs"]):
        r = out["runs"][label]
        if "same_as" in r or label == "raw mediapipe":
            continue
        r["wall_over_raw"] = round(r["all"]["wall_s"] / rawr["all"]["wall_s"], 3)
        r["steady_over_raw"] = round(rawr["steady_images_per_s"] / r["steady_images_per_s"], 3)
    out["workers_2_over_1_steady"] = round(
        get("local workers=2")["steady_images_per_s"]
        / get("local workers=1")["steady_images_per_s"], 3)
    best = min((k for k in out["runs"] if k.startswith("local") and "same_as" not in
                out["runs"][k]), key=lambda k: out["runs"][k]["all"]["wall_s"])
    out["best_local"] = best
    out["batch_over_raw"] = out["runs"][best]["wall_over_raw"]
    if with_ray:
        ray_r, loc = out["runs"]["ray workers=auto"], get("local workers=auto")
        out["ray_overhead"] = {
            "startup_extra_s": (round(ray_r["startup_s"] - loc["startup_s"], 2)
                                if ray_r["startup_s"] is not None and loc["startup_s"]
                                is not None else None),
            "steady_ratio": round(ray_r["steady_images_per_s"]
                                  / loc["steady_images_per_s"], 3),
        }
    return out


def render_engines_md(e: dict) -> list[str]:
    lines = ["", "## Engines: `posture batch` local and Ray vs raw MediaPipe (issue 17)", "",
             f"{e['images']} renders (540x960), whole processes; the quarter run "
             f"({e['images_small']} images) is subtracted for the steady rate. raw = one "
             "process that decodes each image and runs MediaPipe detect (the pipeline's "
             f"options), nothing else. {e['cores']} usable cores; `--workers auto` = "
             f"{e['auto_workers']}. CPU = user+system time of every process of the run "
             "(Ray's included), sampled every 0.1 s. 1-min load average before each run in "
             "the last column: other agents share this machine, so wall times are noisy.", "",
             "| run | wall s (all) | images/s | steady images/s | start-up s | CPU ms/image "
             "| wall / raw | steady raw/this | load (all, quarter) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for label, r in e["runs"].items():
        if "same_as" in r:
            lines.append(f"| {label} | = {r['same_as']} | | | | | | | |")
            continue
        lines.append(
            f"| {label} | {r['all']['wall_s']} | {r['images_per_s']} | "
            f"{r['steady_images_per_s']} | {r['startup_s']} | {r['cpu_ms_per_image']} | "
            f"{r.get('wall_over_raw', '')} | {r.get('steady_over_raw', '')} | "
            f"{r['all']['load_before']}, {r['quarter']['load_before']} |")
    lines += ["", f"- `posture batch` ({e['best_local']}, the fastest local run) over raw "
              f"MediaPipe, whole process: **{e['batch_over_raw']}×** (target ≤ 1.25).",
              f"- 2 workers / 1 worker, steady: **{e['workers_2_over_1_steady']}×** "
              "(target ≥ 1.0)."]
    if "ray_overhead" in e:
        o = e["ray_overhead"]
        lines.append(f"- Ray on one node vs local, same worker count (auto): start-up "
                     f"{o['startup_extra_s']} s more, steady rate {o['steady_ratio']}× "
                     "the local one.")
    return lines


# -- model provisioning, loading, RSS -------------------------------------------------------

_PROBE = textwrap.dedent("""
    import json, sys, time
    t = time.perf_counter()
    from mediapipe.tasks.python import BaseOptions, vision
    from posture.models import resolve_model
    t_import = time.perf_counter() - t
    t = time.perf_counter()
    bundle = resolve_model("full", allow_download=False, progress=False)
    t_resolve = time.perf_counter() - t
    from posture.pose import PoseEstimator, quiet_native_stderr
    t = time.perf_counter()
    est = PoseEstimator(bundle.path)
    t_create = time.perf_counter() - t
    est.close()
    print(json.dumps({"source": bundle.source, "import_s": t_import,
                      "resolve_s": t_resolve, "create_s": t_create}))
""")


def _probe(env: dict) -> dict:
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", _PROBE], env=env, capture_output=True,
                          text=True, check=False)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        return {"error": (proc.stderr.strip().splitlines() or ["?"])[-1]}
    d = json.loads(proc.stdout.strip().splitlines()[-1])
    d = {k: round(v, 3) if isinstance(v, float) else v for k, v in d.items()}
    d["process_s"] = round(wall, 3)
    return d


def bench_model(tmp: Path) -> dict:
    out = {}
    wheels = sorted((cache_dir() / "sources").glob("mediapipe-0.10.21-*.whl"))
    env = _env(POSTURE_OFFLINE="1")
    if wheels:
        fresh = tmp / "cold-cache"
        (fresh / "sources").mkdir(parents=True)
        shutil.copy(wheels[0], fresh / "sources" / wheels[0].name)
        cold_env = dict(env, POSTURE_CACHE_DIR=str(fresh))
        out["cold"] = _probe(cold_env)  # builds the bundle from the wheel, then loads it
        out["warm"] = _probe(cold_env)  # the same cache, now holding the bundle
    else:
        out["cold"] = {"error": f"no cached source wheel in {cache_dir() / 'sources'}"}
        out["warm"] = _probe(env)
    return out


_RSS_PROBE = textwrap.dedent("""
    import atexit, sys
    def report():  # VmHWM: this process's own peak (ru_maxrss would carry the parent's)
        hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM")][0]
        open(sys.argv[1], "w").write(hwm.split()[1])
    atexit.register(report)
    from posture.cli import main
    sys.exit(main(["analyze", sys.argv[2], "--json"]))
""")


def _pixels(path: Path) -> int:
    with Image.open(path) as im:
        return im.width * im.height


def peak_rss(files: dict[str, Path], tmp: Path) -> dict:
    """Peak resident memory of one ``posture analyze --json`` process per input, MB."""
    out = {}
    for name, f in files.items():
        report = tmp / "rss.txt"
        proc = subprocess.run([sys.executable, "-c", _RSS_PROBE, str(report), str(f)],
                              capture_output=True, check=False, env=_env())
        kb = float(report.read_text()) if report.exists() else float("nan")
        with Image.open(f) as im:  # header only
            size = f"{im.width}x{im.height}"
        out[name] = {"peak_rss_mb": round(kb / 1024, 1), "exit": proc.returncode, "size": size}
        report.unlink(missing_ok=True)
    return out


# -- network: the pelvis-patch network's runtime (issue 26) ----------------------------------

#: index of the unshifted patch in ``PATCH_JITTER`` (the centre of its 3×3 grid)
def _centre_index() -> int:
    from posture.estimator import PATCH_JITTER

    return PATCH_JITTER.index((0.0, 0.0))


def photo_patches(analyzer: Analyzer, files: list[Path]) -> list[np.ndarray]:
    """Each photo's pelvis patches as ``analyze`` cuts them: (views × shifts, 2, 64, 64)."""
    from posture.analysis import judge_views
    from posture.estimator import PATCH_JITTER, pelvis_patch

    out = []
    for f in files:
        views = [v for v in analyzer.balanced_views(load_image(f).rgb)
                 if v.result.primary is not None]
        if not views:
            continue
        _, sides = judge_views(views)
        out.append(np.concatenate([pelvis_patch(v.rgb, v.result.primary.mask, sd,
                                                jitter=PATCH_JITTER)
                                   for v, sd in zip(views, sides, strict=True)]))
    return out


def _one_member_graph(tmp: Path):
    """A one-member graph of the shipped weights (needs PyTorch and the ONNX exporter of
    tools/synth/requirements.txt); None without them."""
    try:
        sys.path.insert(0, str(ROOT))
        from tools import train_patchnet as tp
    except ImportError:
        return None
    from posture.estimator import load_patchnet

    members, blur = tp.load_members(ROOT / "posture" / "data" / "estimator_patchnet.npz")
    path = tmp / "one_member.onnx"
    try:
        tp.write_onnx(members[:1], path, blur)
    except ImportError:
        return None
    return load_patchnet(path)


def bench_network(files: list[Path], rounds: int, tmp: Path) -> dict:
    """CPU time per photo of the patch network alone (process CPU, so every thread counts),
    median over ``rounds`` per photo, mean over photos; every runtime on one thread."""
    import importlib.resources as resources

    import onnxruntime

    from posture.estimator import load_estimator, network_input

    model = load_estimator()
    net = model.patchnet
    with Analyzer() as a:
        patches = photo_patches(a, files)
    xs = [network_input(p, net.mask_blur_px) for p in patches]
    n_shifts = len(patches[0]) // 2
    centre = [_centre_index(), n_shifts + _centre_index()]
    name = json.loads(resources.files("posture.data").joinpath("estimator.json")
                      .read_text())["patchnet"]
    with resources.as_file(resources.files("posture.data").joinpath(name)) as path:
        dnn = cv2.dnn.readNetFromONNX(str(path))

    def run_dnn(x, chunk=None):
        outs = []
        for i in range(0, len(x), chunk or len(x)):
            dnn.setInput(x[i:i + (chunk or len(x))])
            outs.append(dnn.forward())
        return np.concatenate(outs)

    from posture.estimator_runtime import CHUNK

    one = _one_member_graph(tmp)
    cases = {
        f"onnxruntime: {net.n_members} members x {len(xs[0])} patches, one call": (
            lambda x: net._session.run(None, {net._input: x})[0], xs),
        f"onnxruntime: as the library calls it ({CHUNK} patches a call)": (net.forward, xs),
        "OpenCV DNN: the same graph, one call": (run_dnn, xs),
        f"OpenCV DNN: {CHUNK} patches a call": (lambda x: run_dnn(x, CHUNK), xs),
        "onnxruntime: unshifted patch only (2 patches)": (net.forward, [x[centre] for x in xs]),
        "input: uint8 patches to network input (mask softening)": (
            lambda p: network_input(p, net.mask_blur_px), patches),
    }
    if one is not None:
        cases[f"onnxruntime: 1 member x {len(xs[0])} patches"] = (one.forward, xs)
    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        diff = float(np.abs(run_dnn(xs[0]) - net.forward(xs[0])).max())
        times = {k: [[] for _ in xs] for k in cases}
        for fn, inputs in cases.values():  # warm-up
            fn(inputs[0])
        for _ in range(rounds):  # interleaved, so drifting load hits all alike
            for k, (fn, inputs) in cases.items():
                for i, x in enumerate(inputs):
                    _, _, c = _timed(lambda fn=fn, x=x: fn(x))
                    times[k][i].append(c)
    finally:
        cv2.setNumThreads(threads)
    return {"photos": len(xs), "patches_per_photo": len(xs[0]), "members": net.n_members,
            "onnxruntime": onnxruntime.__version__, "opencv": cv2.__version__,
            "dnn_vs_onnxruntime_max_diff_deg": diff,
            "cpu_ms_per_photo": {k: _ms(float(np.mean([np.median(t) for t in v])))
                                 for k, v in times.items()}}


def render_network_md(n: dict) -> list[str]:
    lines = ["", "## Patch network alone, CPU per photo (one thread)", "",
             f"{n['photos']} photos (samples/), {n['patches_per_photo']} patches each (2 views "
             f"x 9 shifts), {n['members']} members; onnxruntime {n['onnxruntime']}, OpenCV "
             f"{n['opencv']}; OpenCV DNN vs onnxruntime max difference "
             f"{n['dnn_vs_onnxruntime_max_diff_deg']:.1e} deg.", "",
             "| case | CPU ms per photo |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in n["cpu_ms_per_photo"].items()]
    return lines


# -- passes: what each part of the 54 network passes buys (issue 26) -------------------------

@dataclass(frozen=True)
class _Members:
    """The shipped ensemble read through some of its members only (same graph, so the
    readings are those of a smaller ensemble; its CPU time is in the network section)."""

    net: object
    keep: tuple[int, ...]

    @property
    def mask_blur_px(self) -> float:
        return self.net.mask_blur_px

    def predict(self, patch: np.ndarray) -> np.ndarray:
        from posture.estimator import network_input

        y = self.net.forward(network_input(patch, self.net.mask_blur_px))[:, list(self.keep)]
        y = y.mean(axis=1)
        return y[0] if patch.ndim == 3 else y


def _pass_configs(n_members: int) -> dict[str, tuple[tuple[int, ...], bool, int]]:
    """name -> (members kept, all 9 shifts?, views)"""
    every = tuple(range(n_members))
    cfg = {f"{n_members} members x 9 shifts x 2 views (shipped)": (every, True, 2)}
    for k in every:
        cfg[f"member {k} x 9 shifts x 2 views"] = ((k,), True, 2)
    cfg[f"{n_members} members x 1 shift x 2 views"] = (every, False, 2)
    for k in every:
        cfg[f"member {k} x 1 shift x 2 views"] = ((k,), False, 2)
    cfg[f"{n_members} members x 9 shifts x 1 view (no mirror)"] = (every, True, 1)
    return cfg


def _readings(analyzer: Analyzer, src, configs: dict) -> dict[str, dict]:
    """Tilt and lordosis of one input under every configuration; the pose detected once."""
    from dataclasses import replace

    from posture.analysis import assess_views
    from posture.errors import PostureError
    from posture.estimator import PATCH_JITTER

    model = analyzer.estimator
    try:
        views = analyzer.balanced_views(load_image(src).rgb)
    except PostureError:
        return {k: {"tilt": None, "lordosis": None, "cpu_ms": None} for k in configs}
    out = {}
    for name, (keep, all_shifts, n_views) in configs.items():
        m = replace(model, patchnet=_Members(model.patchnet, keep))
        jitter = PATCH_JITTER if all_shifts else ((0.0, 0.0),)
        try:
            a, _, c = _timed(lambda m=m, jitter=jitter, n_views=n_views: assess_views(
                views[:n_views], m, model_variant=analyzer.landmarker.bundle.variant,
                jitter=jitter))
        except PostureError:
            out[name] = {"tilt": None, "lordosis": None, "cpu_ms": None}
            continue
        meas = a.measurements
        out[name] = {"tilt": meas.pelvic_tilt.value, "lordosis": meas.lumbar_lordosis.value,
                     "cpu_ms": _ms(c)}
    return out


def bench_passes(photos: list[Path], renders: list[Path], copies_of_renders: int,
                 retake: Path | None = None) -> dict:
    """Accuracy on labelled renders (MAE against the label, over the renders measured in
    every configuration) and re-encoding SD (per image, the SD of the tilt over the
    original and its seven benign copies of tools/copies.py, as bench/repeatability.py),
    on the shared photos and on the first ``copies_of_renders`` renders; with ``retake``
    (a folder from ``python -m tools.synth retake``), the retake SEM of bench/retake.py."""
    sys.path.insert(0, str(ROOT))
    from retake import load_labels, pooled_sem

    from posture.estimator import load_estimator
    from tools.copies import KINDS, copies

    configs = _pass_configs(load_estimator().patchnet.n_members)
    res = {"configs": list(configs), "kinds": list(KINDS)}
    takes = []
    with Analyzer() as a:
        for lab in (load_labels(retake) if retake else []):
            s = lab["session"]
            img = retake / f"r{s['seed']}_p{s['person']:05d}_t{s['take']:02d}.jpg"
            takes.append({"person": s["person"], "take": s["take"], "file": img.name,
                          "readings": _readings(a, img, configs)})
        acc = []
        for f in renders:
            label = json.loads(f.with_suffix(".json").read_text())
            acc.append({"file": f.name, "true_tilt": label["pelvic_tilt_deg"],
                        "true_lordosis": label["lumbar_lordosis_deg"]["surface_deg"],
                        "readings": _readings(a, f, configs)})
        sets = {"shared photos": photos, "labelled renders": renders[:copies_of_renders]}
        rep = {}
        for set_name, files in sets.items():
            rows = []
            for f in files:
                rgb = load_image(f).rgb
                versions = [_readings(a, f, configs)] + [
                    _readings(a, data, configs) for data in copies(rgb).values()]
                rows.append({"file": f.name, "versions": versions})
            rep[set_name] = rows
    summary = {}
    for name in configs:
        ok = [r for r in acc if all(r["readings"][c]["tilt"] is not None for c in configs)]
        err_t = [r["readings"][name]["tilt"] - r["true_tilt"] for r in ok]
        err_l = [r["readings"][name]["lordosis"] - r["true_lordosis"] for r in ok
                 if r["readings"][name]["lordosis"] is not None]
        cpu = [r["readings"][name]["cpu_ms"] for r in acc + takes
               if r["readings"][name]["cpu_ms"] is not None]
        s = {"n_accuracy": len(ok), "tilt_mae": float(np.mean(np.abs(err_t))) if ok else None,
             "lordosis_mae": float(np.mean(np.abs(err_l))) if err_l else None,
             "assess_cpu_ms": float(np.median(cpu)) if cpu else None}
        for set_name, rows in rep.items():
            sds = []
            for r in rows:
                tilts = [v[name]["tilt"] for v in r["versions"]]
                if all(t is not None for t in tilts):
                    sds.append(float(np.std(tilts)))
            s[set_name] = {"images": len(sds), "sd_mean": float(np.mean(sds)) if sds else None,
                           "sd_max": float(np.max(sds)) if sds else None}
        if takes:
            groups: dict = {}
            for t in takes:
                if t["readings"][name]["tilt"] is not None:
                    groups.setdefault(t["person"], []).append(t["readings"][name]["tilt"])
            sem, dof = pooled_sem(list(groups.values()))
            s["retake"] = {"people": len(groups), "sem": sem, "dof": dof}
        summary[name] = s
    res["summary"] = summary
    res["retake_rows"] = takes
    res["accuracy_rows"] = acc
    res["repeatability_rows"] = rep
    return res


def render_passes_md(p: dict) -> list[str]:
    sets = [k for k in next(iter(p["summary"].values())) if isinstance(
        next(iter(p["summary"].values()))[k], dict)]
    lines = ["", "## What each part of the network passes buys", "",
             "Accuracy: MAE against the label on the labelled renders measured in every "
             "configuration. Re-encoding SD: per image, SD of the tilt over the original and "
             f"its {len(p['kinds'])} benign copies (tools/copies.py), mean / max over the "
             "images measured in all of them. Retake SEM: within-person SD pooled across people "
             "(bench/retake.py). assess CPU = `assess_views` (geometry, patches, network) per "
             "image, median; the pose is detected once for all configurations. A one-member "
             "row reads one member of the shipped graph, so its CPU is the full graph's: the "
             "network section times a one-member graph.",
             "", "| configuration | renders | tilt MAE deg | lordosis MAE deg | assess CPU ms | "
             + " | ".join(f"{s}: SD mean / max deg (n)" if s != "retake"
                          else "retake SEM deg (people)" for s in sets) + " |",
             "|---|---|---|---|---|" + "---|" * len(sets)]

    def f(x, nd=2):
        return "n/a" if x is None else f"{x:.{nd}f}"

    for name, s in p["summary"].items():
        cells = [f"{f(s[k]['sd_mean'])} / {f(s[k]['sd_max'])} ({s[k]['images']})"
                 if "sd_mean" in s[k] else f"SEM {f(s[k]['sem'])} ({s[k]['people']} people)"
                 for k in sets]
        lines.append(f"| {name} | {s['n_accuracy']} | {f(s['tilt_mae'])} | "
                     f"{f(s['lordosis_mae'])} | {f(s['assess_cpu_ms'], 1)} | "
                     + " | ".join(cells) + " |")
    return lines


# -- overlap: the image and mirror inferences at once, on two landmarkers (issue 26) ----------

def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS"):
            return round(float(line.split()[1]) / 1024, 1)
    return float("nan")


def bench_overlap(files: list[Path], rounds: int) -> dict:
    """The two inferences a photo needs (working-size image and its mirror), one after the
    other on one landmarker, against overlapped on two (MediaPipe objects are not
    thread-safe per instance). Calls MediaPipe directly: ``PoseEstimator.detect`` holds a
    process-wide lock while it silences native stderr, which would serialise them."""
    from concurrent.futures import ThreadPoolExecutor

    import mediapipe as mp

    from posture.analysis import working_image
    from posture.pose import PoseEstimator

    def img(rgb):
        return mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb)

    works = [np.ascontiguousarray(working_image(load_image(f).rgb)) for f in files]
    flips = [np.ascontiguousarray(w[:, ::-1]) for w in works]
    rss0 = _rss_mb()
    with PoseEstimator() as est_a:
        rss1 = _rss_mb()
        with PoseEstimator() as est_b, ThreadPoolExecutor(1) as pool:
            rss2 = _rss_mb()
            a, b = est_a._landmarker, est_b._landmarker

            def serial(w, fl):
                return a.detect(img(w)), a.detect(img(fl))

            def overlapped(w, fl):
                fut = pool.submit(lambda: b.detect(img(fl)))
                return a.detect(img(w)), fut.result()

            for w, fl in zip(works[:1], flips[:1], strict=True):  # warm-up both
                serial(w, fl)
                overlapped(w, fl)
            same = True
            for w, fl in zip(works, flips, strict=True):
                s, o = serial(w, fl), overlapped(w, fl)
                for x, y in zip(s, o, strict=True):
                    xa = np.array([[p.x, p.y] for p in x.pose_landmarks[0]]) \
                        if x.pose_landmarks else np.zeros(0)
                    ya = np.array([[p.x, p.y] for p in y.pose_landmarks[0]]) \
                        if y.pose_landmarks else np.zeros(0)
                    same &= xa.shape == ya.shape and bool(np.allclose(xa, ya, atol=1e-6))
            t = {k: [[] for _ in works] for k in ("serial", "overlapped")}
            for _ in range(rounds):
                for i, (w, fl) in enumerate(zip(works, flips, strict=True)):
                    for k, fn in (("serial", serial), ("overlapped", overlapped)):
                        _, wall, cpu = _timed(lambda fn=fn, w=w, fl=fl: fn(w, fl))
                        t[k][i].append((wall, cpu))
    out = {"photos": len(works), "same_landmarks": same,
           "rss_one_landmarker_mb": round(rss1 - rss0, 1),
           "rss_second_landmarker_mb": round(rss2 - rss1, 1)}
    for k, v in t.items():
        out[k] = {"wall_ms": _ms(float(np.mean([np.median([x[0] for x in r]) for r in v]))),
                  "cpu_ms": _ms(float(np.mean([np.median([x[1] for x in r]) for r in v])))}
    return out


def render_overlap_md(o: dict) -> list[str]:
    return ["", "## Image and mirror inferences overlapped (two landmarkers)", "",
            f"{o['photos']} photos at working size; landmarks identical: "
            f"{o['same_landmarks']}; a second landmarker adds "
            f"{o['rss_second_landmarker_mb']} MB RSS (the first: "
            f"{o['rss_one_landmarker_mb']} MB).", "",
            "| both inferences | wall ms | CPU ms |", "|---|---|---|",
            f"| one after the other | {o['serial']['wall_ms']} | {o['serial']['cpu_ms']} |",
            f"| overlapped | {o['overlapped']['wall_ms']} | {o['overlapped']['cpu_ms']} |"]


# -- draft: reduced-size JPEG decoding (issue 26) ----------------------------------------------

def draft_decode(path: Path, long_side: int) -> np.ndarray:
    """RGB of a JPEG decoded at the smallest DCT scale (1/2, 1/4, 1/8) whose long side is
    still at least ``long_side`` (Pillow's draft mode), EXIF orientation applied."""
    from PIL import ImageOps

    with Image.open(path) as im:
        s = long_side / max(im.size)
        if s < 1:
            im.draft("RGB", (int(np.ceil(im.width * s)), int(np.ceil(im.height * s))))
        im = ImageOps.exif_transpose(im)
        return np.asarray(im.convert("RGB"))


def bench_draft(files: list[Path], rounds: int) -> dict:
    """Per photo larger than the working size: the reading from the full decode and from a
    draft-mode decode (both then resized to the working size by ``analyze``), and the
    decode CPU time of each."""
    from posture.config import thresholds

    long_side = int(thresholds()["analysis"]["working_long_side"])
    rows = []
    with Analyzer() as a:
        for f in files:
            with Image.open(f) as im:
                if max(im.size) <= long_side or im.format not in ("JPEG", "MPO"):
                    continue
                size = f"{im.width}x{im.height}"
            full = load_image(f).rgb
            small = draft_decode(f, long_side)
            t_full = np.median([_timed(lambda f=f: load_image(f))[2] for _ in range(rounds)])
            t_draft = np.median([_timed(lambda f=f: draft_decode(f, long_side))[2]
                                 for _ in range(rounds)])
            r_full, r_draft = a.analyze(full), a.analyze(small)

            def val(asmt, key):
                return getattr(asmt.measurements, key).value

            rows.append({
                "file": f.name, "size": size, "draft_size": f"{small.shape[1]}x{small.shape[0]}",
                "decode_cpu_ms": _ms(t_full), "draft_decode_cpu_ms": _ms(t_draft),
                **{f"{k}_full": val(r_full, k) for k in ("pelvic_tilt", "lumbar_lordosis")},
                **{f"{k}_draft": val(r_draft, k) for k in ("pelvic_tilt", "lumbar_lordosis")},
            })
    diffs = [abs(r[f"{k}_full"] - r[f"{k}_draft"]) for r in rows
             for k in ("pelvic_tilt", "lumbar_lordosis")
             if r[f"{k}_full"] is not None and r[f"{k}_draft"] is not None]
    verdicts = sum((r["pelvic_tilt_full"] is None) != (r["pelvic_tilt_draft"] is None)
                   for r in rows)
    return {"working_long_side": long_side, "rows": rows,
            "max_change_deg": round(max(diffs), 2) if diffs else None,
            "verdict_changes": verdicts}


def render_draft_md(d: dict) -> list[str]:
    lines = ["", "## Draft-mode JPEG decoding", "",
             f"Photos larger than the working size ({d['working_long_side']} px): the reading "
             "from the full decode and from Pillow's reduced-size (draft) decode; largest "
             f"change {d['max_change_deg']} deg, verdict changes {d['verdict_changes']}.", "",
             "| photo | size | draft size | decode CPU ms | draft CPU ms | tilt full / draft "
             "| lordosis full / draft |", "|---|---|---|---|---|---|---|"]
    for r in d["rows"]:
        lines.append(f"| {r['file']} | {r['size']} | {r['draft_size']} | "
                     f"{r['decode_cpu_ms']} | {r['draft_decode_cpu_ms']} | "
                     f"{r['pelvic_tilt_full']} / {r['pelvic_tilt_draft']} | "
                     f"{r['lumbar_lordosis_full']} / {r['lumbar_lordosis_draft']} |")
    return lines


# -- report ---------------------------------------------------------------------------------

def _git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True,
                              check=False).stdout.strip()
    except OSError:
        return ""


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def verdicts(r: dict) -> dict:
    group = r["photo"]["renders 540x960"]
    full = r["live"].get("full", {})
    fps = full.get("analysis", {}).get("fps")
    rss = max(v["peak_rss_mb"] for v in r["rss"].values())
    warm = r["model"].get("warm", {})
    warm_load = (warm.get("resolve_s", 0) + warm.get("create_s", 0)) if "create_s" in warm \
        else None
    checks = {
        "analysis_over_raw": (group["ratio"], group["ratio"] <= TARGETS["analysis_over_raw"]),
        "live_fps_full": (fps, fps is not None and fps >= TARGETS["live_fps_full"]),
        "batch_2_over_1": (r["batch"]["steady_ratio"],
                           r["batch"]["steady_ratio"] >= TARGETS["batch_2_over_1"]),
        "peak_rss_mb": (rss, rss <= TARGETS["peak_rss_mb"]),
        "warm_load_s": (None if warm_load is None else round(warm_load, 3),
                        warm_load is not None and warm_load <= TARGETS["warm_load_s"]),
    }
    raw_fps = full.get("raw", {}).get("fps")
    live = round(fps / raw_fps, 3) if fps and raw_fps else None
    checks["live_over_raw"] = (live, live is not None and live >= TARGETS["live_over_raw"])
    e = r.get("engines")
    if e:
        checks["batch_over_raw"] = (e["batch_over_raw"],
                                    e["batch_over_raw"] <= TARGETS["batch_over_raw"])
        checks["workers_2_over_1"] = (e["workers_2_over_1_steady"], e[
            "workers_2_over_1_steady"] >= TARGETS["workers_2_over_1"])
    return {k: {"value": v, "target": TARGETS[k], "met": bool(ok)}
            for k, (v, ok) in checks.items()}


def render_photo_md(photo: dict) -> list[str]:
    lines = ["", "## Photo: raw MediaPipe vs the whole analyze path", "",
             "Per image, median over rounds, mean over images. raw = `PoseLandmarker.detect` "
             "on the decoded RGB (segmentation on); analyze = `Analyzer.analyze(path)`: "
             "decode, pose, roll, geometry, metrics, classification. CPU = process CPU time "
             "(all threads).", "",
             "| input | n | size | raw ms | analyze ms | ratio | raw CPU ms | analyze CPU ms "
             "| CPU ratio |", "|---|---|---|---|---|---|---|---|---|"]
    for name, g in photo.items():
        lines.append(f"| {name} | {g['images']} | {g['size']} | {g['raw_ms']} | "
                     f"{g['analyze_ms']} | {g['ratio']} | {g['raw_cpu_ms']} | "
                     f"{g['analyze_cpu_ms']} | {g['cpu_ratio']} |")
    lines += ["", "Stages, run one after the other (median ms; the roll's line search overlaps "
              "pose inference inside `analyze`; the overlay is not part of `analyze`):", "",
              "| input | decode | pose (wrapper) | roll | geometry+metrics | overlay |",
              "|---|---|---|---|---|---|"]
    for name, g in photo.items():
        s = g["stages_ms"]
        lines.append(f"| {name} | {s['decode']} | {s['pose']} | {s['roll']} | "
                     f"{s['geometry']} | {s['overlay']} |")
    return lines


def render_md(r: dict) -> str:
    m = r["meta"]
    lines = [
        "# Speed benchmark",
        "",
        f"Measured {m['date']} at commit `{m['commit']}` by `python bench/speed.py` on "
        f"{m['cpu']} ({m['cores']} cores), MediaPipe {m['mediapipe']}, Python {m['python']}. "
        f"1-minute load average {m['load_before']} before the run, {m['load_after']} after "
        "(other work shares this machine; figures are medians of interleaved rounds).",
        "",
        "## Targets",
        "",
        "| target | measured | goal | met |",
        "|---|---|---|---|",
    ]
    units = {"analysis_over_raw": "×", "live_fps_full": " fps", "batch_2_over_1": "×",
             "peak_rss_mb": " MB", "warm_load_s": " s", "live_over_raw": "×",
             "batch_over_raw": "×", "workers_2_over_1": "×"}
    goals = {"analysis_over_raw": "≤ 2.3", "live_fps_full": "≥ 25", "batch_2_over_1": "≥ 1.8",
             "peak_rss_mb": "≤ 600", "warm_load_s": "≤ 1", "live_over_raw": "≥ 0.95",
             "batch_over_raw": "≤ 1.25", "workers_2_over_1": "≥ 1.0"}
    for k, v in r["verdicts"].items():
        val = "n/a" if v["value"] is None else f"{v['value']}{units[k]}"
        lines.append(f"| {k} | {val} | {goals[k]} | {'yes' if v['met'] else '**no**'} |")
    lines += render_photo_md(r["photo"])
    lines += ["", "## Live loop: VIDEO mode, 640x480", "",
              "raw = `detect_for_video` alone on the same frames (mask on, as the pipeline "
              "runs it; and with the mask off, to show what it costs); analysis = "
              "`analyze_video_frame` end to end; overlay = `draw_overlay` per frame, as the "
              "live page adds it.", "",
              "| model | raw fps | raw median / p95 ms | raw, no mask: fps | analysis fps "
              "| analysis median / p95 ms | overlay ms/frame |",
              "|---|---|---|---|---|---|---|"]
    for v, d in r["live"].items():
        if not d["available"]:
            lines.append(f"| {v} | unavailable: {d['why']} | | | | | |")
            continue
        a, w = d["analysis"], d["raw"]
        lines.append(f"| {v} | {w['fps']} | {w['median_ms']} / {w['p95_ms']} | "
                     f"{d['raw_no_mask']['fps']} | {a['fps']} | {a['median_ms']} / "
                     f"{a['p95_ms']} | {d['overlay_ms']} |")
    b = r["batch"]
    lines += ["", "## Batch (`posture batch` on a folder of copies of the renders)", "",
              "| workers | images | wall s | images/s end to end | images/s steady | "
              "start-up s |", "|---|---|---|---|---|---|"]
    for w in (1, 2):
        d = b[f"workers_{w}"]
        lines.append(f"| {w} | {d['rows']}/{b['images']} | {d['wall_s']} | {d['images_per_s']} "
                     f"| {d['steady_images_per_s']} | {d['startup_s']} |")
    lines.append(f"\n2 workers / 1 worker: **{b['steady_ratio']}×** steady "
                 f"({b['ratio']}× end to end). Steady = the extra images of a run on "
                 f"{b['images']} copies over one on {b['images_small']}, per extra second; "
                 "start-up = wall time minus the images at the steady rate.")
    lines += ["", "## Model provisioning and loading (fresh processes)", "",
              "| case | source | imports s | resolve s | landmarker creation s | process s |",
              "|---|---|---|---|---|---|"]
    for case, d in r["model"].items():
        if "error" in d:
            lines.append(f"| {case} | error: {d['error']} | | | | |")
            continue
        lines.append(f"| {case} | {d['source']} | {d['import_s']} | {d['resolve_s']} | "
                     f"{d['create_s']} | {d['process_s']} |")
    lines += ["", "cold = empty `POSTURE_CACHE_DIR` holding only the cached mediapipe 0.10.21 "
              "wheel, `POSTURE_OFFLINE=1` (offline build + load check); warm = the bundle "
              "cached. Only `full` can be provisioned offline here; lite and heavy are "
              "not measured.", "", "## Peak RSS of `posture analyze --json`", "",
              "| input | size | peak RSS MB |", "|---|---|---|"]
    for name, d in r["rss"].items():
        lines.append(f"| {name} | {d['size']} | {d['peak_rss_mb']} |")
    if r.get("network"):
        lines += render_network_md(r["network"])
    if r.get("engines"):
        lines += render_engines_md(r["engines"])
    if r.get("notes"):
        lines += ["", "## Notes", ""] + [f"- {n}" for n in r["notes"]]
    return "\n".join(lines) + "\n"


def _ray_available() -> bool:
    try:
        import ray  # noqa: F401
    except ImportError:
        return False
    return True


def engines_main(args, images: list[Path]) -> int:
    """``--engines-only``: the engines section alone, in its own report files."""
    r = {"meta": {"date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
                  "commit": args.label or _git("rev-parse", "--short", "HEAD"),
                  "cpu": _cpu_name(), "cores": os.cpu_count(),
                  "load_before": load_avg()}}
    with tempfile.TemporaryDirectory(prefix="posture-engines-") as tmpdir:
        r["engines"] = bench_engines(images, Path(tmpdir),
                                     with_ray=not args.no_ray and _ray_available())
    r["meta"]["load_after"] = load_avg()
    r["notes"] = args.note
    m = r["meta"]
    md = "\n".join(["# Speed: batch engines", "",
                    f"Measured {m['date']} at commit `{m['commit']}` by `python bench/speed.py "
                    f"--engines-only` on {m['cpu']} ({m['cores']} cores). 1-minute load "
                    f"average {m['load_before']} before, {m['load_after']} after."]
                   + render_engines_md(r["engines"])
                   + ([""] + [f"- {n}" for n in r["notes"]] if r["notes"] else [])) + "\n"
    print(md)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "speed_engines.md").write_text(md, encoding="utf-8")
    (args.out / "speed_engines.json").write_text(json.dumps(r, indent=2) + "\n",
                                                 encoding="utf-8")
    return 0


SECTIONS = {"photo", "network", "passes", "overlap", "draft"}


def section_main(args) -> int:
    """``--only SECTION``: one section alone, in its own report files."""
    import mediapipe as mp

    dirty = " (uncommitted changes)" if _git("status", "--porcelain", "--", "posture",
                                              "bench") else ""
    r: dict = {"meta": {
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "commit": args.label or _git("rev-parse", "--short", "HEAD") + dirty,
        "code": str(CODE_ROOT), "cpu": _cpu_name(), "cores": os.cpu_count(),
        "mediapipe": mp.__version__, "python": platform.python_version(),
        "load_before": load_avg(), "section": args.only,
    }}
    renders = sorted((ROOT / "samples").glob("*.jpg"))
    heldout = sorted((ROOT / "samples" / "heldout").glob("*.jpg"))
    photos = sorted(args.photos.glob("*.jpg"))
    with tempfile.TemporaryDirectory(prefix="posture-speed-") as tmpdir:
        tmp = Path(tmpdir)
        if args.only == "photo":
            groups = input_groups(tmp, phone=not args.no_phone, photos=args.photos)
            r["photo"] = bench_photo(groups, args.rounds)
            body = render_photo_md(r["photo"])
        elif args.only == "network":
            r["network"] = bench_network(renders[:6], 4 * args.rounds, tmp)
            body = render_network_md(r["network"])
        elif args.only == "passes":
            if args.retake_only:
                r["passes"] = bench_passes([], [], 0, args.retake)
            else:
                r["passes"] = bench_passes(photos, heldout + renders, args.render_copies,
                                           args.retake)
            body = render_passes_md(r["passes"])
        elif args.only == "overlap":
            r["overlap"] = bench_overlap(renders + photos, args.rounds)
            body = render_overlap_md(r["overlap"])
        else:
            r["draft"] = bench_draft(photos, args.rounds)
            body = render_draft_md(r["draft"])
    r["meta"]["load_after"] = load_avg()
    r["notes"] = args.note
    m = r["meta"]
    md = "\n".join([f"# Speed: {args.only}", "",
                    f"Measured {m['date']} at commit `{m['commit']}` (code in {m['code']}) by "
                    f"`python bench/speed.py --only {args.only}` on {m['cpu']} ({m['cores']} "
                    f"cores). 1-minute load average {m['load_before']} before, "
                    f"{m['load_after']} after."] + body
                   + (["", "## Notes", ""] + [f"- {n}" for n in r["notes"]]
                      if r["notes"] else [])) + "\n"
    print(md)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"speed_{args.only}.md").write_text(md, encoding="utf-8")
    (args.out / f"speed_{args.only}.json").write_text(json.dumps(r, indent=2) + "\n",
                                                      encoding="utf-8")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=5, help="timing rounds per photo")
    ap.add_argument("--batch-images", type=int, default=48)
    ap.add_argument("--no-phone", action="store_true", help="skip the phone-size inputs")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    ap.add_argument("--photos", type=Path, default=SHARED_PHOTOS,
                    help="folder of real photos (*.jpg) to time as well")
    ap.add_argument("--label", help="name the code measured (default: the git commit)")
    ap.add_argument("--note", action="append", default=[], help="a line for the report")
    ap.add_argument("--engine-images", type=Path, action="append", default=None,
                    help="folder of renders for the engines section (repeatable; default "
                         "samples/ and samples/heldout/)")
    ap.add_argument("--engine-repeat", type=int, default=1,
                    help="use the engine images this many times (longer, steadier runs)")
    ap.add_argument("--no-ray", action="store_true", help="engines section without Ray")
    ap.add_argument("--engines-only", action="store_true",
                    help="only the engines section (issue 17); writes speed_engines.{md,json}")
    ap.add_argument("--only", choices=sorted(SECTIONS),
                    help="one section; writes speed_<section>.{md,json}")
    ap.add_argument("--render-copies", type=int, default=40,
                    help="--only passes: labelled renders whose benign copies are read too")
    ap.add_argument("--retake", type=Path, default=None,
                    help="--only passes: also the retake SEM on this folder (tools.synth retake)")
    ap.add_argument("--retake-only", action="store_true",
                    help="--only passes: the retake set alone (no renders, no photos)")
    args = ap.parse_args(argv)
    engine_dirs = args.engine_images or [ROOT / "samples", ROOT / "samples" / "heldout"]
    engine_images = sorted(p for d in engine_dirs for p in d.glob("*.jpg")) * max(
        1, args.engine_repeat)
    if args.engines_only:
        return engines_main(args, engine_images)
    if args.only:
        return section_main(args)

    import mediapipe as mp

    dirty = " (uncommitted changes)" if _git("status", "--porcelain", "--", "posture",
                                              "bench") else ""
    r: dict = {"meta": {
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "commit": args.label or _git("rev-parse", "--short", "HEAD") + dirty,
        "cpu": _cpu_name(), "cores": os.cpu_count(), "mediapipe": mp.__version__,
        "python": platform.python_version(), "load_before": load_avg(),
    }}
    with tempfile.TemporaryDirectory(prefix="posture-speed-") as tmpdir:
        tmp = Path(tmpdir)
        groups = input_groups(tmp, phone=not args.no_phone, photos=args.photos)
        print(f"load {r['meta']['load_before']}; photo ...", file=sys.stderr)
        r["photo"] = bench_photo(groups, args.rounds)
        print("network ...", file=sys.stderr)
        r["network"] = bench_network(groups["renders 540x960"][:6], 4 * args.rounds, tmp)
        print("live ...", file=sys.stderr)
        r["live"] = bench_live(make_clip())
        print("batch ...", file=sys.stderr)
        r["batch"] = bench_batch(tmp, args.batch_images)
        print("model ...", file=sys.stderr)
        r["model"] = bench_model(tmp)
        rss_inputs = {"render 540x960": groups["renders 540x960"][0]}
        if "phone-size 3024x4032" in groups:
            rss_inputs["phone-size 3024x4032"] = groups["phone-size 3024x4032"][0]
        if "shared photos" in groups:
            rss_inputs["largest shared photo"] = max(groups["shared photos"], key=_pixels)
        r["rss"] = peak_rss(rss_inputs, tmp)
        print("engines ...", file=sys.stderr)
        r["engines"] = bench_engines(engine_images, tmp, with_ray=not args.no_ray)
    r["meta"]["load_after"] = load_avg()
    r["verdicts"] = verdicts(r)
    r["notes"] = args.note
    md = render_md(r)
    print(md)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "speed.md").write_text(md, encoding="utf-8")
    (args.out / "speed.json").write_text(json.dumps(r, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
