"""Retake reliability: does a person photographed again get the same reading?

Runs the shipped analysis (``posture.Analyzer``, the path of ``posture analyze``) on every
take of retake sessions made by ``python -m tools.synth retake``: one body, clothes, room
and pelvic tilt per person, photographed several times with a new camera height,
distance, field of view, framing (phone aspect ratios, sometimes cut at the shins), roll,
standing direction (+-5 degrees), arm details, sway, exposure, noise and JPEG quality. It
prints, for all people and separately for women and men:

- per-person spread of the reading (max - min over the takes), mean and max;
- SEM, the within-person SD pooled across people (sqrt of the pooled within-person
  variance), and MDC95 = 1.96 * sqrt(2) * SEM;
- the number of people whose severity band changes between takes;
- MAE, bias and 95% limits of agreement against the postural-tilt label (and the MAE
  against the palpation-equivalent label, which includes the bony offset);
- abstentions, by framing;
- the generator's speed: renders per CPU-second (``time.process_time``) of a few
  sessions made in memory (``--profile``), body, posing and rendering apart.

Usage::

    python -m tools.synth retake --people 60 --takes 3 --seed 707 --out data/retake-707
    nice -n 10 python bench/retake.py data/retake-707 [--profile 3] [--out bench/results]

Seed 707 is held out: training used seeds 101, 104, 105, calibration 202, the accuracy
benchmark 303, the shipped samples 2024 and the test gates 5150 (README, samples/heldout),
and retake sessions are drawn from their own stream (``tools/synth/retake.py``), so their
bodies are none of those sets' even for the same seed number.

Figures are measured in one run and written to ``bench/results/retake.{md,json}``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from accuracy import _commit  # the same provenance line as the accuracy figures

from posture.analysis import Analyzer
from posture.classify import BAND_IDS, band_of
from posture.errors import PostureError
from posture.images import load_image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MDC_FACTOR = 1.96 * np.sqrt(2.0)  # MDC95 = 1.96 * sqrt(2) * SEM


@dataclass(frozen=True)
class Take:
    """One analysed take of a person."""

    person: str
    take: int
    female: bool
    framing: str
    label: float  # postural pelvic tilt, degrees
    palpation: float | None  # palpation-equivalent label, degrees
    reading: float | None  # None = abstained or refused
    band: str | None
    verdict: str  # "measured", "abstained:<codes>" or "error:<code>"


def read_take(analyzer: Analyzer, image: Path) -> tuple[float | None, str | None, str]:
    """(tilt, band, verdict) of one image by the shipped analysis."""
    try:
        a = analyzer.analyze(load_image(image).rgb)
    except PostureError as err:
        return None, None, f"error:{err.code}"
    if a.abstained or a.measurements.pelvic_tilt.value is None:
        return None, None, "abstained:" + ",".join(sorted(set(a.reason_codes)))
    return (float(a.measurements.pelvic_tilt.value),
            a.severity.band if a.severity else None, "measured")


def load_labels(folder: Path, limit_people: int | None = None) -> list[dict]:
    """The take labels of a retake folder, sorted by person and take."""
    labels = [json.loads(p.read_text()) for p in sorted(folder.glob("r*_p*_t*.json"))]
    labels = [lab for lab in labels if "session" in lab]
    people = sorted({lab["session"]["person"] for lab in labels})
    if limit_people:
        keep = set(people[:limit_people])
        labels = [lab for lab in labels if lab["session"]["person"] in keep]
    return sorted(labels, key=lambda lab: (lab["session"]["person"], lab["session"]["take"]))


def take_of(label: dict, reading: tuple[float | None, str | None, str]) -> Take:
    s = label["session"]
    return Take(person=f"{s['seed']}:{s['person']}", take=int(s["take"]),
                # anny's gender slider: 0 = male, 1 = female (tools/synth/body.py)
                female=label["params"]["shape"]["gender"] > 0.5, framing=s["framing"],
                label=float(label["pelvic_tilt_deg"]),
                palpation=label.get("pelvic_tilt_palpation_deg"),
                reading=reading[0], band=reading[1], verdict=reading[2])


def pooled_sem(groups: list[list[float]]) -> tuple[float | None, int]:
    """Within-person SD pooled across people, and its degrees of freedom.

    SEM = sqrt(sum_i sum_j (x_ij - mean_i)^2 / sum_i (n_i - 1)); people with one value
    add nothing.
    """
    ss, dof = 0.0, 0
    for g in groups:
        if len(g) >= 2:
            x = np.asarray(g, float)
            ss += float(((x - x.mean()) ** 2).sum())
            dof += len(x) - 1
    return (float(np.sqrt(ss / dof)) if dof else None), dof


def summarize(takes: list[Take]) -> dict:
    """Retake and accuracy figures of a list of takes (any mix of people)."""
    people: dict[str, list[Take]] = {}
    for t in takes:
        people.setdefault(t.person, []).append(t)
    measured = [t for t in takes if t.reading is not None]
    groups = [[t.reading for t in ts if t.reading is not None] for ts in people.values()]
    sem, dof = pooled_sem(groups)
    err_sem, _ = pooled_sem([[t.reading - t.label for t in ts if t.reading is not None]
                             for ts in people.values()])
    label_sem, _ = pooled_sem([[t.label for t in ts] for ts in people.values()])
    spreads = [max(g) - min(g) for g in groups if len(g) >= 2]
    band_changes = [p for p, ts in people.items()
                    if len({t.band for t in ts if t.reading is not None}) > 1]
    verdict_changes = [p for p, ts in people.items()
                       if len({t.verdict.split(":")[0] for t in ts}) > 1]
    d = np.array([t.reading - t.label for t in measured], float)
    dp = np.array([t.reading - t.palpation for t in measured if t.palpation is not None])
    out = {
        "people": len(people), "takes": len(takes), "measured": len(measured),
        "abstained": sum(t.verdict.startswith("abstained") for t in takes),
        "refused": sum(t.verdict.startswith("error") for t in takes),
        "people_with_2_readings": len(spreads),
        "sem_deg": sem, "sem_dof": dof,
        "mdc95_deg": None if sem is None else float(MDC_FACTOR * sem),
        "error_sem_deg": err_sem, "label_sem_deg": label_sem,
        "spread_mean_deg": float(np.mean(spreads)) if spreads else None,
        "spread_max_deg": float(np.max(spreads)) if spreads else None,
        "band_changes": len(band_changes), "band_change_people": band_changes,
        "verdict_changes": len(verdict_changes),
    }
    if len(d):
        sd = float(d.std(ddof=1)) if len(d) > 1 else 0.0
        out |= {"mae_deg": float(np.abs(d).mean()), "bias_deg": float(d.mean()),
                "loa_deg": [float(d.mean() - 1.96 * sd), float(d.mean() + 1.96 * sd)],
                "two_bands_off": int(sum(
                    abs(BAND_IDS.index(t.band) - BAND_IDS.index(band_of(t.label).id)) >= 2
                    for t in measured if t.band is not None))}
    if len(dp):
        out["mae_palpation_deg"] = float(np.abs(dp).mean())
    by_framing = {}
    for f in sorted({t.framing for t in takes}):
        ts = [t for t in takes if t.framing == f]
        m = [t for t in ts if t.reading is not None]
        by_framing[f] = {"takes": len(ts), "measured": len(m),
                         "mae_deg": float(np.mean([abs(t.reading - t.label) for t in m]))
                         if m else None}
    out["by_framing"] = by_framing
    return out


def profile(seed: int, people: int, takes: int, size: tuple[int, int] = (540, 960)) -> dict:
    """Renders per CPU-second of the generator (sessions made in memory, not written).

    Three ways of making ``people * takes`` renders are timed with ``time.process_time``
    (which counts every thread of the process, OpenGL's too), with each rasteriser that
    can run here: one body per image (``generate.make_sample``), retake sessions with one
    stance per take, and sessions with every take photographed from one posed body.
    """
    from tools.synth import raster, raster_gl
    from tools.synth.body import BodyModel
    from tools.synth.generate import make_sample
    from tools.synth.retake import SessionTiming, make_session

    model = BodyModel()
    backends = ["numpy"] + (["moderngl"] if raster_gl.available() else [])
    out = {"people": people, "takes": takes, "size": list(size), "backends": {}}
    before = raster.backend_name()
    try:
        for backend in backends:
            raster.set_backend(backend)
            make_sample(model, seed, 10_000, size)  # warm-up (OpenGL context, caches)
            res = {}
            t0 = time.process_time()
            for i in range(people * takes):
                make_sample(model, seed, i, size)
            cpu = time.process_time() - t0
            res["single_images"] = {"renders": people * takes, "cpu_s": cpu,
                                    "renders_per_cpu_s": people * takes / cpu}
            for name, per_stance in (("sessions", 1), ("sessions_one_pose", takes)):
                timing = SessionTiming()
                for p in range(people):
                    make_session(model, seed, p, takes, cameras_per_stance=per_stance,
                                 height_px=size[1], timing=timing)
                res[name] = {"renders": timing.renders, "cpu_s": timing.total,
                             "body_cpu_s": timing.body, "pose_cpu_s": timing.pose,
                             "render_cpu_s": timing.render,
                             "renders_per_cpu_s": timing.renders / timing.total}
            out["backends"][backend] = res
    finally:
        raster.set_backend(before)
    return out


def library_changes() -> list[str]:
    """Uncommitted changes under posture/ (the readings then belong to no commit alone)."""
    import subprocess

    try:
        out = subprocess.run(["git", "status", "--porcelain", "--", "posture"], cwd=ROOT,
                             capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return []
    return sorted(line[3:] for line in out.splitlines() if line.strip())


def _f(x, nd: int = 2) -> str:
    return "–" if x is None else f"{x:.{nd}f}"


def markdown(r: dict) -> str:
    lines = [f"Retake reliability ({r['date']}, commit {r['commit']}, `{r['renders']}`: "
             f"{r['all']['people']} people × {r['takes_per_person']} takes, held-out seed(s) "
             f"{', '.join(map(str, r['seeds']))})", "",
             "| group | people | takes measured | SEM ° | MDC95 ° | spread mean / max ° | "
             "band changes | MAE ° | bias ° | 95% LoA ° | ≥2 bands off | MAE vs palpation ° |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    if r.get("library_uncommitted"):
        lines[1:1] = ["", "Uncommitted changes under posture/ at the time: "
                      + ", ".join(f"`{f}`" for f in r["library_uncommitted"]), ""]
    for name in ("all", "women", "men"):
        s = r[name]
        loa = s.get("loa_deg")
        lines.append(
            f"| {name} | {s['people']} | {s['measured']} / {s['takes']} | {_f(s['sem_deg'])} | "
            f"{_f(s['mdc95_deg'])} | {_f(s['spread_mean_deg'])} / {_f(s['spread_max_deg'])} | "
            f"{s['band_changes']} of {s['people']} | {_f(s.get('mae_deg'))} | "
            f"{_f(s.get('bias_deg'))} | "
            f"{'–' if not loa else f'{loa[0]:+.1f} to {loa[1]:+.1f}'} | "
            f"{s.get('two_bands_off', '–')} | {_f(s.get('mae_palpation_deg'))} |")
    a = r["all"]
    lines += ["", f"SEM = within-person SD pooled over people ({a['sem_dof']} degrees of "
                  f"freedom); MDC95 = 1.96·√2·SEM. Labels within a person differ by "
                  f"{_f(a['label_sem_deg'], 3)}° (pooled SD), so the spread is the "
                  f"reading's. SEM of the error (reading − label): {_f(a['error_sem_deg'])}°. "
                  f"Abstained {a['abstained']}, refused {a['refused']}; "
                  f"{a['verdict_changes']} people measured in some takes and not in others.",
              "", "By framing: " + "; ".join(
                  f"{k}: {v['measured']}/{v['takes']} measured, MAE {_f(v['mae_deg'])}°"
                  for k, v in a["by_framing"].items())]
    p = r.get("profile")
    if p:
        lines += ["", f"Generator speed (`time.process_time`, {p['people']} people × "
                      f"{p['takes']} takes per way, {p['size'][0]}×{p['size'][1]}):", "",
                  "| rasteriser | way | renders | CPU s | renders per CPU-second | "
                  "body / pose / render CPU s |", "|---|---|---|---|---|---|"]
        for backend, res in p["backends"].items():
            for key, text in (("single_images", "one body per image (`generate`)"),
                              ("sessions", "retake sessions, one stance per take"),
                              ("sessions_one_pose", "sessions, all takes from one posed body")):
                q = res[key]
                parts = " / ".join(_f(q.get(k), 1) for k in ("body_cpu_s", "pose_cpu_s",
                                                              "render_cpu_s")) \
                    if "body_cpu_s" in q else "–"
                lines.append(f"| {backend} | {text} | {q['renders']} | {q['cpu_s']:.1f} | "
                             f"{q['renders_per_cpu_s']:.2f} | {parts} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    from tqdm import tqdm

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("renders", type=Path, help="retake folder (python -m tools.synth retake)")
    p.add_argument("--people", type=int, default=None, help="first N people only")
    p.add_argument("--profile", type=int, default=0,
                   help="also time the generator on this many sessions (needs torch + anny)")
    p.add_argument("--profile-seed", type=int, default=9001)
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    a = p.parse_args(argv)
    labels = load_labels(a.renders, a.people)
    if not labels:
        print(f"no retake takes in {a.renders}", file=sys.stderr)
        return 2
    takes = []
    with Analyzer() as an:
        for lab in tqdm(labels, desc="retake", unit="take"):
            takes.append(take_of(lab, read_take(an, a.renders / lab["image"])))
    per_person = {}
    for t in takes:
        per_person.setdefault(t.person, 0)
        per_person[t.person] += 1
    results = {
        "date": dt.date.today().isoformat(), "commit": _commit(),
        "library_uncommitted": library_changes(), "renders": str(a.renders),
        "seeds": sorted({lab["session"]["seed"] for lab in labels}),
        "takes_per_person": max(per_person.values()),
        "all": summarize(takes),
        "women": summarize([t for t in takes if t.female]),
        "men": summarize([t for t in takes if not t.female]),
        "rows": [t.__dict__ for t in takes],
    }
    if a.profile:
        results["profile"] = profile(a.profile_seed, a.profile, results["takes_per_person"])
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "retake.json").write_text(json.dumps(results, indent=1))
    md = markdown(results)
    (a.out / "retake.md").write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
