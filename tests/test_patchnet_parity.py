"""The patch network's runtime (onnxruntime on the shipped ONNX graph) against PyTorch, the
training framework that defines the network (tools/train_patchnet.py), and against the
hand-written NumPy network it replaced (issue 26).

PyTorch is a development requirement (tools/synth/requirements.txt), which ``.ci/run``
installs: under CI the PyTorch tests run (conftest turns a skip into a failure).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from posture.estimator import PATCH_PX, load_estimator, network_input

ROOT = Path(__file__).resolve().parents[1]
WEIGHTS = ROOT / "posture" / "data" / "estimator_patchnet.npz"
#: Patches of the first 6 samples/*.jpg as `posture analyze` cuts them (2 views × 9 shifts
#: each, 108 in all), and each network's output from the former NumPy path (commit
#: b2b6725's PatchNet.forward), degrees, (108, 3 members, 2 targets).
OLD_NUMPY = Path(__file__).parent / "data" / "patchnet_parity_samples.npz"


def _fixed_inputs(mask_blur_px: float) -> np.ndarray:
    """Network input (N, 2, 64, 64): the samples' patches, noise, a blank and a full patch."""
    with np.load(OLD_NUMPY) as z:
        patches = z["patches"]
    rng = np.random.default_rng(26)
    noise = rng.integers(0, 256, (8, 2, PATCH_PX, PATCH_PX)).astype(np.uint8)
    edge = np.zeros((2, 2, PATCH_PX, PATCH_PX), np.uint8)
    edge[1] = 255
    return network_input(np.concatenate([patches, noise, edge]), mask_blur_px)


def _train_patchnet():
    pytest.importorskip("torch")
    sys.path.insert(0, str(ROOT))
    from tools import train_patchnet

    return train_patchnet


def test_runtime_equals_pytorch_on_fixed_inputs():
    """The shipped graph, run by the library, gives what the training code's network with
    the shipped weights gives: every member, every target, to 1e-4 degrees."""
    tp = _train_patchnet()
    members, blur = tp.load_members(WEIGHTS)
    net = load_estimator().patchnet
    assert net.mask_blur_px == blur and net.n_members == len(members)
    assert net.targets == tp.TARGETS
    x = _fixed_inputs(blur)
    ref = tp.torch_degrees(members, x)
    got = net.forward(x)
    assert got.shape == ref.shape == (len(x), len(members), 2)
    assert np.abs(got - ref).max() < 1e-4
    # the answers span degrees, so agreeing to 1e-4 is not agreeing on a constant
    assert np.ptp(ref[:, :, 0]) > 5.0


def test_runtime_equals_the_former_numpy_network_on_the_samples_patches():
    with np.load(OLD_NUMPY) as z:
        patches, old = z["patches"], z["numpy_deg"]
    net = load_estimator().patchnet
    got = net.forward(network_input(patches, net.mask_blur_px))
    assert got.shape == old.shape
    assert np.abs(got - old).max() < 1e-4
    # the ensemble mean, as the estimator uses it; one patch at a time as in a batch
    assert np.abs(net.predict(patches) - old.mean(axis=1)).max() < 1e-4
    assert np.abs(net.predict(patches[5]) - old[5].mean(axis=0)).max() < 1e-4


def test_session_runs_on_one_thread_without_spinning():
    """onnxruntime's idle pool threads spin between calls and take CPU from MediaPipe."""
    net = load_estimator().patchnet
    opts = net._session.get_session_options()
    assert opts.intra_op_num_threads == 1 and opts.inter_op_num_threads == 1
    assert opts.get_session_config_entry("session.intra_op.allow_spinning") == "0"


def test_the_library_runs_the_network_without_pytorch():
    code = ("import sys, numpy as np\n"
            "from posture.estimator import load_estimator\n"
            "net = load_estimator().patchnet\n"
            "net.predict(np.zeros((9, 2, 64, 64), np.uint8))\n"
            "assert 'torch' not in sys.modules, 'the library imported torch'\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


@pytest.mark.slow
def test_export_round_trip(tmp_path):
    """tools/train_patchnet.py writes a graph that the library reads as PyTorch computes it,
    for any batch size (a photo's 54 patch passes go in one call)."""
    tp = _train_patchnet()
    pytest.importorskip("onnxscript")
    from posture.estimator import load_patchnet

    members, blur = tp.load_members(WEIGHTS)
    path = tmp_path / "net.onnx"
    tp.write_onnx(members[:2], path, blur)  # a two-member ensemble: not the shipped graph
    net = load_patchnet(path)
    assert net.n_members == 2 and net.mask_blur_px == blur
    x = _fixed_inputs(blur)
    for n in (1, 7, 54):
        assert np.abs(net.forward(x[:n]) - tp.torch_degrees(members[:2], x[:n])).max() < 1e-4


def test_a_damaged_graph_is_a_value_error():
    """load_estimator turns ValueError into a DataFileError with a stable code."""
    from posture.estimator import load_patchnet

    good = (ROOT / "posture" / "data" / "estimator_patchnet.onnx").read_bytes()
    for bad in (b"not a graph", good[: len(good) // 2]):
        with pytest.raises(ValueError):
            load_patchnet(bad)
