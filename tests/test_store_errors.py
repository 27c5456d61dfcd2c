"""Where the database cannot be: coded store errors, never ``error [internal]`` (issue 23
item 12): a folder that cannot be made, the process' file-size limit, ``:memory:``, a URL
with no driver."""

from __future__ import annotations

import subprocess
import sys

import pytest

from posture.cli import main
from posture.store import StoreError, open_store


@pytest.mark.parametrize("where", ["/proc/nope/x.db", "/dev/null/x.db",
                                   "postgresql+nodriver://u@/db", "nosuch://x"])
def test_unusable_location_is_a_coded_error(where, capsys):
    code = main(["users", "list", "--db", where])
    err = capsys.readouterr().err
    assert code == 7 and err.startswith("error [database_unavailable]"), err
    assert "internal" not in err


def test_missing_postgres_driver_names_the_extra(capsys):
    main(["audit", "export", "--db", "postgresql+nosuchdriver://u@/db"])
    assert "pip install 'posture[postgres]'" in capsys.readouterr().err


def test_memory_location_is_refused_by_the_cli_and_creates_no_file(tmp_path, monkeypatch,
                                                                   capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("POSTURE_DB", ":memory:")
    code = main(["users", "list"])
    err = capsys.readouterr().err
    assert code == 7 and "error [database_unavailable]" in err and "memory" in err
    monkeypatch.delenv("POSTURE_DB")
    code = main(["audit", "export", "--db", ":memory:"])
    assert code == 7 and "memory" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []  # no file named ':memory:'


def test_memory_location_is_in_memory_for_the_library(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with open_store(":memory:") as s:
        assert s.add_patient("MEM-1").id == 1
        assert s.find_patient("MEM-1").id == 1
    assert list(tmp_path.iterdir()) == []


_FSIZE = r"""
import resource, sys
from posture.store import StoreError, open_store
s = open_store(sys.argv[1])
p = s.add_patient("BIG")
resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, resource.RLIM_INFINITY))  # ulimit -f 1024
try:
    s.save_assessment(p.id, {"ok": True, "abstained": True},
                      photo_jpeg=b"\xff\xd8\xff" + bytes(4 << 20), photo_consent=True)
except StoreError as err:
    print(err.code)
    print(err.message)
"""


def test_file_size_limit_is_storage_full(tmp_path):
    """``ulimit -f``: the write fails with EFBIG (Python ignores SIGXFSZ), which SQLite
    reports as a write I/O error; before, that was ``database_unavailable``."""
    r = subprocess.run([sys.executable, "-c", _FSIZE, str(tmp_path / "c.db")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    code, message = r.stdout.splitlines()[:2]
    assert code == "storage_full", r.stdout
    assert "ulimit -f" in message and "nothing was saved" in message
    with open_store(tmp_path / "c.db") as s:  # and nothing half-saved
        assert s.list_assessments(s.find_patient("BIG").id) == []


def test_store_error_codes_are_documented():
    from posture.errors import StoreError as Doc

    for code in ("user_not_found", "password_too_long", "audit_chain_broken"):
        assert code in Doc.__doc__
    assert issubclass(StoreError, Doc)


def test_postgres_extra_installs_the_driver():
    """Issue 23 item 13: ``pip install 'posture[postgres]'`` brings psycopg, the driver
    of the README's ``postgresql+psycopg://`` URL, at a version the tests ran."""
    import re
    import tomllib
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    extras = tomllib.loads((root / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]
    (spec,) = extras["postgres"]
    low = re.fullmatch(r"psycopg\[binary\]>=(\d+)\.(\d+)", spec)
    assert low, spec
    pin = re.search(r"^psycopg\[binary\]==(\d+)\.(\d+)", (root / "requirements-dev.txt")
                    .read_text(), re.M)
    assert pin and tuple(map(int, pin.groups())) >= tuple(map(int, low.groups()))
    assert "posture[postgres]" in (root / "README.md").read_text()
