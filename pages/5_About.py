"""About: the method, measured accuracy, limitations, privacy and sources."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from posture.classify import bands, bands_disclaimer
from posture_app.results import bands_svg

ROOT = Path(__file__).resolve().parents[1]
ACCURACY = ROOT / "bench" / "results" / "accuracy.md"

st.title("ℹ️ About")

st.markdown("""
### How it works
1. **Pose.** Google's MediaPipe pose model finds 33 body landmarks and separates your outline
   from the background. It runs on this server; in the live check it runs on every frame.
2. **Side view.** The tool works out which way you face, checks that you are side-on, whole and
   alone, and corrects a tilted camera from straight lines in the background.
3. **Measurements.** The bony points of the pelvis (ASIS at the front, PSIS at the back) cannot
   be seen in a photo, so **pelvic tilt** (and the lower-back curve) come from a model trained
   on synthetic bodies whose true tilt is known, reading the outline of the lower back and
   buttocks. Each comes with a 90% interval. Head position, trunk lean, knee angle and the
   plumb line are plain geometry on the landmarks.
4. **Severity.** Pelvic tilt is placed in bands, with the chance of each band given the
   interval. The bands are this tool's own heuristic (below).
5. **When unsure, it says so.** If the view is unusable or the estimate too uncertain, it
   gives no tilt and tells you how to retake the picture.
""")

st.markdown("### Severity bands")
st.markdown(bands_svg(bands()), unsafe_allow_html=True)
st.markdown("\n".join(f"- **{b.label}**: {b.rationale}" for b in bands()))
st.caption(bands_disclaimer())

st.markdown("### Measured accuracy")
if ACCURACY.is_file():
    st.markdown(ACCURACY.read_text(encoding="utf-8"))
    st.caption(f"From `{ACCURACY.relative_to(ROOT)}` (made by `bench/accuracy.py`).")
else:
    st.info("The accuracy benchmark (`bench/accuracy.py`) has not been run for this build "
            "yet; its table appears here when `bench/results/accuracy.md` exists.", icon="⏳")
st.markdown("""
For context from published work: 2D deep-learning posture methods agree with 3D motion capture
within about 3° for most angles, but for sagittal pelvic tilt only to "< 10°"; hip centres from
common 2D pose models sit 30–50 mm off (Sci Rep 2021, s41598-021-00212-x). AI on X-rays, a
ceiling that photos cannot reach, errs by 1.9° on average on (radiographic) pelvic tilt. No
published validation of a MediaPipe-based pelvic tilt against X-rays or a palpation meter was
found.
""")

CLINIC_SAVE = (", or (clinicians) press Save on the Clinic page"
               if (ROOT / "pages" / "4_Clinic.py").is_file() else "")
st.markdown(f"""
### Limitations
- **Pelvis shape differs between people.** In 30 pelves held in the same position, the
  ASIS–PSIS angle ranged 0–23° (mean 13 ± 5°, Preece et al. 2008). A photo cannot separate
  shape from posture, so any band can be normal for you.
- **No standard bands exist.** There are no published mild/moderate/severe cut-offs for
  pelvic tilt, and evidence that exercise changes it is very weak: one trial changed tilt by
  less than 2° (Brekke et al. 2020).
- **A reference for comparison:** a palpation meter, the clinical tool, measures tilt with
  ICC 0.87 and a standard error of measurement of 1.1°; 85% of young men and 75% of women
  stand in anterior tilt (Herrington 2011).
- **Clothing and camera matter:** loose clothes hide the outline; a camera above or below hip
  height or tilted changes the picture.
- **The lower-back curve is a surface angle.** It reads lower than an X-ray Cobb angle
  (standing T12–S1 Cobb 49.8 ± 11.2°, PMC6680033; surface angles need ×1.53 to match,
  Greendale et al. 2011), so do not compare the two.
- **Head position** uses the shoulder joint, not the C7 vertebra, so it reads higher than the
  craniovertebral angle (forward head commonly < 50°; neck-pain 43.9 ± 3.6° vs controls
  50.6 ± 2.1°, Lau et al. 2009).
- The model was trained on synthetic bodies; real people differ in ways renders may miss.
- **Radiographic "pelvic tilt"** (femoral heads to S1) is a different quantity; its norms do
  not apply here.

### Privacy
In the photo and live checks, pictures and video are processed **in memory** on the server
running this app and are **not stored**: nothing is written to disk, and the latest result
lives only in your browser session until you close it. Nothing is saved unless you save it:
download the JSON result or the plan{CLINIC_SAVE}. The live check streams video directly
between your browser and this server; by default no outside server is involved.

### Sources
- Herrington L. (2011) Assessment of the degree of pelvic tilt within a normal asymptomatic
  population. *Manual Therapy*.
- Preece S.J. et al. (2008) Variation in pelvic morphology may prevent the identification of
  anterior pelvic tilt. *J Man Manip Ther* (PMC2565125).
- Brekke A.F. et al. (2020) Non-surgical interventions for excessive anterior pelvic tilt:
  a systematic review.
- Standing lumbar lordosis norms (PMC6680033); Boulay et al. (2006); Hasegawa et al. (2016);
  Greendale G.A. et al. (2011) flexicurve vs radiographic angles.
- Lau K.T. et al. (2009) craniovertebral angle in neck pain.
- Markerless pose vs motion capture (Sci Rep 2021, s41598-021-00212-x); MediaPipe BlazePose
  model card.
- Modified Thomas test: PMC4991856 (without pelvic control), PMC4339157 (with stabilisation).

*Not a medical device and not medical advice.*
""")
