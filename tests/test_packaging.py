"""Package metadata builds without setuptools' deprecation warnings (issue 22 item 16)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_license_is_an_spdx_string_with_its_file():
    """``project.license`` as a TOML table is deprecated (setuptools >= 77 warns on every
    build); an SPDX string with ``license-files`` needs setuptools >= 77 to build."""
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    project = meta["project"]
    assert project["license"] == "Apache-2.0"
    assert project["license-files"] and all((ROOT / f).is_file()
                                            for f in project["license-files"])
    assert "Apache License" in (ROOT / "LICENSE").read_text(encoding="utf-8")[:200]
    [req] = [r for r in meta["build-system"]["requires"] if r.startswith("setuptools")]
    m = re.fullmatch(r"setuptools>=(\d+)(\.\d+)*", req)
    assert m and int(m.group(1)) >= 77, req
