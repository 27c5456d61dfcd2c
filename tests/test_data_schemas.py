"""The data files' schemas (posture/schemas.py, posture/plan/schemas.py, thresholds in
posture/config.py), through the real loaders.

Each test copies ``posture/data`` to a temporary folder, points the loaders at it, breaks
one value and calls the loader its callers use. A broken file must raise
``DataFileError`` (code ``invalid_data_file``, exit code 5) whose message names the file
and the path inside it; a loader that skipped validation would return (or fail with a
KeyError / TypeError) instead, and these tests fail.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import yaml

import posture.config as config
from posture import change, classify, estimator, palpation, typical, view_kind
from posture.errors import DataFileError
from posture.plan import catalogue, screening
from posture.store import accounts

DATA = Path(config.__file__).resolve().parent / "data"
YAML_FILES = ("thresholds.yaml", "bands.yaml", "typical_ranges.yaml", "palpation.yaml",
              "change.yaml", "accounts.yaml", "exercises.yaml", "plan_rules.yaml",
              "red_flags.yaml", "view_kind.yaml")

#: Every cached loader of a data file (cleared so each test reads its own copy).
CACHED = (config.thresholds, classify._bands_file, classify.bands, typical._ranges_file,
          typical.typical_ranges, palpation._data, palpation.bone_offset_law,
          palpation.instruments, palpation._halfwidth, change._data, change.retake_figures,
          accounts.rules, catalogue._default_catalogue, catalogue._default_rules,
          catalogue.load_safety, estimator.load_estimator, view_kind.view_kind_thresholds)


def _clear() -> None:
    for f in CACHED:
        f.cache_clear()


def _point_at(mp: pytest.MonkeyPatch, folder: Path) -> None:
    """Make every loader read its packaged file from ``folder``."""
    mp.setattr(config, "data_path", lambda name: folder / name)
    mp.setattr(estimator, "data_path", lambda name: folder / name)
    mp.setattr(catalogue, "CATALOGUE_PATH", folder / "exercises.yaml")
    mp.setattr(catalogue, "RULES_PATH", folder / "plan_rules.yaml")
    mp.setattr(catalogue, "SAFETY_PATH", folder / "red_flags.yaml")
    mp.setattr(catalogue, "IMAGE_DIR", folder / "exercises")
    _clear()


@pytest.fixture
def data_dir(tmp_path, monkeypatch) -> Path:
    """A copy of posture/data that every loader reads instead of the packaged one."""
    for name in YAML_FILES:
        shutil.copy(DATA / name, tmp_path / name)
    shutil.copytree(DATA / "exercises", tmp_path / "exercises")
    shutil.copy(DATA / "estimator.json", tmp_path / "estimator.json")
    patchnet = json.loads((DATA / "estimator.json").read_text(encoding="utf-8"))["patchnet"]
    (tmp_path / patchnet).symlink_to(DATA / patchnet)  # 3 MB, never edited here
    _point_at(monkeypatch, tmp_path)
    yield tmp_path
    _clear()


def _edit(folder: Path, name: str, change_it: Callable[[dict], object]) -> None:
    path = folder / name
    if name.endswith(".json"):
        data = json.loads(path.read_text(encoding="utf-8"))
        change_it(data)
        path.write_text(json.dumps(data), "utf-8")
        return
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change_it(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), "utf-8")


def _set(*path_and_value):
    """``_set("bands", 2, "upper_deg", "x")``: a change that sets one nested value."""
    *path, key, value = path_and_value

    def change_it(data):
        for p in path:
            data = data[p]
        data[key] = value
    return change_it


def _drop(*path):
    def change_it(data):
        for p in path[:-1]:
            data = data[p]
        del data[path[-1]]
    return change_it


def _load_all() -> dict[str, object]:
    """Each file through the loader its callers use."""
    return {
        "thresholds.yaml": config.thresholds(),
        "bands.yaml": (classify.bands(), classify.bands_disclaimer(),
                       classify.ambiguous_margin()),
        "typical_ranges.yaml": (typical.typical_ranges(), typical.typical_note()),
        "palpation.yaml": (palpation.bone_offset_law(), palpation.instruments()),
        "change.yaml": (change.retake_figures(),
                        [change._words(k) for k in ("real", "noise", "not_applicable")]),
        "accounts.yaml": accounts.rules(),
        "exercises.yaml": catalogue.load_catalogue(),
        "plan_rules.yaml": catalogue.load_rules(),
        "red_flags.yaml": (catalogue.load_safety(), screening.red_flag_questions()),
        "view_kind.yaml": view_kind.view_kind_thresholds(),
    }


LOADERS: dict[str, Callable[[], object]] = {
    "thresholds.yaml": config.thresholds,
    "bands.yaml": classify.bands,
    "typical_ranges.yaml": typical.typical_ranges,
    "palpation.yaml": palpation.instruments,
    "change.yaml": change.retake_figures,
    "accounts.yaml": accounts.rules,
    "exercises.yaml": catalogue.load_catalogue,
    "plan_rules.yaml": catalogue.load_rules,
    "red_flags.yaml": screening.red_flag_questions,
    "estimator.json": estimator.load_estimator,
    "view_kind.yaml": view_kind.view_kind_thresholds,
}


def _error(name: str) -> DataFileError:
    with pytest.raises(DataFileError) as err:
        LOADERS[name]()
    return err.value


# --------------------------------------------------------------------------- valid copies


def test_valid_copies_load_with_the_packaged_values(data_dir):
    copied = _load_all()
    assert classify.bands.cache_info().currsize == 1  # cached as before
    with pytest.MonkeyPatch.context() as mp:
        _point_at(mp, DATA)
        packaged = _load_all()
    _clear()
    assert set(copied) == set(YAML_FILES)
    for name in YAML_FILES:
        if name == "exercises.yaml":  # the pictures' paths differ by folder only
            a, b = copied[name], packaged[name]
            assert (a.version, a.sources, list(a.exercises)) == \
                (b.version, b.sources, list(b.exercises))
            for ea, eb in zip(a.exercises.values(), b.exercises.values(), strict=True):
                assert ea.image_path == data_dir / "exercises" / eb.image_path.name
                assert ea.__dict__ | {"image_path": None} == eb.__dict__ | {"image_path": None}
        else:
            assert copied[name] == packaged[name], name


def test_a_valid_estimator_copy_loads_the_packaged_model(data_dir):
    copied = estimator.load_estimator()
    with pytest.MonkeyPatch.context() as mp:
        _point_at(mp, DATA)
        packaged = estimator.load_estimator()
    _clear()
    assert copied is not packaged and copied.patchnet is not None
    assert (copied.interval_halfwidth, copied.typical_error, copied.meta, copied.blend,
            copied.interval_bins) == (packaged.interval_halfwidth, packaged.typical_error,
                                      packaged.meta, packaged.blend, packaged.interval_bins)
    x = np.linspace(-1.0, 1.0, packaged.regressor.mean.shape[0])
    assert np.array_equal(copied.regressor.predict(x), packaged.regressor.predict(x))


def test_yaml_edits_round_trip(data_dir):
    """The helper rewrites a file without changing what it holds (so every break below
    is the one change it makes)."""
    for name in YAML_FILES:
        before = yaml.safe_load((data_dir / name).read_text(encoding="utf-8"))
        _edit(data_dir, name, lambda d: None)
        assert yaml.safe_load((data_dir / name).read_text(encoding="utf-8")) == before
    _load_all()


# --------------------------------------------------------------------------- broken copies

BROKEN = [
    # thresholds.yaml
    ("thresholds.yaml", _set("view", "max_frontal_ratio", "0.45"),
     "view.max_frontal_ratio: Input should be a valid number (got '0.45')"),
    ("thresholds.yaml", _set("knee", "hyperextension_above_deg", True),
     "knee.hyperextension_above_deg: Input should be a valid number (got True)"),
    ("thresholds.yaml", _drop("partial", "interval_scale"),
     "partial.interval_scale: Field required"),
    ("thresholds.yaml", _drop("capture"), "capture: Field required"),
    ("thresholds.yaml", _set("estimate", "interval_coverage", 90),
     "estimate.interval_coverage: Input should be less than 1 (got 90)"),
    ("thresholds.yaml", _set("view", "min_visiblity", 0.3),
     "view.min_visiblity: Extra inputs are not permitted"),
    # bands.yaml
    ("bands.yaml", _set("bands", 2, "upper_deg", "twenty"),
     "bands[2].upper_deg: Input should be a valid number (got 'twenty')"),
    ("bands.yaml", _set("bands", 2, "upper_deg", 10.0),
     "bands[2].upper_deg: must be above the previous band's upper_deg (15)"),
    ("bands.yaml", _set("bands", 1, "upper_deg", -3.0),
     "bands[1].upper_deg: must be above the previous band's upper_deg (0)"),
    ("bands.yaml", _set("bands", 4, "upper_deg", 40.0),
     "bands[4].upper_deg: the last band must have upper_deg: null"),
    ("bands.yaml", _set("bands", 1, "upper_deg", None),
     "bands[1].upper_deg: only the last band may be open (null)"),
    ("bands.yaml", _set("bands", 1, "upper_deg", float("inf")),
     "bands[1].upper_deg: must be above the previous band's upper_deg (0)"),
    ("bands.yaml", _drop("bands", 3, "id"), "bands[3].id: Field required"),
    ("bands.yaml", _drop("bands", 0, "upper_deg"), "bands[0].upper_deg: Field required"),
    ("bands.yaml", _set("bands", 3, "id", "marked"), "bands: band ids must be ['posterior'"),
    ("bands.yaml", _set("bands", []), "bands: List should have at least 1 item"),
    ("bands.yaml", _set("ambiguous_within", 2), "ambiguous_within: Input should be less than 1"),
    # typical_ranges.yaml
    ("typical_ranges.yaml", _set("ranges", "knee_angle_deg", "range", [5.0, -5.0]),
     "ranges.knee_angle_deg.range: low (5) must be below high (-5)"),
    ("typical_ranges.yaml", _set("ranges", "knee_angle_deg", "range", [None, None]),
     "ranges.knee_angle_deg.range: needs at least one bound"),
    ("typical_ranges.yaml", _set("ranges", "trunk_lean_deg", "range", [5.0]),
     "ranges.trunk_lean_deg.range: List should have at least 2 items"),
    ("typical_ranges.yaml", _set("ranges", "trunk_lean_deg", "range", [-5, "5"]),
     "ranges.trunk_lean_deg.range[1]: Input should be a valid number (got '5')"),
    ("typical_ranges.yaml", _set("ranges", "head_neck_angle_deg", "sources", []),
     "ranges.head_neck_angle_deg.sources: List should have at least 1 item"),
    ("typical_ranges.yaml", _drop("ranges", "knee_angle_deg", "range"),
     "ranges.knee_angle_deg.range: Field required"),
    # palpation.yaml
    ("palpation.yaml", _set("bone_offset", "sd_deg", -5.0),
     "bone_offset.sd_deg: Input should be greater than 0 (got -5.0)"),
    ("palpation.yaml", _drop("instruments", "inclinometer", "source"),
     "instruments.inclinometer.source: Field required"),
    ("palpation.yaml", _set("instruments", "palpation_meter", "sem_deg", "1.1"),
     "instruments.palpation_meter.sem_deg: Input should be a valid number (got '1.1')"),
    ("palpation.yaml", _set("instruments", {}),
     "instruments: Dictionary should have at least 1 item"),
    # change.yaml
    ("change.yaml", _set("metrics", "pelvic_tilt", "method", "guessed"),
     "metrics.pelvic_tilt.method: must be one of ['clinician-placed', 'estimated', "
     "'from landmarks'], got 'guessed'"),
    ("change.yaml", _set("metrics", "knee_angle", "mdc95_deg", 0),
     "metrics.knee_angle.mdc95_deg: Input should be greater than 0 (got 0)"),
    ("change.yaml", _drop("words", "real"), "words.real: Field required"),
    ("change.yaml", _set("words", "noise", "  "), "words.noise: must not be empty"),
    ("change.yaml", _set("metrics", "trunk_lean", "measured", "no"),
     "metrics.trunk_lean.measured: Input should be a valid boolean (got 'no')"),
    # accounts.yaml
    ("accounts.yaml", _set("lockout_minutes", "15"),
     "lockout_minutes: Input should be a valid integer (got '15')"),
    ("accounts.yaml", _set("session_idle_minutes", 30.5),
     "session_idle_minutes: Input should be a valid integer (got 30.5)"),
    ("accounts.yaml", _set("roles", ["clinician", "superuser"]),
     "roles[1]: Input should be 'clinician' or 'admin' (got 'superuser')"),
    ("accounts.yaml", _set("warn_attempts_left", 5),
     "warn_attempts_left: must be below max_failed_logins"),
    ("accounts.yaml", _drop("max_failed_logins"), "max_failed_logins: Field required"),
    # exercises.yaml
    ("exercises.yaml", _set("exercises", 0, "dose", "default", "sets", "three"),
     "exercises[0].dose.default.sets: Input should be a valid integer (got 'three') "
     "(id 'half-kneeling-hip-flexor-stretch')"),
    ("exercises.yaml", _drop("exercises", 5, "name"), "exercises[5].name: Field required (id '"),
    ("exercises.yaml", _set("exercises", 1, "kind", "lifting"),
     "exercises[1].kind: Input should be 'stretch', 'mobility', 'activation', 'strength' or "
     "'habit' (got 'lifting')"),
    ("exercises.yaml", _set("exercises", 2, "image", "missing.png"),
     "exercises[2].image: no PNG file "),
    ("exercises.yaml", _set("exercises", 0, "avoid_whn", ["posterior"]),
     "exercises[0].avoid_whn: Extra inputs are not permitted"),
    ("exercises.yaml", _set("exercises", 3, "steps", []),
     "exercises[3].steps: List should have at least 1 item"),
    ("exercises.yaml", _set("exercises", 0, "dose", "default", "reps", 0),
     "exercises[0].dose.default.reps: Input should be greater than 0 (got 0)"),
    # plan_rules.yaml
    ("plan_rules.yaml", _set("profiles", "anterior", "items", 0, "id", "no-such-exercise"),
     "profiles.anterior.items[0].id: unknown exercise id 'no-such-exercise'"),
    ("plan_rules.yaml", _set("addons", "knee_hyperextension", "items", 1, "id", "handstand"),
     "addons.knee_hyperextension.items[1].id: unknown exercise id 'handstand'"),
    ("plan_rules.yaml", _set("thomas", "yes", "anterior", "emphasis", ["couch-stretch", "yoga"]),
     "thomas.yes.anterior.emphasis: unknown exercise id 'yoga'"),
    ("plan_rules.yaml", _set("profiles", "neutral", "items", 2, "priority", 0),
     "profiles.neutral.items[2].priority: Input should be greater than 0 (got 0)"),
    ("plan_rules.yaml", _set("profiles", "anterior", "items", 5, "severities", ["extreme"]),
     "profiles.anterior.items[5].severities[0]: Input should be 'posterior', 'neutral', "
     "'mild', 'moderate' or 'severe' (got 'extreme')"),
    ("plan_rules.yaml", _drop("addons", "forward_head", "finding"),
     "addons.forward_head.finding: Field required"),
    ("plan_rules.yaml", _set("profiles", "posterior", "items", 0, "id", "couch-stretch"),
     "profiles.posterior.items[0].id: exercise 'couch-stretch' must never be given to profile "
     "'posterior'"),
    ("plan_rules.yaml", _set("min_items", 5),
     "profiles.neutral.items: only 4 items for severity 'neutral'; need 5"),
    ("plan_rules.yaml", _set("kind_order", ["stretch", "mobility", "strength", "habit"]),
     "kind_order: must list each of ['stretch', 'mobility', 'activation', 'strength', 'habit']"),
    ("plan_rules.yaml", _drop("retake_default"), "retake_default: Field required"),
    # red_flags.yaml
    ("red_flags.yaml", _drop("screening", 3),
     "screening: must ask about each red flag once; no question for ['pain at night or at "
     "rest that does not ease']"),
    ("red_flags.yaml", _set("screening", 0, "why", ""), "screening[0].why: must not be empty"),
    ("red_flags.yaml", _set("thomas_test", "steps", "lie down"),
     "thomas_test.steps: Input should be a valid list (got 'lie down')"),
    ("red_flags.yaml", _drop("red_flags"), "red_flags: Field required"),
    ("red_flags.yaml", _set("screening", 1, "question", 7),
     "screening[1].question: Input should be a valid string (got 7)"),
    # view_kind.yaml
    ("view_kind.yaml", _set("view_kind", "min_order", True),
     "view_kind.min_order: Input should be a valid number (got True)"),
    ("view_kind.yaml", _set("view_kind", "min_square_width", 0.40),
     "view_kind.max_side_width: must be below min_square_width"),
    ("view_kind.yaml", _drop("view_kind", "max_axis_deg"),
     "view_kind.max_axis_deg: Field required"),
    # estimator.json
    ("estimator.json", _set("regressor", "mean", 3, "x"),
     "regressor.mean[3]: Input should be a valid number (got 'x')"),
    ("estimator.json", _drop("regressor", "scale"), "regressor.scale: Field required"),
    ("estimator.json", lambda d: d["regressor"]["scale"].pop(),
     "regressor.scale: has 221 values, mean has 222"),
    ("estimator.json", lambda d: d["regressor"]["layers"][0]["b"].append(0.0),
     "regressor.layers[0]: w rows and b must all have 2 values"),
    ("estimator.json", _set("regressor", "target_mean", [0.0]),
     "regressor.target_mean: needs one value per target (2), the last layer gives 2"),
    ("estimator.json", lambda d: d["interval_bins"]["halfwidth"]["pelvic_tilt_deg"].pop(),
     "interval_bins.halfwidth.pelvic_tilt_deg: needs len(edges) + 1 widths"),
    ("estimator.json", lambda d: d["interval_bins"]["edges"].reverse(),
     "interval_bins.edges: must rise"),
    ("estimator.json", _set("interval_halfwidth", "pelvic_tilt_deg", -1.0),
     "interval_halfwidth.pelvic_tilt_deg: Input should be greater than 0 (got -1.0)"),
    ("estimator.json", _set("blend", 1.5), "blend: Input should be less than or equal to 1"),
]


@pytest.mark.parametrize(("name", "break_it", "where"), BROKEN,
                         ids=[f"{b[0]}:{b[2][:40]}" for b in BROKEN])
def test_a_broken_file_names_the_file_and_the_path(data_dir, name, break_it, where):
    _edit(data_dir, name, break_it)
    err = _error(name)
    assert err.code == "invalid_data_file" and err.exit_code == 5
    assert err.message.startswith(f"{name}: {where}"), err.message


def test_every_file_has_broken_cases():
    assert {b[0] for b in BROKEN} == {*YAML_FILES, "estimator.json"}


def test_an_estimator_for_other_features_is_refused(data_dir):
    _edit(data_dir, "estimator.json", _set("feature_version", 1))
    err = _error("estimator.json")
    assert err.code == "invalid_data_file"
    assert err.message.startswith("estimator.json was fitted on feature version 1")


def test_the_error_is_ours_alone(data_dir):
    """No pydantic traceback or link: the ValidationError is not chained to the error."""
    _edit(data_dir, "bands.yaml", _set("bands", 2, "upper_deg", "twenty"))
    err = _error("bands.yaml")
    assert err.__cause__ is None and err.__suppress_context__
    assert "pydantic" not in err.message and "errors.pydantic.dev" not in err.message
    assert "\n" not in err.message


def test_several_errors_are_counted(data_dir):
    def wreck(d):
        for key in ("view", "partial", "estimate", "analysis", "head"):
            d[key] = "x"
    _edit(data_dir, "thresholds.yaml", wreck)
    msg = _error("thresholds.yaml").message
    assert msg.startswith("thresholds.yaml: view: Input should be a valid dictionary")
    assert msg.count("; ") == 2 and msg.endswith("(and 2 more)")


def test_a_file_that_is_not_a_mapping(data_dir):
    (data_dir / "bands.yaml").write_text("- just\n- a list\n", "utf-8")
    msg = _error("bands.yaml").message
    assert msg.startswith("bands.yaml: top level: Input should be a valid dictionary")


def test_an_unquoted_comma_in_a_flow_mapping_is_caught(data_dir):
    """YAML reads ``{reason: a stiff, rounded back}`` as two keys (the shipped rules had
    this: the reason read 'a stiff')."""
    path = data_dir / "plan_rules.yaml"
    text = path.read_text(encoding="utf-8")
    quoted = 'reason: "a stiff, rounded upper back pushes the head forward"'
    assert quoted in text
    path.write_text(text.replace(quoted, quoted.replace('"', "")), "utf-8")
    msg = _error("plan_rules.yaml").message
    assert msg.startswith("plan_rules.yaml: addons.forward_head.items[1].rounded upper back "
                          "pushes the head forward: Extra inputs are not permitted")


def test_the_shipped_rules_keep_whole_reasons():
    rules = catalogue.load_rules()
    items = rules["addons"]["forward_head"]["items"]
    assert [it["reason"] for it in items if it["id"] == "thoracic-extension"] == [
        "a stiff, rounded upper back pushes the head forward"]


def test_a_user_catalogue_path_is_named(tmp_path):
    """``load_catalogue(path)`` names the user's file, not the packaged one."""
    data = yaml.safe_load((DATA / "exercises.yaml").read_text(encoding="utf-8"))
    data["exercises"][0]["targets"] = "hips"
    path = tmp_path / "my-catalogue.yaml"
    path.write_text(yaml.safe_dump(data), "utf-8")
    with pytest.raises(DataFileError) as err:
        catalogue.load_catalogue(path, image_dir=DATA / "exercises")
    assert err.value.message.startswith(
        "my-catalogue.yaml: exercises[0].targets: Input should be a valid list (got 'hips')")


def test_the_cli_reports_a_broken_file_with_exit_code_5(data_dir, tmp_path, capsys):
    from posture.cli import main

    _edit(data_dir, "plan_rules.yaml",
          _set("profiles", "anterior", "items", 0, "id", "no-such-exercise"))
    result = tmp_path / "result.json"
    result.write_text('{"ok": true, "abstained": false, "abstain_reasons": [], '
                      '"pelvic_tilt_deg": 22.4, "severity": "severe"}', "utf-8")
    assert main(["plan", str(result)]) == 5
    err = capsys.readouterr().err
    assert err.strip() == ("error [invalid_data_file]: plan_rules.yaml: "
                           "profiles.anterior.items[0].id: unknown exercise id "
                           "'no-such-exercise'")
