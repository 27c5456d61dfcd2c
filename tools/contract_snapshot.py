"""Snapshot what other tools read from posture, to prove a refactor changed nothing.

Writes, for a set of inputs, the output of ``posture analyze --json``, of ``posture plan
--json`` on it (both Thomas-test answers), the ``posture batch`` CSV and JSONL, and
compares two such snapshots key by key (keys added later are reported, not failures).

Usage::

    python -m tools.contract_snapshot write OUT_DIR [INPUT ...]
    python -m tools.contract_snapshot compare BEFORE_DIR AFTER_DIR

Default inputs: the samples, the owners' real photos (``../shared/photos``), their mirror
images and a cut-off copy (made in a scratch folder, never next to the inputs).
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRATCH = "SCRATCH"
#: the scratch path of the first snapshots (a fixed folder), read as SCRATCH
_OLD_SCRATCH = str(Path(tempfile.gettempdir()) / "posture-contract-snapshot")


def _read(path: Path) -> str:
    return path.read_text().replace(_OLD_SCRATCH, SCRATCH)


def _default_inputs(scratch: Path) -> list[Path]:
    from PIL import Image, ImageOps

    inputs = sorted((ROOT / "samples").glob("*.jpg"))
    shared = ROOT.parent / "shared" / "photos"
    for photo in sorted(shared.glob("*.jpg"))[:8]:
        inputs.append(photo)
    for photo in sorted(shared.glob("*.jpg"))[:3]:
        with Image.open(photo) as im:
            im = ImageOps.exif_transpose(im)
            mirror = scratch / f"mirror_{photo.name}"
            ImageOps.mirror(im).save(mirror, quality=95)
            cut = scratch / f"cut_{photo.name}"
            w, h = im.size
            im.crop((0, 0, w, int(h * 0.8))).save(cut, quality=95)
        inputs += [mirror, cut]
    return inputs


def _run(args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "posture.cli", *args],
                          capture_output=True, text=True, cwd=ROOT)


def write(out: Path, inputs: list[Path]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    # a private scratch folder (two snapshots may run at once); its path is replaced by
    # SCRATCH in the outputs so that two snapshots compare equal
    scratch = Path(tempfile.mkdtemp(prefix="posture-contract-snapshot-"))
    try:
        if not inputs:
            inputs = _default_inputs(scratch)
        batch_dir = scratch / "batch_in"
        batch_dir.mkdir()
        for i, path in enumerate(inputs):
            name = f"{i:02d}_{path.stem}"
            res = _run(["analyze", str(path), "--json"])
            (out / f"{name}.analyze.json").write_text(res.stdout)
            (out / f"{name}.analyze.rc").write_text(f"{res.returncode}\n{res.stderr[-2000:]}")
            if res.returncode == 0:
                saved = scratch / f"{name}.json"
                saved.write_text(res.stdout)
                for thomas in ("yes", "no"):
                    plan = _run(["plan", str(saved), "--json", "--thomas", thomas])
                    (out / f"{name}.plan_{thomas}.json").write_text(plan.stdout)
            shutil.copy(path, batch_dir / f"{name}{path.suffix}")
        res = _run(["batch", str(batch_dir), "--out", str(scratch / "rows.csv"),
                    "--jsonl", str(scratch / "rows.jsonl")])
        (out / "batch.rc").write_text(f"{res.returncode}\n{res.stderr[-2000:]}")
        shutil.copy(scratch / "rows.csv", out / "batch.csv")
        shutil.copy(scratch / "rows.jsonl", out / "batch.jsonl")
        for written in out.iterdir():
            written.write_text(written.read_text().replace(str(scratch), SCRATCH))
        print(f"wrote {len(inputs)} inputs to {out}")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _compare_value(a, b, path: str, diffs: list[str], added: list[str]) -> None:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in a:
            if key not in b:
                diffs.append(f"{path}.{key}: removed")
            else:
                _compare_value(a[key], b[key], f"{path}.{key}", diffs, added)
        added += [f"{path}.{key}" for key in b if key not in a]
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _compare_value(x, y, f"{path}[{i}]", diffs, added)
    elif a != b:
        diffs.append(f"{path}: {a!r} -> {b!r}")


def compare(before: Path, after: Path) -> int:
    diffs: list[str] = []
    added: list[str] = []
    for old in sorted(before.iterdir()):
        new = after / old.name
        if not new.exists():
            diffs.append(f"{old.name}: missing")
            continue
        if old.suffix == ".json" or old.suffix == ".jsonl":
            lines_a = [json.loads(x) for x in _read(old).splitlines() if x.strip()]
            lines_b = [json.loads(x) for x in _read(new).splitlines() if x.strip()]
            if len(lines_a) != len(lines_b):
                diffs.append(f"{old.name}: {len(lines_a)} -> {len(lines_b)} records")
            for a, b in zip(lines_a, lines_b, strict=False):
                _compare_value(a, b, old.name, diffs, added)
        elif old.suffix == ".csv":
            ra = list(csv.DictReader(io.StringIO(_read(old))))
            rb = list(csv.DictReader(io.StringIO(_read(new))))
            for a, b in zip(sorted(ra, key=lambda r: r.get("file", "")),
                            sorted(rb, key=lambda r: r.get("file", "")), strict=False):
                _compare_value(a, b, old.name, diffs, added)
            if len(ra) != len(rb):
                diffs.append(f"{old.name}: {len(ra)} -> {len(rb)} rows")
        elif old.read_text().splitlines()[:1] != new.read_text().splitlines()[:1]:
            before_rc, after_rc = old.read_text()[:3], new.read_text()[:3]
            diffs.append(f"{old.name}: exit status {before_rc!r} -> {after_rc!r}")
    for line in sorted(set(added)):
        print("added", line)
    for line in diffs:
        print("DIFF", line)
    print(f"{len(diffs)} differences, {len(set(added))} added keys")
    return 1 if diffs else 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["write"]:
        write(Path(sys.argv[2]), [Path(p) for p in sys.argv[3:]])
    elif sys.argv[1:2] == ["compare"]:
        sys.exit(compare(Path(sys.argv[2]), Path(sys.argv[3])))
    else:
        sys.exit(__doc__)
