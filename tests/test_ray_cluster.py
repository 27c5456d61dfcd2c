"""The cluster of ``docs/scaling.md``, for real: two Ray nodes (two raylets on this machine)
with token authentication, and ``posture batch --engine ray --address`` run against it
(issue 23 item 16: the documented open cluster could not even start with the pinned Ray,
whose nodes refuse one another without a token).

Each node is ``ray start ... --block`` in a session of its own, so that the test stops
exactly the processes it started (never ``ray stop``, which stops every Ray on the
machine). About 1.5 minutes on a loaded 2-core machine.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import IN_CI, require_or_skip

REPO = Path(__file__).resolve().parents[1]
SAMPLES = sorted((REPO / "samples").glob("*.jpg"))
RAY = Path(sys.executable).with_name("ray")

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _session_alive(sid: int) -> list[int]:
    pids = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                fields = (p / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[3]) == sid and fields[0] != "Z":
                pids.append(int(p.name))
    return pids


def _model_or_skip():
    from posture.errors import ModelError
    from posture.models import resolve_model

    try:
        resolve_model("full", progress=False)
    except ModelError as exc:
        require_or_skip(False, f"no pose model: {exc.message}")


def _batch(args: list[str], env: dict, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "posture.cli", "batch", *args], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=timeout)


def test_two_node_cluster_with_token_authentication_runs_a_batch(tmp_path):
    require_or_skip(RAY.is_file() or IN_CI, "ray is not installed (posture[cluster])")
    if not sys.platform.startswith("linux"):
        pytest.skip("reads /proc to stop exactly its own processes")
    _model_or_skip()
    # the token, as docs/scaling.md says: `ray get-auth-token --generate` (it writes
    # ~/.ray/auth_token: a home of its own here), then the same token on every node
    home = tmp_path / "home"
    home.mkdir()
    gen = subprocess.run([RAY, "get-auth-token", "--generate"], capture_output=True,
                         text=True, env={**os.environ, "HOME": str(home)}, timeout=120)
    token_file = home / ".ray" / "auth_token"
    assert gen.returncode == 0 and token_file.is_file(), gen.stderr
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("RAY_AUTH", "RAY_ADDRESS"))}
    env = {**clean, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(token_file)}

    port = _free_port()
    address = f"127.0.0.1:{port}"
    nodes: list[subprocess.Popen] = []

    def start_node(*extra: str) -> subprocess.Popen:
        # one CPU each; the per-node agent ports chosen here, or two nodes on one machine
        # would both take the defaults
        log = open(tmp_path / f"node{len(nodes)}.log", "w")  # noqa: SIM115 - lives with it
        p = subprocess.Popen(
            [RAY, "start", "--num-cpus", "1", "--disable-usage-stats",
             "--dashboard-agent-listen-port", str(_free_port()),
             "--metrics-export-port", str(_free_port()),
             "--runtime-env-agent-port", str(_free_port()), "--block", *extra],
            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        nodes.append(p)
        return p

    try:
        head = start_node("--head", "--port", str(port), "--include-dashboard", "false")
        deadline = time.time() + 300
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), 1).close()
                break
            except OSError:
                assert head.poll() is None, (tmp_path / "node0.log").read_text()[-2000:]
                assert time.time() < deadline, "the head did not open its port in 5 min"
                time.sleep(0.5)
        start_node("--address", address)
        wait = subprocess.run(
            [sys.executable, "-c",
             "import sys, time, ray\n"
             f"ray.init(address={address!r}, log_to_driver=False, logging_level='ERROR')\n"
             "end = time.time() + 300\n"
             "while len([n for n in ray.nodes() if n['Alive']]) < 2 and time.time() < end:\n"
             "    time.sleep(0.5)\n"
             "print(len([n for n in ray.nodes() if n['Alive']]), "
             "ray.cluster_resources().get('CPU'))\n"],
            env=env, capture_output=True, text=True, timeout=420)
        assert wait.stdout.split() == ["2", "2.0"], (wait.stdout, wait.stderr[-2000:],
                                                     (tmp_path / "node1.log").read_text())

        photos = tmp_path / "photos"
        photos.mkdir()
        for p in SAMPLES[:4]:
            shutil.copy(p, photos / p.name)
        out = tmp_path / "out.csv"
        r = _batch([str(photos), "--out", str(out), "--engine", "ray", "--workers", "auto",
                    "--address", address], env)
        assert r.returncode == 0, r.stderr[-3000:]
        assert "4 images in the output (4 analysed now" in r.stdout, r.stdout
        assert "0 errors" in r.stdout, r.stdout

        # without the token the cluster is closed: the driver is refused, with its code
        no_token = {**clean, "HOME": str(tmp_path / "no-home")}
        r = _batch([str(photos), "--out", str(tmp_path / "o2.csv"), "--engine", "ray",
                    "--address", address], no_token, timeout=300)
        assert r.returncode != 0 and "[engine_unavailable]" in r.stderr, r.stderr[-2000:]
        assert "RAY_AUTH_MODE=token" in r.stderr  # the error says what is missing
    finally:
        for p in nodes:  # `ray start --block` stops its node on SIGTERM
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except OSError:
                pass
        for p in nodes:
            try:
                p.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(10)
        # Ray's agents notice their raylet gone by themselves, within seconds
        deadline = time.time() + 60
        while any(_session_alive(p.pid) for p in nodes) and time.time() < deadline:
            time.sleep(0.5)
        left = [pid for p in nodes for pid in _session_alive(p.pid)]
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
    assert left == [], "processes of the test's Ray nodes outlived them"
