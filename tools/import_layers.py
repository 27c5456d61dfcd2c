"""The import rules of the library, checked from the source (issue 27).

Data flows one way: base ← domain ← plan ← store ← present ← edges. A module may import
modules of its own layer and of the layers before it, never one after. Every import
counts, the ones inside functions included (half the graph used to hide there); imports
under ``if TYPE_CHECKING:`` count for the layers but not for cycles, since they never run.
Modules import each other without cycles, and no library module is longer than
``MAX_LINES``.

Run ``python -m tools.import_layers`` to print every broken rule (exit status 1 if any);
``tests/test_architecture.py`` asserts there are none. ``docs/ARCHITECTURE.md`` draws
the layers.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAX_LINES = 450

#: Layers in order; a module matches the first pattern that fits its dotted name.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("base", ("posture.errors", "posture.config", "posture.threads", "posture.outputs",
              "posture._tflite_metadata", "posture.models", "posture.models.*")),
    ("domain", ("posture.images*", "posture.pose", "posture.horizon", "posture.sagittal*",
                "posture.views", "posture.views.*", "posture.view_gate", "posture.normal",
                "posture.frontal*", "posture.view_kind", "posture.front_view",
                "posture.estimator*", "posture.metrics", "posture.measures*",
                "posture.classify", "posture.result", "posture.result.*",
                "posture.contract*", "posture.reasons", "posture.analysis", "posture.palpation",
                "posture.change", "posture.typical", "posture.capture", "posture.autocapture",
                "posture.agreement", "posture.validate", "posture.correction",
                "posture.csvcells", "posture.schemas", "posture.schemas.*")),
    ("plan", ("posture.plan", "posture.plan.*")),
    ("store", ("posture.store", "posture.store.*")),
    ("present", ("posture.present", "posture.present.*")),
    ("edges", ("posture", "posture.safe", "posture.batch", "posture.batch.*",
               "posture.engines", "posture.engines.*", "posture.cli*",
               "posture_app", "posture_app.*", "pages.*", "app")),
)


@dataclass(frozen=True)
class Import:
    importer: str
    imported: str
    line: int
    type_only: bool


def module_files(root: Path = ROOT) -> dict[str, Path]:
    """Dotted name → file for the library, the app and its pages."""
    out = {}
    for base in ("posture", "posture_app", "pages"):
        for path in sorted((root / base).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = path
    if (root / "app.py").exists():
        out["app"] = root / "app.py"
    return out


def layer_of(name: str) -> int | None:
    for i, (_, patterns) in enumerate(LAYERS):
        if any(fnmatch(name, p) for p in patterns):
            return i
    return None


def _type_checking_lines(tree: ast.AST) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                for sub in ast.walk(child):
                    if hasattr(sub, "lineno"):
                        lines.add(sub.lineno)
    return lines


def imports(mods: dict[str, Path]) -> list[Import]:
    """Every import of an internal module, at any depth of the file."""
    found = []
    for name, path in mods.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        typing_only = _type_checking_lines(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                targets = [f"{target}.{a.name}" for a in node.names
                           if f"{target}.{a.name}" in mods] or [target]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                continue
            for target in targets:
                while target not in mods and "." in target:
                    target = target.rpartition(".")[0]
                if target in mods and target != name:
                    found.append(Import(name, target, node.lineno,
                                        node.lineno in typing_only))
    return found


def cycles(edges: list[Import]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan), run-time imports only."""
    graph: dict[str, set[str]] = {}
    for e in edges:
        if not e.type_only and not e.importer.startswith(("pages", "app")):
            graph.setdefault(e.importer, set()).add(e.imported)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return groups


def problems(root: Path = ROOT) -> list[str]:
    """Every broken rule, one line each."""
    mods = module_files(root)
    edges = imports(mods)
    out = []
    for name in sorted(mods):
        if layer_of(name) is None:
            out.append(f"{name}: in no layer (add it to tools/import_layers.LAYERS)")
    for e in edges:
        a, b = layer_of(e.importer), layer_of(e.imported)
        if a is not None and b is not None and b > a:
            out.append(f"{e.importer} ({LAYERS[a][0]}) imports {e.imported} "
                       f"({LAYERS[b][0]}) at line {e.line}")
    out += [f"import cycle: {' ↔ '.join(g)}" for g in cycles(edges)]
    for name, path in sorted(mods.items()):
        if name.startswith("posture.") or name == "posture":
            n = len(path.read_text(encoding="utf-8").splitlines())
            if n > MAX_LINES:
                out.append(f"{name}: {n} lines (at most {MAX_LINES})")
    return out


if __name__ == "__main__":
    found = problems()
    print("\n".join(found) or "no broken import rule")
    sys.exit(1 if found else 0)
