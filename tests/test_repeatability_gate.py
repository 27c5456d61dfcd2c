"""Repeatability gate: the same photo, saved again, gives the same reading (issue 12).

Each shared real photo is analysed as it is and as the seven copies a person would call
"the same photo" (``tools/copies.py``: re-saved, JPEG 85 and 70, a 3% crop, half and 1.5×
size, mirrored). The bounds follow from ``bench/repeatability.py`` on these photos with the
shipped estimator (README "Repeatability"); the estimator before the mask-softening
retraining (commit 8702c13) fails them: its per-photo SD reached 1.76° (real_06), mean 0.73°.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import REAL_PHOTOS

from posture.errors import PostureError
from posture.images import load_image
from tools.copies import KINDS, copies

pytestmark = pytest.mark.slow

#: Measured with the shipped estimator: per-photo SD over the original and its 7 copies,
#: mean MEAN_SD_MEASURED and largest MAX_SD_MEASURED (degrees). The bounds add 25% for
#: another CPU's floating point and MediaPipe build.
MEAN_SD_MEASURED = 0.55
MAX_SD_MEASURED = 0.84
MEAN_SD_BOUND = 1.25 * MEAN_SD_MEASURED
MAX_SD_BOUND = 1.25 * MAX_SD_MEASURED


@pytest.fixture(scope="module")
def copy_readings(analyzer, shared_photos) -> dict[str, dict[str, float | str]]:
    """Tilt (degrees) or the refusal code, per photo and kind of copy."""
    out = {}
    for row in REAL_PHOTOS:
        rgb = load_image(shared_photos / row["file"]).rgb
        got = {}
        for kind, src in ({"original": rgb} | copies(rgb)).items():
            try:
                a = analyzer.analyze(src)
            except PostureError as err:
                got[kind] = err.code
                continue
            got[kind] = a.measurements.pelvic_tilt.value if not a.abstained \
                else ",".join(sorted(a.reason_codes))
        out[row["file"]] = got
    return out


def test_every_copy_gets_the_verdict_of_the_original(copy_readings):
    for name, got in copy_readings.items():
        measured = {k: isinstance(v, float) for k, v in got.items()}
        assert len(set(measured.values())) == 1, (name, got)


def test_the_reading_barely_moves_between_copies(copy_readings):
    sds = {}
    for name, got in copy_readings.items():
        tilts = [got[k] for k in ("original", *KINDS)]
        if all(isinstance(t, float) for t in tilts):
            sds[name] = float(np.std(tilts))
    assert len(sds) >= 6, copy_readings
    worst = max(sds, key=sds.get)
    assert sds[worst] <= MAX_SD_BOUND, (worst, copy_readings[worst])
    assert np.mean(list(sds.values())) <= MEAN_SD_BOUND, sds
