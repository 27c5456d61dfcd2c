"""The pelvis-patch networks, run from their exported ONNX graph by onnxruntime, and the
preparation of their input (:func:`network_input`).

The architecture and the weights are defined and trained in ``tools/train_patchnet.py``
(PyTorch), which exports one graph holding every ensemble member: input ``patches``
(N, 2, 64, 64) float, output ``degrees`` (N, members, targets). The library has no copy of
the architecture: it gives the graph its input and averages what comes out.

Why onnxruntime and not OpenCV's DNN module (already a dependency), measured with
``bench/speed.py --only network`` on the same graph, one thread each (2026-12-06, a loaded
2-core machine, three runs): a photo's 54 passes (3 members × 9 shifts × 2 views) took
66–76 ms of CPU in onnxruntime and 85–102 ms in OpenCV DNN. onnxruntime's thread count is
set per session, where OpenCV's ``setNumThreads`` is process-wide (it would also change
the threads of every resize and warp, and OpenCV DNN on 2 threads took 112 ms); one
session may be run from several threads at once (the app's analyzers share the cached
estimator; an OpenCV ``Net`` may not); and it reads the graph's metadata (the mask blur),
so the ``.onnx`` file is all that ships. The cost: memory. onnxruntime's library and
session add ~40 MB to a process (OpenCV DNN ~10 MB): the peak RSS of ``posture analyze``
on a 12 MP photo went from 397 to 438 MB (README, Speed).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

import numpy as np

#: The session's threads. The graph is small (tens of MFLOP a patch): one thread does it
#: in a few ms, more threads gain little and cost CPU beside MediaPipe's own. onnxruntime's
#: idle pool threads also spin between calls unless told not to, taking CPU from MediaPipe
#: (issue 26), hence ``allow_spinning`` 0.
INTRA_OP_THREADS = 1
INTER_OP_THREADS = 1
#: Patches per call at most. The activations grow with the batch (a photo's 18 patches at
#: once: ~90 MB, with the 3 members' first layers) and, once freed, stay in the process'
#: heap; 3 patches at a time cost the same CPU time and a few MB (bench/speed.py).
CHUNK = 3


def _session(model: bytes | str):
    # onnxruntime 1.29-1.32 have usage telemetry on Linux too (requirements.txt pins 1.28,
    # which has none): a device id and a database in ~/.cache/Microsoft, a .ses file in
    # $TMPDIR, events to upload. Analysing a photo writes and sends nothing
    # (tests/test_privacy.py), whatever version is installed; read once, at start.
    os.environ["ORT_DISABLE_TELEMETRY"] = "1"
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = INTRA_OP_THREADS
    opts.inter_op_num_threads = INTER_OP_THREADS
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    opts.add_session_config_entry("session.inter_op.allow_spinning", "0")
    # no memory arena: the arena keeps the largest activations ever seen for the process'
    # life (tens of MB for a photo's patches); see CHUNK for what is allocated instead
    opts.enable_cpu_mem_arena = False
    opts.enable_mem_pattern = False
    opts.log_severity_level = 3  # warnings about unused initialisers etc. are not the user's
    return ort.InferenceSession(model, sess_options=opts, providers=["CPUExecutionProvider"])


def soften_mask(x: np.ndarray, sigma_px: float) -> np.ndarray:
    """Blur the mask channel of patches (N, 2, H, W), float, by a Gaussian of ``sigma_px``.

    The pose model's person mask of two copies of one photo (re-saved, say) differs by a
    pixel of speckle along the outline and by small blobs near the hands; a network that
    reads the sharp edge follows that noise (issue 12: up to 3° for a re-save). A blurred
    edge keeps the outline's shape and drops the speckle. Networks are trained on the
    same blur (``tools/train_patchnet.py``), which ships with their weights.
    """
    import cv2

    if sigma_px <= 0:
        return x
    out = x.copy()
    for i in range(x.shape[0]):
        out[i, 1] = cv2.GaussianBlur(x[i, 1], (0, 0), sigma_px, borderType=cv2.BORDER_CONSTANT)
    return out


def network_input(patch: np.ndarray, mask_blur_px: float) -> np.ndarray:
    """uint8 patches (2, H, W) or (N, 2, H, W) → float32 (N, 2, H, W) in 0–1, mask softened:
    the input of the exported networks."""
    x = (patch[None] if patch.ndim == 3 else patch).astype(np.float32) / 255.0
    return np.ascontiguousarray(soften_mask(x, mask_blur_px))


@dataclass(frozen=True, eq=False)
class PatchNetRuntime:
    """An ensemble of pelvis-patch networks in one ONNX graph.

    Attributes
    ----------
    mask_blur_px : float
        Gaussian sigma (patch pixels) of the mask softening the networks were trained on
        (:func:`soften_mask`); part of their input.
    targets : tuple of str
        Names of the outputs, in order (degrees).
    n_members : int
        Networks in the ensemble (trained from different seeds); their mean is the answer.
    """

    mask_blur_px: float
    targets: tuple[str, ...]
    n_members: int
    _session: object = field(repr=False)
    _input: str = field(repr=False)

    @classmethod
    def from_bytes(cls, model: bytes) -> PatchNetRuntime:
        """Load a graph written by ``tools/train_patchnet.py`` (its bytes).

        Raises
        ------
        ValueError
            When the bytes are not a graph onnxruntime can load, or lack the metadata.
        """
        try:
            sess = _session(model)
        except Exception as exc:  # onnxruntime's own exception types derive from Exception
            if isinstance(exc, ImportError):
                raise
            raise ValueError(f"not a loadable ONNX graph: {exc}") from exc
        meta = sess.get_modelmeta().custom_metadata_map
        try:
            blur = float(meta["mask_blur_px"])
            targets = tuple(json.loads(meta["targets"]))
            members = int(meta["members"])
        except (KeyError, ValueError, TypeError) as exc:
            raise ValueError(f"the patch network's metadata is incomplete: {exc}") from exc
        return cls(blur, targets, members, sess, sess.get_inputs()[0].name)

    @classmethod
    def from_file(cls, path: str | os.PathLike) -> PatchNetRuntime:
        with open(path, "rb") as fh:
            return cls.from_bytes(fh.read())

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Each member's targets (degrees), (N, members, targets), for network input ``x``
        (N, 2, H, W) float32 made by :func:`network_input`."""
        x = np.ascontiguousarray(x, dtype=np.float32)
        return np.concatenate([self._session.run(None, {self._input: x[i:i + CHUNK]})[0]
                               for i in range(0, max(len(x), 1), CHUNK)])

    def predict(self, patch: np.ndarray) -> np.ndarray:
        """Mean over the members: one uint8 patch (2, H, W) → (T,); a stack (N, 2, H, W) →
        (N, T)."""
        y = self.forward(network_input(patch, self.mask_blur_px)).mean(axis=1)
        return y[0] if patch.ndim == 3 else y
