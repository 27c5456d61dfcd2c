"""Accuracy gates: the pelvic tilt against independent truth, and its invariances.

Truth: the labelled renders in ``samples/`` (12 picked to span the extremes, where the
estimate regresses towards the mean) and ``samples/heldout/`` (40 drawn at random from a
seed never used for training or calibration). The labels come from the body model's
ASIS/PSIS, not from this program, so every bound here can fail.

The bounds follow from the accuracy measured on 300 held-out renders (README "Accuracy",
``bench/results/accuracy.json``), not from what the estimator happens to print for these
files; a better estimator only widens the margin. Each bound names its derivation.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from conftest import REAL_PHOTOS, SAMPLES

from posture.images import load_image

pytestmark = pytest.mark.slow

# ------------------------------------------------------------------ measured accuracy
#: Mean |error| on 300 held-out renders, degrees (README "Accuracy", 2026-12-02 estimator).
MEASURED_MAE = 2.61
#: Root-mean-square error on the same renders, degrees.
MEASURED_RMSE = 3.49
#: The widest calibrated 90% interval half-width (predicted tilt 15-22°: 6.67°), degrees.
WIDEST_HALF_WIDTH = 6.7
#: Nominal coverage of the interval.
COVERAGE = 0.90

#: Any one render: 2 × the widest 90% half-width. If the error in that bin is normal, its
#: 90% half-width is 1.645 σ, so this is 3.3 σ (P ≈ 0.001 per render) where the error is
#: largest, and 3.8 σ of the overall error (RMSE 3.49°).
MAX_ABS_ERROR = 2 * WIDEST_HALF_WIDTH
#: sd(|e|) from the measured moments: sqrt(RMSE² − MAE²) = 2.32°.
_SD_ABS = math.sqrt(MEASURED_RMSE**2 - MEASURED_MAE**2)


def mae_bound(n: int) -> float:
    """Mean |error| of ``n`` random renders: the measured MAE + 3 standard errors."""
    return MEASURED_MAE + 3 * _SD_ABS / math.sqrt(n)


def bias_bound(n: int) -> float:
    """|mean error| of ``n`` random renders: 3 standard errors of a mean of errors whose
    SD is the RMSE (measured bias -0.20°)."""
    return 3 * MEASURED_RMSE / math.sqrt(n)


#: Mean |error| of the 12 extreme samples: there the error SD is the widest bin's,
#: σ = 6.7 / 1.645 = 4.07°, so E|e| = 0.80 σ = 3.26° and its standard error over 12 is
#: 0.60 σ / √12 = 0.71°: 3.26 + 3 × 0.71 = 5.4°.
EXTREMES_MAE_BOUND = 5.4
#: A 90% interval may be no wider than the widest calibrated bin (6.7°) plus the rounding
#: of that figure and of the interval ends (0.5°).
MAX_HALF_WIDTH = WIDEST_HALF_WIDTH + 0.5
#: Mean half-width over random renders: an interval of normal errors with SD = the measured
#: RMSE needs 1.645 × 3.49 = 5.7°; 10% allowance for the per-bin calibration.
MEAN_HALF_WIDTH_BOUND = 1.1 * 1.645 * MEASURED_RMSE

#: Issue 12's target: a mirrored photo gives the same tilt to within 0.2°.
MIRROR_TOL = 0.2
#: A render rotated by ROLL_DEG and cropped back to an upright frame, analysed with the
#: true roll declared. Rotation resamples every pixel and crops ~13% of each side, so it
#: is held to the measured size invariance (mean 1.2°, max 4.1° between 300 and 2000 px
#: tall), tightened towards issue 12's crop target (max 1°): mean ≤ 1.2°, max ≤ 3.0°.
ROLL_DEG = 5.0
ROLL_MEAN_TOL = 1.2
ROLL_MAX_TOL = 3.0
#: The automatic roll on renders: MAE 0.50° on 120 renders (posture/horizon.py); 3 ×.
ROLL_FOUND_TOL = 1.5
#: ... and the automatic roll must be found (not "none") on most rolled renders.
ROLL_FOUND_SHARE = 0.8

EXTREMES = sorted(SAMPLES.glob("*.jpg"))
HELDOUT = sorted((SAMPLES / "heldout").glob("*.jpg"))


def label(path: Path) -> dict:
    return json.loads(path.with_suffix(".json").read_text())


@dataclass(frozen=True)
class Reading:
    name: str
    truth: float
    facing: str
    value: float | None
    interval: tuple[float, float] | None
    abstained: bool
    got_facing: str | None
    lordosis_truth: float = math.nan
    lordosis: float | None = None
    band: str | None = None

    @property
    def error(self) -> float:
        return self.value - self.truth

    @property
    def half_width(self) -> float:
        return (self.interval[1] - self.interval[0]) / 2


def read(analyzer, path: Path, rgb: np.ndarray | None = None) -> Reading:
    lab = label(path)
    a = analyzer.analyze(load_image(path).rgb if rgb is None else rgb)
    m = a.measurements.pelvic_tilt
    iv = None if m.interval is None else (float(m.interval[0]), float(m.interval[1]))
    return Reading(path.name, float(lab["pelvic_tilt_deg"]), lab["facing"], m.value, iv,
                   a.abstained, a.facing,
                   float(lab["lumbar_lordosis_deg"]["surface_deg"]),
                   a.measurements.lumbar_lordosis.value,
                   a.severity.band if a.severity else None)


@pytest.fixture(scope="module")
def readings(analyzer) -> dict[str, list[Reading]]:
    assert len(EXTREMES) >= 12 and len(HELDOUT) >= 40, "labelled renders are missing"
    return {"extremes": [read(analyzer, p) for p in EXTREMES],
            "heldout": [read(analyzer, p) for p in HELDOUT]}


def _table(rs: list[Reading]) -> str:
    return "\n".join(f"{r.name}: truth {r.truth:+.1f} est {r.value} {r.interval}" for r in rs)


# ------------------------------------------------------------------ accuracy

def test_the_labelled_renders_span_the_range_and_both_facings():
    labs = [label(p) for p in EXTREMES + HELDOUT]
    tilts = [lab["pelvic_tilt_deg"] for lab in labs]
    assert min(tilts) < -5 and max(tilts) > 30
    for lo, hi in ((-10, 0), (0, 10), (10, 20), (20, 30)):
        assert sum(lo <= t < hi for t in tilts) >= 5, (lo, hi)
    assert {lab["facing"] for lab in labs} == {"left", "right"}
    assert all(lab["seed"] == 5150 for lab in map(label, HELDOUT))  # reserved seed


def test_every_labelled_render_is_measured_facing_the_right_way(readings):
    rs = readings["extremes"] + readings["heldout"]
    assert [r.name for r in rs if r.abstained or r.value is None] == []
    assert [r.name for r in rs if r.got_facing != r.facing] == []


def test_each_error_is_within_the_bound(readings):
    rs = readings["extremes"] + readings["heldout"]
    bad = [r for r in rs if abs(r.error) > MAX_ABS_ERROR]
    assert not bad, f"|error| > {MAX_ABS_ERROR}°:\n{_table(bad)}"


def test_mean_error_of_the_random_draw(readings):
    rs = readings["heldout"]
    errs = np.array([r.error for r in rs])
    mae, bias = float(np.abs(errs).mean()), float(errs.mean())
    assert mae <= mae_bound(len(rs)), f"MAE {mae:.2f}° > {mae_bound(len(rs)):.2f}°"
    assert abs(bias) <= bias_bound(len(rs)), f"bias {bias:+.2f}° > ±{bias_bound(len(rs)):.2f}°"


#: The bias of these 40 renders as the shipped estimator read them, with how it was
#: measured (``python -m tools.heldout_bias``; n, SE, date, commit in the file).
RECORDED_BIAS = Path(__file__).resolve().parent / "data" / "heldout_bias.json"
#: How far the mean error of the same renders may move from the recorded one. The renders
#: and the estimator are fixed, so the reading is repeatable (it does not vary by the
#: draw's standard error, 0.43°); the tolerance only absorbs numerical differences between
#: machines and small deliberate changes. Issue 29: ±0.5°.
BIAS_PIN_TOL = 0.5


def test_mean_error_of_the_random_draw_is_the_recorded_one(readings):
    """A regression pin of the bias (issue 29): a constant offset of more than 0.5° on
    every tilt (e.g. +2.0°, which the 3-SE bound around zero lets through because this
    draw reads −1.01°) fails. It does not show the estimator is unbiased: that figure is
    measured on 300 renders (README "Accuracy"). A deliberate change to the estimator
    re-records the file with ``python -m tools.heldout_bias`` and commits it."""
    rec = json.loads(RECORDED_BIAS.read_text())
    rs = readings["heldout"]
    assert rec["n"] == len(rs) and set(rec["errors_deg"]) == {r.name for r in rs}, \
        "the recorded bias is of another set of renders: rerun python -m tools.heldout_bias"
    bias = float(np.mean([r.error for r in rs]))
    moved = sorted(rs, key=lambda r: -abs(r.error - rec["errors_deg"][r.name]))[:5]
    assert abs(bias - rec["mean_error_deg"]) <= BIAS_PIN_TOL, (
        f"mean error {bias:+.2f}° vs {rec['mean_error_deg']:+.2f}° recorded "
        f"({rec['date_utc']}, {rec['commit']}); most moved: "
        + ", ".join(f"{r.name} {r.error:+.2f} (was {rec['errors_deg'][r.name]:+.2f})"
                    for r in moved))


def test_mean_error_of_the_extremes(readings):
    rs = readings["extremes"]
    mae = float(np.mean([abs(r.error) for r in rs]))
    assert mae <= EXTREMES_MAE_BOUND, f"MAE {mae:.2f}° on the extremes\n{_table(rs)}"


def test_the_estimate_follows_the_truth_across_the_range(readings):
    # Regression towards the mean is measured (README); an estimate that ignores the
    # picture (slope 0) or halves every tilt must still fail, whatever its mean error.
    rs = readings["extremes"] + readings["heldout"]
    truth, est = np.array([r.truth for r in rs]), np.array([r.value for r in rs])
    slope = float(np.polyfit(truth, est, 1)[0])
    # the per-render bound (15°) over a 44° range of truth allows a slope down to 0.32;
    # the random draw's MAE bound, 3.8° on a spread (SD) of ~11°, about 0.65
    assert slope >= 0.65, f"slope {slope:.2f}"


def test_the_estimate_is_not_pulled_towards_the_mean(readings):
    """Slope of the estimate on the truth over all 52 renders: 0.91 measured (2026-12-06,
    the 9ce4662 estimator). Its standard error is about RMSE / (SD of truth · √n) =
    3.5 / (11 · √52) = 0.044, so 0.78 is 3 standard errors below: an estimate pulled 25%
    towards the mean (slope ≈ 0.68) fails, a better estimator (slope nearer 1) passes."""
    rs = readings["extremes"] + readings["heldout"]
    truth, est = np.array([r.truth for r in rs]), np.array([r.value for r in rs])
    slope = float(np.polyfit(truth, est, 1)[0])
    assert slope >= 0.78, f"slope {slope:.3f}"


#: Lumbar lordosis (surface measure) on 300 held-out renders (README "Accuracy",
#: bench/results/accuracy.json): MAE 2.80°, RMSE 3.72°.
LORDOSIS_MAE, LORDOSIS_RMSE = 2.80, 3.72


def test_lordosis_against_its_labels(readings):
    """The surface lordosis against the renders' labels (the tangent method of
    ../shared/ground-truth.md): sign, spread and slope. MAE bound: measured MAE + 3 standard
    errors of a mean of |e| (SD √(RMSE² − MAE²) = 2.45°). A flipped sign gives a negative
    correlation; a constant reading r = nan; a 25% pull slope ≈ 0.7 (measured 0.95,
    SE ≈ 3.7 / (SD of truth ~11 · √52) = 0.05, so 0.80 is 3 SE below)."""
    rs = readings["extremes"] + readings["heldout"]
    truth = np.array([r.lordosis_truth for r in rs])
    est = np.array([r.lordosis for r in rs], float)
    assert np.all(np.isfinite(est)), "lordosis missing on a measured render"
    mae = float(np.abs(est - truth).mean())
    sd_abs = math.sqrt(LORDOSIS_RMSE**2 - LORDOSIS_MAE**2)
    assert mae <= LORDOSIS_MAE + 3 * sd_abs / math.sqrt(len(rs)), f"MAE {mae:.2f}°"
    r = float(np.corrcoef(truth, est)[0, 1])
    assert r >= 0.85, f"r {r:.3f}"
    slope = float(np.polyfit(truth, est, 1)[0])
    assert slope >= 0.80, f"slope {slope:.3f}"


def _shipped_halfwidth(predicted: float) -> float:
    """The 90% half-width the shipped calibration table gives at this predicted tilt, read
    straight from posture/data/estimator.json (not through the code under test)."""
    est = json.loads((Path(__file__).resolve().parents[1] / "posture" / "data"
                      / "estimator.json").read_text())
    bins = est.get("interval_bins")
    if not bins:
        return float(est["interval_halfwidth"]["pelvic_tilt_deg"])
    i = int(np.searchsorted(bins["edges"], predicted, side="right"))
    return float(bins["halfwidth"]["pelvic_tilt_deg"][i])


def test_interval_half_width_is_the_shipped_calibration(readings):
    """Each whole-view interval is the conformal half-width the estimator ships with, to
    10% (the mean of two views may straddle a bin edge): a code path that shrinks or widens
    it (e.g. × 0.6, which the coverage gate on 40 renders cannot see) fails."""
    rs = readings["extremes"] + readings["heldout"]
    bad = [(r.name, round(r.half_width, 2), round(_shipped_halfwidth(r.value), 2))
           for r in rs if not 0.9 <= r.half_width / _shipped_halfwidth(r.value) <= 1.1]
    assert not bad, bad


#: README "Partial views": the interval of a view without the feet is 1.45× the whole-body
#: one (measured by bench/partial.py). The gate holds the code to the documented factor.
PARTIAL_FACTOR = 1.45


def test_partial_view_interval_is_widened_by_the_documented_factor(analyzer):
    """Renders cut at the shins (bottom 15% removed) are measured as partial views whose
    90% half-width is the shipped whole-view half-width at that reading × 1.45 (to 5%)."""
    checked = 0
    for path in EXTREMES[:6]:
        rgb = load_image(path).rgb
        cut = np.ascontiguousarray(rgb[: int(rgb.shape[0] * 0.85)])
        a = analyzer.analyze(cut)
        if not a.side.gate.partial or a.abstained:
            continue
        m = a.measurements.pelvic_tilt
        hw = (m.interval[1] - m.interval[0]) / 2
        ratio = hw / _shipped_halfwidth(m.value)
        assert ratio == pytest.approx(PARTIAL_FACTOR, rel=0.05), (path.name, ratio)
        checked += 1
    assert checked >= 3, "too few renders were measured as partial views"


def _min_count(n: int, p: float, alpha: float = 0.005) -> int:
    """The smallest k with P(Binomial(n, p) < k) < alpha (see _min_inside)."""
    return _min_inside(n, p, alpha)


#: Severity exactly right on 300 held-out renders: 79.0% (README "Accuracy").
SEVERITY_EXACT = 0.79


def test_severity_against_the_true_band(readings):
    """The band from the estimate against the band of the true tilt (bands.yaml edges):
    never two bands off on these 52 renders (4 of 300 measured: P(none of 52) ≈ 0.5 is not
    assured, so two-off is held to at most 1), and the exact share of the random draw above
    the 0.5% binomial quantile of the measured 79%."""
    from posture.classify import BAND_IDS, band_of

    rs = readings["extremes"] + readings["heldout"]
    steps = {r.name: abs(BAND_IDS.index(r.band) - BAND_IDS.index(band_of(r.truth).id))
             for r in rs}
    assert sum(s >= 2 for s in steps.values()) <= 1, steps
    assert not [n for n, s in steps.items() if s >= 3], steps
    held = [steps[r.name] == 0 for r in readings["heldout"]]
    need = _min_count(len(held), SEVERITY_EXACT)
    assert sum(held) >= need, f"{sum(held)} of {len(held)} exact (need {need})"


def _min_inside(n: int, p: float = COVERAGE, alpha: float = 0.005) -> int:
    """The smallest k with P(Binomial(n, p) < k) < alpha."""
    cdf = 0.0
    for k in range(n + 1):
        pk = math.comb(n, k) * p**k * (1 - p) ** (n - k)
        if cdf + pk >= alpha:
            return k
        cdf += pk
    return n


def test_interval_coverage_on_the_random_draw(readings):
    rs = readings["heldout"]
    inside = sum(r.interval[0] <= r.truth <= r.interval[1] for r in rs)
    need = _min_inside(len(rs))  # 31 of 40: P(≤ 30 | true 90% coverage) = 0.5%
    assert inside >= need, f"{inside} of {len(rs)} inside the 90% interval (need {need})"


def _palpation_label(path_name: str) -> float:
    """The render's palpation-equivalent label: its bony offsets drawn as tools/synth draws
    them for its seed and index (ground-truth.md, "Bone-shape variation")."""
    from tools.synth.labels import bone_rng, draw_bone_offsets, palpation_tilts

    lab = label(SAMPLES / "heldout" / path_name)
    bone = draw_bone_offsets(bone_rng(int(lab["seed"]), int(lab["index"])))
    return palpation_tilts(lab["pelvic_tilt_3d_deg"], bone)["mid"]


#: Mean palpation-equivalent half-width: normal errors with SD = sqrt(RMSE² + 5²) (the
#: photo's measured RMSE and the bony offset's SD, Preece et al. 2008) need
#: 1.645 × 6.10 = 10.0°; 10% allowance as for the postural interval.
PALPATION_MEAN_HALF_WIDTH_BOUND = 1.1 * 1.645 * math.hypot(MEASURED_RMSE, 5.0)


def test_palpation_interval_coverage_on_the_random_draw(readings):
    """Issue 25.1: the palpation-equivalent interval covers the palpation labels (the
    postural label plus the render's drawn bony offset), with the postural interval's bound
    (31 of 40); the postural interval alone does not (it covered 68% in the issue)."""
    from posture.palpation import palpation_equivalent

    rs = readings["heldout"]
    ests = [palpation_equivalent(r.value, r.interval, COVERAGE) for r in rs]
    truth = [_palpation_label(r.name) for r in rs]
    inside = sum(e.interval_deg[0] <= t <= e.interval_deg[1]
                 for e, t in zip(ests, truth, strict=True))
    need = _min_inside(len(rs))
    assert inside >= need, f"{inside} of {len(rs)} inside the palpation interval"
    assert all(e.value_deg == r.value for e, r in zip(ests, rs, strict=True))
    mean_hw = float(np.mean([e.halfwidth_deg for e in ests]))
    assert mean_hw <= PALPATION_MEAN_HALF_WIDTH_BOUND, f"mean half-width {mean_hw:.2f}°"


def test_interval_width_is_bounded(readings):
    rs = readings["extremes"] + readings["heldout"]
    assert all(r.interval[0] <= r.value <= r.interval[1] for r in rs)
    wide = [r for r in rs if r.half_width > MAX_HALF_WIDTH]
    assert not wide, f"half-width > {MAX_HALF_WIDTH}°:\n{_table(wide)}"
    mean_hw = float(np.mean([r.half_width for r in readings["heldout"]]))
    assert mean_hw <= MEAN_HALF_WIDTH_BOUND, f"mean half-width {mean_hw:.2f}°"


# ------------------------------------------------------------------ mirror

@pytest.mark.parametrize("path", EXTREMES + HELDOUT[::4], ids=lambda p: p.stem)
def test_mirrored_render_gives_the_same_tilt(path, analyzer):
    rgb = load_image(path).rgb
    a = read(analyzer, path, rgb)
    b = analyzer.analyze(np.ascontiguousarray(np.fliplr(rgb)))
    assert b.facing == {"left": "right", "right": "left"}[a.got_facing]
    tilt_b = b.measurements.pelvic_tilt.value
    assert tilt_b is not None and abs(tilt_b - a.value) <= MIRROR_TOL, (a.value, tilt_b)


@pytest.mark.parametrize("row", REAL_PHOTOS, ids=[r["file"] for r in REAL_PHOTOS])
def test_mirrored_real_photo_gives_the_same_tilt(row, shared_photos, analyzer):
    rgb = load_image(shared_photos / row["file"]).rgb
    a = analyzer.analyze(rgb)
    b = analyzer.analyze(np.ascontiguousarray(np.fliplr(rgb)))
    assert (a.facing, b.facing) == (row["facing"], {"left": "right", "right": "left"}[
        row["facing"]])
    ta, tb = a.measurements.pelvic_tilt.value, b.measurements.pelvic_tilt.value
    assert a.abstained == b.abstained
    if not a.abstained:
        assert abs(ta - tb) <= MIRROR_TOL, (ta, tb)


# ------------------------------------------------------------------ camera roll

def rolled(rgb: np.ndarray, deg: float) -> np.ndarray:
    """The picture a camera rolled by ``deg`` would take (true verticals appear rotated
    clockwise by ``deg``, the horizon module's sign), cropped to the largest centred
    upright box of the same aspect, so no blank corner or frame edge is left."""
    import cv2

    h, w = rgb.shape[:2]
    out = cv2.warpAffine(rgb, cv2.getRotationMatrix2D((w / 2, h / 2), -deg, 1.0), (w, h),
                         flags=cv2.INTER_LINEAR)
    c, s = math.cos(math.radians(abs(deg))), math.sin(math.radians(abs(deg)))
    k = min((w / 2) / (w / 2 * c + h / 2 * s), (h / 2) / (w / 2 * s + h / 2 * c))
    cw, ch = int(w * k) // 2, int(h * k) // 2
    return np.ascontiguousarray(out[h // 2 - ch: h // 2 + ch, w // 2 - cw: w // 2 + cw])


def test_rolled_helper_turns_verticals_clockwise():
    img = np.zeros((400, 300, 3), np.uint8)
    img[:, 148:152] = 255  # a vertical bar through the centre
    r = rolled(img, 10.0)
    ys, xs = np.nonzero(r[..., 0] > 128)
    top, bottom = xs[ys < ys.min() + 10].mean(), xs[ys > ys.max() - 10].mean()
    assert top > bottom  # clockwise: the top moved right
    assert math.degrees(math.atan2(top - bottom, ys.max() - ys.min())) == pytest.approx(
        10.0, abs=1.0)


@pytest.fixture(scope="module")
def roll_runs(analyzer):
    """Each extreme sample, rotated by ±ROLL_DEG: (name, truth, tilt upright with its true
    roll declared, applied total roll, tilt rolled+declared, Assessment rolled+auto)."""
    from posture.analysis import Analyzer
    from posture.horizon import Roll

    runs = []
    for i, path in enumerate(EXTREMES):
        lab = label(path)
        r0 = float(lab["camera"]["roll_deg"])  # the render's own camera roll
        rgb = load_image(path).rgb
        with Analyzer("full", roll=Roll(r0, "declared")) as d:
            upright = d.analyze(rgb).measurements.pelvic_tilt.value
        deg = ROLL_DEG if i % 2 else -ROLL_DEG
        img = rolled(rgb, deg)
        with Analyzer("full", roll=Roll(r0 + deg, "declared")) as d:
            declared = d.analyze(img).measurements.pelvic_tilt.value
        runs.append((path.name, lab["pelvic_tilt_deg"], upright, r0 + deg, declared,
                     analyzer.analyze(img)))
    return runs


def test_rolled_render_with_declared_roll_gives_the_same_tilt(roll_runs):
    diffs = [abs(declared - upright) for _, _, upright, _, declared, _ in roll_runs]
    detail = [(n, up, dec) for n, _, up, _, dec, _ in roll_runs]
    assert max(diffs) <= ROLL_MAX_TOL, detail
    assert float(np.mean(diffs)) <= ROLL_MEAN_TOL, detail
    assert all(abs(dec - truth) <= MAX_ABS_ERROR for _, truth, _, _, dec, _ in roll_runs)


def test_rolled_render_with_automatic_roll(roll_runs):
    found = [r for r in roll_runs if r[5].side.roll.source == "estimated"]
    assert len(found) >= ROLL_FOUND_SHARE * len(roll_runs), [
        (r[0], r[5].side.roll) for r in roll_runs]
    for name, truth, _, applied, declared, auto in found:
        err = auto.side.roll.deg - applied
        assert abs(err) <= ROLL_FOUND_TOL, (name, auto.side.roll, applied)
        tilt = auto.measurements.pelvic_tilt.value
        # the same picture: the tilt moves by about the roll error, no more
        assert abs(tilt - declared) <= abs(err) + 1.0, (name, tilt, declared, err)
        assert abs(tilt - truth) <= MAX_ABS_ERROR, (name, tilt, truth)


def test_cli_vertical_declares_the_roll(tmp_path, roll_runs):
    """``posture analyze --vertical`` and ``--roll`` on a rolled render: the declared roll
    is used (roll_source "declared"), both give one tilt, and it is the upright one."""
    from PIL import Image

    path = EXTREMES[1]
    name, _, upright, applied, _, _ = roll_runs[1]
    assert name == path.name
    img = rolled(load_image(path).rgb, applied - float(label(path)["camera"]["roll_deg"]))
    f = tmp_path / "rolled.png"
    Image.fromarray(img).save(f)
    h, w = img.shape[:2]
    # a truly vertical line through the centre, as it appears in the rolled picture
    t = math.radians(applied)
    p0 = (w / 2, h / 2 + 200)
    p1 = (w / 2 + 400 * math.sin(t), h / 2 + 200 - 400 * math.cos(t))
    outs = []
    for extra in (["--vertical", ",".join(f"{v:.3f}" for v in (*p0, *p1))],
                  ["--roll", f"{applied:.4f}"]):
        r = subprocess.run([sys.executable, "-m", "posture.cli", "analyze", str(f), "--json",
                            *extra], capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr[-2000:]
        d = json.loads(r.stdout)
        assert d["roll_source"] == "declared"
        assert d["roll_deg"] == pytest.approx(applied, abs=0.01)
        outs.append(d["pelvic_tilt_deg"])
    assert outs[0] == pytest.approx(outs[1], abs=0.02)  # the two ways to say the same roll
    assert abs(outs[0] - upright) <= ROLL_MAX_TOL


def test_rolled_real_photos_with_declared_roll(shared_photos, analyzer):
    """The real photos rotated by ±ROLL_DEG on top of the roll found upright, declared."""
    from posture.analysis import Analyzer
    from posture.horizon import Roll

    diffs = []
    for i, row in enumerate(REAL_PHOTOS):
        rgb = load_image(shared_photos / row["file"]).rgb
        a = analyzer.analyze(rgb)
        if a.abstained:
            continue
        deg = ROLL_DEG if i % 2 else -ROLL_DEG
        with Analyzer("full", roll=Roll(a.side.roll.deg + deg, "declared")) as d:
            b = d.analyze(rolled(rgb, deg))
        assert not b.abstained, (row["file"], b.reasons)
        diffs.append((row["file"], a.measurements.pelvic_tilt.value,
                      b.measurements.pelvic_tilt.value))
    assert len(diffs) >= len(REAL_PHOTOS) - 1
    d = [abs(x - y) for _, x, y in diffs]
    assert max(d) <= ROLL_MAX_TOL and float(np.mean(d)) <= ROLL_MEAN_TOL, diffs
