"""The synthetic-data generator's self-test (tools/synth; needs torch + anny)."""

import importlib.util

import pytest

_MISSING = [m for m in ("torch", "anny") if importlib.util.find_spec(m) is None]
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(bool(_MISSING), reason=f"tools/synth needs {', '.join(_MISSING)} "
                       "(pip install torch==2.13.0, then -r tools/synth/requirements.txt)"),
]


@pytest.fixture(scope="module")
def model():
    from tools.synth.body import BodyModel

    return BodyModel()


def test_template_landmarks_match_ground_truth(model):
    from tools.synth.selftest import check_template

    result = check_template(model)
    assert result.passed, result.detail


def test_tilt_moves_one_to_one_with_pelvis_rotation(model):
    from tools.synth.selftest import check_slopes

    for result in check_slopes(model):
        assert result.passed, f"{result.name}: {result.detail}"


def test_balanced_pose_tilt_is_consistent(model):
    from tools.synth.selftest import check_balanced_pose

    result = check_balanced_pose(model)
    assert result.passed, result.detail


def test_same_seed_same_image_and_label(model):
    from tools.synth.selftest import check_reproducible

    result = check_reproducible(model)
    assert result.passed, result.detail


def test_label_has_the_documented_keys(model):
    from tools.synth.generate import make_sample

    label = make_sample(model, 11, 0, (270, 480)).label
    for key in ("pelvic_tilt_deg", "pelvic_tilt_3d_deg", "pelvic_tilt_image_deg",
                "lumbar_lordosis_deg", "points", "camera", "params", "facing",
                "generator_version", "seed"):
        assert key in label
    assert set(label["pelvic_tilt_image_deg"]) == {"with_roll", "without_roll"}
    for name in ("ASIS_L", "ASIS_R", "PSIS_L", "PSIS_R", "ear_L", "shoulder_R", "hip_L",
                 "knee_R", "ankle_L"):
        assert len(label["points"][name]["px"]) == 2
        assert len(label["points"][name]["xyz_m"]) == 3
    assert label["facing"] in ("left", "right")
    # without roll, the image-plane tilt is close to the 3D one (yaw <= 15 deg)
    assert abs(label["pelvic_tilt_image_deg"]["without_roll"]["mid"]
               - label["pelvic_tilt_deg"]) < 4.0
    # roll turns the image content clockwise: a right-facing ASIS goes down (+roll)
    sign = 1.0 if label["facing"] == "right" else -1.0
    with_roll = label["pelvic_tilt_image_deg"]["with_roll"]["mid"]
    without = label["pelvic_tilt_image_deg"]["without_roll"]["mid"]
    assert abs(with_roll - without - sign * label["camera"]["roll_deg"]) < 0.01
