"""The architecture's rules (issue 27), checked from the source: layers one way, no
cycles, modules of one size, contract keys spelled in few places, docs that cite only
what the repository holds. The rules themselves live in ``tools/import_layers.py``."""

from __future__ import annotations

import ast
import importlib.util
import re
from pathlib import Path

import pytest

from tools import import_layers

ROOT = Path(__file__).resolve().parents[1]


def test_the_library_follows_its_import_rules():
    assert import_layers.problems() == []


def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


def test_the_checker_sees_an_upward_import_inside_a_function(tmp_path):
    root = _package(tmp_path, {
        "posture/__init__.py": "",
        "posture/metrics.py": "def f():\n    from .present import overlay\n",
        "posture/present/__init__.py": "",
        "posture/present/overlay.py": "",
    })
    found = import_layers.problems(root)
    assert any("posture.metrics (domain) imports posture.present.overlay" in p for p in found)


def test_the_checker_sees_a_cycle_and_ignores_type_only_imports(tmp_path):
    root = _package(tmp_path, {
        "posture/__init__.py": "",
        "posture/pose.py": "from . import horizon\n",
        "posture/horizon.py": "def f():\n    from .pose import x\n",
        "posture/metrics.py": "from typing import TYPE_CHECKING\n"
                              "if TYPE_CHECKING:\n    from .result import R\n",
        "posture/result.py": "from .metrics import M\n",
    })
    found = import_layers.problems(root)
    assert "import cycle: posture.horizon ↔ posture.pose" in found
    assert not any("metrics ↔" in p or "↔ posture.result" in p for p in found)


def test_the_checker_counts_lines_and_unplaced_modules(tmp_path):
    root = _package(tmp_path, {
        "posture/__init__.py": "",
        "posture/metrics.py": "x = 1\n" * (import_layers.MAX_LINES + 1),
        "posture/mystery.py": "",
    })
    found = import_layers.problems(root)
    assert f"posture.metrics: {import_layers.MAX_LINES + 1} lines (at most 450)" in found
    assert any(p.startswith("posture.mystery: in no layer") for p in found)


def _contract_keys() -> set[str]:
    from posture import contract

    # generic words (ok, view, model...) are also ordinary names; count the specific keys
    generic = {"ok", "source", "error", "model", "view", "notes", "measurements", "facing",
               "severity"}
    return set(contract._KNOWN) - generic


def _is_config_read(node: ast.Subscript) -> bool:
    """``thresholds()["estimate"]["interval_coverage"]`` (or via ``est = ...``) reads the
    data file's key of the same name, not a result's."""
    base = node.value
    return (isinstance(base, ast.Name) and base.id == "est") or (
        isinstance(base, ast.Subscript) and isinstance(base.slice, ast.Constant)
        and base.slice.value == "estimate")


def _keys_read(tree: ast.AST, keys: set[str]) -> set[str]:
    """Contract keys a module reads or writes as a mapping's keys: ``d["k"]``,
    ``d.get("k")``, ``{"k": ...}``."""
    out = set()
    for n in ast.walk(tree):
        if isinstance(n, ast.Subscript) and isinstance(n.slice, ast.Constant) \
                and n.slice.value in keys and not _is_config_read(n):
            out.add(n.slice.value)
        elif isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) \
                and n.func.attr in ("get", "pop", "setdefault") and n.args \
                and isinstance(n.args[0], ast.Constant) and n.args[0].value in keys:
            out.add(n.args[0].value)
        elif isinstance(n, ast.Dict):
            out |= {k.value for k in n.keys if isinstance(k, ast.Constant) and k.value in keys}
    return out


def test_contract_keys_are_spelled_in_at_most_four_modules():
    keys = _contract_keys()
    spelled = {}
    for base in ("posture", "posture_app", "pages"):
        for path in (ROOT / base).rglob("*.py"):
            found = _keys_read(ast.parse(path.read_text(encoding="utf-8")), keys)
            if found:
                spelled[str(path.relative_to(ROOT))] = sorted(found)
    assert "posture/contract.py" in spelled  # the check sees the codec itself
    assert len(spelled) <= 4, spelled


def _installed(path: str) -> bool:
    """A file of an installed dependency (``streamlit_webrtc/process.py``), not ours."""
    top = path.split("/")[0]
    return not (ROOT / top).exists() and importlib.util.find_spec(top) is not None


DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")),
        *sorted((ROOT / "samples").glob("*.md")), *sorted((ROOT / "bench").glob("*.md"))]


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_docs_cite_only_files_the_repository_holds(doc):
    text = doc.read_text(encoding="utf-8")
    missing = []
    for m in re.finditer(r"\]\(([^)#\s]+)", text):
        target = m.group(1)
        if not target.startswith(("http:", "https:", "mailto:")) \
                and not (doc.parent / target).exists():
            missing.append(target)
    for m in re.finditer(r"`((?:[\w.-]+/)+[\w.-]+\.(?:py|md|yaml|json|toml|onnx|npz))`", text):
        target = m.group(1)
        if target.startswith(("../shared/", "OUT_DIR/")) or _installed(target):
            continue  # the owners' folder beside the clone; a placeholder; a dependency
        if not ((ROOT / target).exists() or (doc.parent / target).exists()):
            missing.append(target)
    assert missing == []
