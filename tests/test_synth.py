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


def test_bone_offsets_follow_ground_truth_and_leave_the_image_alone(model):
    """Each body draws its bony offsets (ground-truth.md, "Bone-shape variation"): the
    palpation-equivalent tilt is the postural one plus delta, side by side +-delta_lr/2."""
    import numpy as np

    from tools.synth.generate import make_sample
    from tools.synth.labels import bone_rng, draw_bone_offsets

    label = make_sample(model, 11, 0, (270, 480)).label
    off = label["bone_offsets_deg"]
    post, palp = label["pelvic_tilt_3d_deg"], label["pelvic_tilt_palpation_3d_deg"]
    assert palp["left"] - post["left"] == pytest.approx(off["delta"] + off["delta_lr"] / 2,
                                                        abs=2e-4)
    assert palp["right"] - post["right"] == pytest.approx(off["delta"] - off["delta_lr"] / 2,
                                                          abs=2e-4)
    assert label["pelvic_tilt_palpation_deg"] == pytest.approx(
        (palp["left"] + palp["right"]) / 2, abs=2e-4)
    assert label["pelvic_tilt_deg"] == pytest.approx(post["mid"], abs=1e-4)
    # the draws: SD 5 and 2.5 degrees, clipped to +-11 and +-5.5
    draws = [draw_bone_offsets(bone_rng(3, i)) for i in range(4000)]
    delta = np.array([d.delta for d in draws])
    lr = np.array([d.delta_lr for d in draws])
    assert abs(delta).max() <= 11.0 and abs(lr).max() <= 5.5
    assert 4.6 < delta.std() < 5.2 and 2.3 < lr.std() < 2.6 and abs(delta.mean()) < 0.25


def test_retake_takes_share_the_person_and_tilt_but_not_the_camera(model):
    import numpy as np

    from tools.synth.retake import make_session, sample_shot

    takes = make_session(model, 41, 0, 3, height_px=480)
    labels = [t.label for t in takes]
    tilts = [lab["pelvic_tilt_deg"] for lab in labels]
    # the pelvis rotation is re-solved after each stance's sway: the label is the session's
    assert max(tilts) - min(tilts) < 0.05
    assert all(abs(t - labels[0]["session"]["target_tilt_deg"]) < 0.05 for t in tilts)
    assert len({lab["params"]["shape"]["gender"] for lab in labels}) == 1
    assert len({lab["bone_offsets_deg"]["delta"] for lab in labels}) == 1
    assert len({lab["params"]["room"]["texture_seed"] for lab in labels}) == 1
    assert len({lab["facing"] for lab in labels}) == 1
    # what a re-photographed person changes
    for key in ("focal_35mm", "height_frac", "fill", "roll"):
        assert len({lab["params"]["camera"][key] for lab in labels}) == 3, key
    yaws = [lab["params"]["yaw"] for lab in labels]
    assert max(yaws) - min(yaws) <= 10.0 and max(abs(y) for y in yaws) <= 15.0
    assert len({lab["sway_deg"] for lab in labels}) == 3
    assert len({lab["params"]["sensor"]["jpeg_quality"] for lab in labels}) >= 2
    assert not np.array_equal(takes[0].image[:50, :50], takes[1].image[:50, :50])
    # a frame cut at the shins: the person reaches the bottom edge, the ankles are below it
    person, take = next((p, t) for p in range(40) for t in range(3)
                        if sample_shot(41, p, t, 480).framing == "shins")
    cut = make_session(model, 41, person, 3, height_px=480, only={take})[0]
    assert cut.mask[-1].any()
    h = cut.label["camera"]["height"]
    assert all(cut.label["points"][f"ankle_{s}"]["px"][1] > h for s in "LR")
    assert cut.label["points"]["hip_L"]["px"][1] < h


def test_retake_session_is_reproducible_take_by_take(model):
    """A take depends on (seed, person, take) only: made alone or with its session, the
    same pixels and label; another person differs."""
    import json

    from tools.synth.retake import make_session

    all_takes = make_session(model, 43, 2, 2, height_px=480)
    alone = make_session(model, 43, 2, 2, height_px=480, only={1})[0]
    assert json.dumps(alone.label, sort_keys=True) == json.dumps(all_takes[1].label,
                                                                 sort_keys=True)
    assert abs(alone.image.astype(int) - all_takes[1].image.astype(int)).max() <= 1
    other = make_session(model, 43, 3, 1, height_px=480)[0]
    assert other.label["params"]["shape"] != all_takes[0].label["params"]["shape"]


def test_cameras_per_stance_reuse_one_posed_body(model):
    from tools.synth.retake import make_session

    takes = make_session(model, 47, 0, 4, cameras_per_stance=2, height_px=480)
    stances = [t.label["session"]["stance"] for t in takes]
    assert stances == [0, 0, 1, 1]
    assert takes[0].label["sway_deg"] == takes[1].label["sway_deg"]
    assert takes[0].label["params"]["yaw"] == takes[1].label["params"]["yaw"]
    assert takes[0].label["camera"]["fx"] != takes[1].label["camera"]["fx"]
    assert takes[1].label["sway_deg"] != takes[2].label["sway_deg"]


def test_opengl_rasteriser_agrees_with_numpy_on_a_body(model):
    """The moderngl G-buffer sees the same triangle as the NumPy rasteriser on >= 99% of the
    pixels either covers (they differ only on triangle edges), with the same weights."""
    import numpy as np

    from tools.synth import raster, raster_gl
    from tools.synth.camera import body_to_world, frame_camera
    from tools.synth.pose import PoseParams, pose_body
    from tools.synth.scene import CameraParams

    if not raster_gl.available():
        pytest.skip("no moderngl / headless EGL here (pip install -r tools/synth/requirements.txt)")
    from tools.synth.body import BodyShape

    body = model.build(BodyShape(gender=0.9, weight=0.7))
    posed = pose_body(body, PoseParams(pelvic_tilt_change=8.0, arms="crossed"))
    world = body_to_world(np.zeros(3), "left", 8.0)
    verts = posed.vertices @ world[:3, :3].T + world[:3, 3]
    cam = frame_camera(verts, body.stature, CameraParams(35.0, 0.6, 0.8, 2.0, 0.0, 0.0),
                       540, 960)
    uv, z = cam.project(verts)
    for cull in (1.0, None):
        a = raster.rasterize_numpy(uv, z, body.faces, 540, 960, cull_sign=cull)
        b = raster_gl.rasterize(uv, z, body.faces, 540, 960, cull_sign=cull)
        fa = np.full(540 * 960, -1)
        fb = np.full(540 * 960, -1)
        fa[a.pixel], fb[b.pixel] = a.face, b.face
        covered = (fa >= 0) | (fb >= 0)
        assert covered.sum() > 20_000
        assert (fa == fb)[covered].mean() >= 0.99
        same = np.nonzero((fa == fb) & (fa >= 0))[0]
        ia, ib = np.searchsorted(a.pixel, same), np.searchsorted(b.pixel, same)
        assert np.abs(a.bary[ia] - b.bary[ib]).max() < 0.02
        assert np.abs(a.depth[ia] - b.depth[ib]).max() < 1e-3 * z.max()


def test_side_view_label_unchanged_by_the_front_view_generator(model):
    """Generator 0.5.0 added front/back views; a side image of a seed is the same as
    before (values of s11_000000 from 0.4.0, the same to the printed digits)."""
    from tools.synth.generate import make_sample

    label = make_sample(model, 11, 0, (270, 480)).label
    assert label["pelvic_tilt_deg"] == pytest.approx(15.4729, abs=2e-4)
    assert label["lumbar_lordosis_deg"]["surface_deg"] == pytest.approx(22.5448, abs=2e-4)
    assert label["pelvic_tilt_image_deg"]["with_roll"]["mid"] == pytest.approx(12.7419,
                                                                               abs=2e-4)
    assert label["points"]["ASIS_L"]["px"] == pytest.approx([120.23, 208.99], abs=0.02)
    assert label["points"]["ear_R"]["px"] == pytest.approx([117.63, 114.65], abs=0.02)


def test_zero_frontal_posture_poses_as_the_side_view(model):
    """The frontal hook is neutral at zero: the vertices of no frontal posture, but for
    the heel raise that puts both feet on the floor (a step leaves them < 1 mm apart).
    Crossed arms: hanging arms are abducted outward in front/back views only (below)."""
    import numpy as np

    from tools.synth.body import BodyShape
    from tools.synth.frontal_pose import FrontalPose
    from tools.synth.pose import PoseParams, pose_body

    body = model.build(BodyShape(gender=0.8, weight=0.6))
    params = PoseParams(pelvic_tilt_change=6.0, knee_flexion=4.0, step=2.0, arms="crossed")
    plain = pose_body(body, params)
    zero = pose_body(body, params, frontal=FrontalPose())
    assert np.abs(plain.vertices - zero.vertices).max() < 1e-3
    assert plain.sway == zero.sway


@pytest.mark.parametrize("obliquity", [-4.0, 2.5])
def test_obliquity_label_follows_the_pelvis_one_to_one_with_feet_on_the_floor(model,
                                                                              obliquity):
    """The ASIS, PSIS and hip-joint lines tilt by the applied pelvis rotation (+ = the
    subject's left up), and the raised heel keeps both feet on the floor."""
    import numpy as np

    from tools.synth.body import BodyShape, landmark_points
    from tools.synth.frontal import frontal_angle_3d
    from tools.synth.frontal_pose import FrontalPose, foot_vertices
    from tools.synth.pose import PoseParams, pose_body

    body = model.build(BodyShape(gender=0.2, weight=0.4))
    fp = FrontalPose(pelvic_obliquity=obliquity, trunk_lean=1.5, leg_lean=-1.0)
    posed = pose_body(body, PoseParams(pelvic_tilt_change=3.0), frontal=fp)
    lm = landmark_points(posed.vertices, body.faces)
    lat = np.array([1.0, 0.0, 0.0])
    for name in ("ASIS", "PSIS"):
        assert frontal_angle_3d(lm[f"{name}_L"], lm[f"{name}_R"], lat) == \
            pytest.approx(obliquity, abs=0.05)
    hips = posed.joints[[body.bone("upperleg01.L"), body.bone("upperleg01.R")]]
    assert frontal_angle_3d(hips[0], hips[1], lat) == pytest.approx(obliquity, abs=0.02)
    left, right = foot_vertices(body)
    assert abs(posed.vertices[left, 2].min() - posed.vertices[right, 2].min()) < 5e-4
    assert min(posed.vertices[left, 2].min(), posed.vertices[right, 2].min()) == 0.0


def test_front_and_back_views_put_the_subject_left_where_the_convention_says(model):
    """Front: the subject's left on the image's right; back: on its left. The roll turns
    the content clockwise, so it lowers the image's right end: the subject's left in a
    front view (the image angle falls by the roll), the right in a back view."""
    from tools.synth.frontal import make_front_sample

    front = make_front_sample(model, 7, 0, "front", (270, 480)).label
    back = make_front_sample(model, 7, 0, "back", (270, 480)).label
    assert front["view"] == "front" and back["view"] == "back"
    assert front["points"]["ASIS_L"]["px"][0] > front["points"]["ASIS_R"]["px"][0]
    assert back["points"]["ASIS_L"]["px"][0] < back["points"]["ASIS_R"]["px"][0]
    # the same person and posture from both sides: the same 3D labels
    for key, value in front["frontal"]["pelvic_obliquity_3d_deg"].items():
        assert back["frontal"]["pelvic_obliquity_3d_deg"][key] == pytest.approx(value, abs=2e-3)
    roll = front["camera"]["roll_deg"]
    assert abs(roll) > 0.5
    for label, sign in ((front, -1.0), (back, 1.0)):
        img = label["frontal"]["image_deg"]
        assert img["with_roll"]["asis"] - img["without_roll"]["asis"] == \
            pytest.approx(sign * roll, abs=0.01)
        assert label["frontal"]["pelvic_obliquity_3d_deg"]["asis"] == pytest.approx(
            label["frontal"]["pose"]["pelvic_obliquity"], abs=0.05)
        for key in ("acromion_L", "acromion_R", "ear_L", "PSIS_R", "knee_L", "ankle_R"):
            assert len(label["points"][key]["px"]) == 2
    assert "pelvic_tilt_image_deg" not in front  # a sagittal image angle means nothing here
    assert front["generator_version"] == "0.5.0"


def test_front_view_is_reproducible_and_apart_from_the_side_images(model):
    import json

    import numpy as np

    from tools.synth.frontal import make_front_sample
    from tools.synth.generate import make_sample

    a = make_front_sample(model, 9, 1, "front", (270, 480))
    b = make_front_sample(model, 9, 1, "front", (270, 480))
    assert json.dumps(a.label, sort_keys=True) == json.dumps(b.label, sort_keys=True)
    assert np.abs(a.image.astype(int) - b.image.astype(int)).max() <= 1
    side = make_sample(model, 9, 1, (270, 480)).label
    assert side["params"]["shape"] != a.label["params"]["shape"]


def test_front_view_arms_hang_outside_the_hips(model):
    """Hanging arms are abducted away from the body in front/back views (the side view's
    legacy rotation turns them inward, in front of the hips, where they would hide the
    pelvis from the front)."""
    from tools.synth.body import BodyShape
    from tools.synth.frontal_pose import FrontalPose
    from tools.synth.pose import PoseParams, pose_body

    body = model.build(BodyShape())
    for abduction in (4.0, 14.0):
        posed = pose_body(body, PoseParams(arm_abduction=abduction, elbow_flexion=0.0),
                          frontal=FrontalPose())
        j = posed.joints
        for side, sign in (("L", 1.0), ("R", -1.0)):
            shoulder = sign * j[body.bone(f"upperarm01.{side}")][0]
            wrist = sign * j[body.bone(f"wrist.{side}")][0]
            assert wrist > shoulder > sign * j[body.bone(f"upperleg01.{side}")][0]
