"""Train the pelvis-patch network (PyTorch, development only) and export it to ONNX.

The network's architecture is defined here only (:func:`build`); the library runs the
exported ONNX graph (:mod:`posture.estimator_runtime`) and holds no copy of it.

Input: an ``.npz`` with ``P`` (N, 2, 64, 64) uint8 patches from
:func:`posture.estimator.pelvis_patch` and ``y`` (N, 2) targets (pelvic tilt, lordosis,
degrees), as written by ``tools/train_estimator.py extract`` (use ``--merge`` to join
several). Output: the weights as an ``.npz`` (what ``--init`` fine-tunes) and, beside it,
the ``.onnx`` graph the library runs (all members in one graph, any batch size).

Runs on the CPU (slow: ~20 s an epoch on 2 cores for 2,600 patches) or a GPU if present::

    python tools/train_patchnet.py data/features-train.npz data/features-train2.npz \\
        --out posture/data/estimator_patchnet.npz --epochs 60 --seed 0

Re-export the ONNX graph of weights already trained (needs the ``onnx`` and ``onnxscript``
packages of ``tools/synth/requirements.txt``)::

    python tools/train_patchnet.py --convert posture/data/estimator_patchnet.npz
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

#: Names of the network's outputs, in order (degrees).
TARGETS = ("pelvic_tilt_deg", "lumbar_lordosis_deg")
#: The ONNX opset of the exported graph (onnxruntime and OpenCV DNN both run it).
ONNX_OPSET = 20


def build(width: int = 16) -> nn.Sequential:
    """The patch network: conv-relu-pool ×3, conv-relu, global average pool, dense ×2.

    Input (N, 2, 64, 64): grey image and softened person mask, 0–1; output (N, 2) in units
    of the training targets' standard score (see :class:`Ensemble` for degrees).
    """
    w = width
    return nn.Sequential(
        nn.Conv2d(2, w, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(w, 2 * w, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(2 * w, 4 * w, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(4 * w, 4 * w, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
        nn.Flatten(), nn.Linear(4 * w, 32), nn.ReLU(), nn.Linear(32, len(TARGETS)),
    )


class Ensemble(nn.Module):
    """Several trained networks read in degrees: (N, 2, H, W) → (N, members, targets).

    Each member's standard score is scaled back by its own target mean and scale; the
    members are not averaged here, so that a caller can see (and test) each one.
    """

    def __init__(self, members: list[tuple[nn.Module, np.ndarray, np.ndarray]]):
        super().__init__()
        self.nets = nn.ModuleList(m for m, _, _ in members)
        self.register_buffer("target_mean", torch.tensor(
            np.stack([np.asarray(mu, np.float32) for _, mu, _ in members])))
        self.register_buffer("target_scale", torch.tensor(
            np.stack([np.asarray(s, np.float32) for _, _, s in members])))

    def forward(self, x):
        y = torch.stack([net(x) for net in self.nets], dim=1)
        return y * self.target_scale + self.target_mean


def load(paths: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Usable patches, targets and the render each row came from (views and perturbed
    copies of one render share it)."""
    ps, ys, gs = [], [], []
    for p in paths:
        z = np.load(p)
        meta = [json.loads(m) for m in z["meta"]]
        ok = np.array([bool(m.get("detected") and m.get("view_ok")) for m in meta])
        ps.append(z["P"][ok])
        ys.append(z["y"][ok])
        gs.append(np.array([f"{p}:{m['id']}" for m, k in zip(meta, ok, strict=True) if k]))
    return np.concatenate(ps), np.concatenate(ys).astype(np.float32), np.concatenate(gs)


def augment(xb, rng, torch):
    """Benign changes the reading must not follow, applied to a batch of patches.

    Each patch is rescaled by 0.94–1.06 (the stature estimate's noise) and shifted by up
    to 3 px (the hip landmark's), the grey channel gets another exposure and sometimes
    sensor noise, and the mask edge is sometimes softened (the segmentation's noise).
    """
    n, dev = xb.shape[0], xb.device
    s = torch.empty(n, device=dev).uniform_(0.94, 1.06)
    t = torch.empty(n, 2, device=dev).uniform_(-3.0, 3.0) * (2.0 / xb.shape[-1])
    theta = torch.zeros(n, 2, 3, device=dev)
    theta[:, 0, 0] = s
    theta[:, 1, 1] = s
    theta[:, :, 2] = t
    grid = torch.nn.functional.affine_grid(theta, list(xb.shape), align_corners=False)
    grey = torch.nn.functional.grid_sample(xb[:, :1], grid, padding_mode="border",
                                           align_corners=False)
    mask = torch.nn.functional.grid_sample(xb[:, 1:], grid, padding_mode="zeros",
                                           align_corners=False)
    gain = torch.empty(n, 1, 1, 1, device=dev).uniform_(0.6, 1.4)
    bias = torch.empty(n, 1, 1, 1, device=dev).uniform_(-0.2, 0.2)
    grey = (grey - 0.5) * gain + 0.5 + bias
    noisy = (torch.rand(n, 1, 1, 1, device=dev) < 0.3).float()
    grey = grey + noisy * torch.randn_like(grey) * torch.empty(n, 1, 1, 1, device=dev) \
        .uniform_(0.0, 0.04)
    soft = torch.rand(n, 1, 1, 1, device=dev) * (torch.rand(n, 1, 1, 1, device=dev) < 0.5)
    blurred = torch.nn.functional.avg_pool2d(mask, 3, stride=1, padding=1,
                                             count_include_pad=False)
    mask = (1 - soft) * mask + soft * blurred
    return torch.cat([grey.clamp(0, 1), mask], 1)


def train(P: np.ndarray, y: np.ndarray, *, epochs: int, seed: int, device: str,
          val_fraction: float = 0.0, width: int = 16, groups: np.ndarray | None = None,
          augmented: bool = True, init=None, max_lr: float = 3e-3,
          mask_blur_px: float = 0.0, log=print):
    """Train the network; returns (model, target mean, target scale, history).

    ``init``: a member ``(model, target mean, target scale)`` from :func:`load_members` to
    fine-tune instead of starting afresh.

    The validation rows are whole renders (``groups``), so a render's mirror image or
    perturbed copy never validates its own training rows.
    """
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    groups = np.arange(len(y)) if groups is None else groups
    names = np.unique(groups)
    val_names = rng.permutation(names)[:int(round(val_fraction * len(names)))]
    is_val = np.isin(groups, val_names)
    va, tr = np.flatnonzero(is_val), np.flatnonzero(~is_val)
    ym, ys = y[tr].mean(axis=0), y[tr].std(axis=0)
    model = build(width)
    if init is not None:  # fine-tune: its weights, and the target scale its last layer uses
        model.load_state_dict(init[0].state_dict())
        ym, ys = np.asarray(init[1], np.float32), np.asarray(init[2], np.float32)
    from posture.estimator import soften_mask

    # the same softened mask the library gives the exported network at inference
    X = torch.tensor(soften_mask(P.astype(np.float32) / 255.0, mask_blur_px), device=device)
    Y = torch.tensor((y - ym) / ys, device=device)
    model = model.to(device).to(memory_format=torch.channels_last)
    opt = torch.optim.AdamW(model.parameters(), lr=max_lr, weight_decay=1e-3)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=max_lr, total_steps=epochs *
                                                ((len(tr) + 63) // 64))
    history = []
    t0 = time.time()

    def validate(ep):
        model.eval()
        with torch.no_grad():
            p = np.concatenate([model(X[va[i:i + 512]].contiguous(
                memory_format=torch.channels_last)).cpu().numpy()
                for i in range(0, len(va), 512)]) * ys + ym
        mae = np.abs(p - y[va]).mean(axis=0)
        history.append({"epoch": ep, "val_mae": mae.round(3).tolist()})
        log(f"epoch {ep}: val MAE tilt {mae[0]:.2f}°, lordosis {mae[1]:.2f}° "
            f"on {len(va)} rows ({time.time() - t0:.0f} s)")

    if len(va) and init is not None:
        validate(0)
    for ep in range(epochs):
        model.train()
        perm = torch.tensor(rng.permutation(tr), device=device)
        for b in range(0, len(perm), 64):
            bi = perm[b:b + 64]
            xb = augment(X[bi], rng, torch) if augmented else X[bi]
            xb = xb.contiguous(memory_format=torch.channels_last)
            loss = nn.functional.smooth_l1_loss(model(xb), Y[bi])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        if len(va) and (ep % 5 == 4 or ep == epochs - 1):
            validate(ep + 1)
        elif ep % 5 == 4:
            log(f"epoch {ep + 1} ({time.time() - t0:.0f} s)")
    return model, ym, ys, history


def _arrays(model, ym, ys, prefix: str, mask_blur_px: float = 0.0) -> dict:
    convs = [m for m in model if isinstance(m, nn.Conv2d)]
    dense = [m for m in model if isinstance(m, nn.Linear)]
    arrays = {"n_conv": np.array(len(convs)), "n_dense": np.array(len(dense)),
              "target_mean": np.asarray(ym, np.float32),
              "target_scale": np.asarray(ys, np.float32),
              "mask_blur_px": np.asarray(mask_blur_px, np.float32)}
    for i, c in enumerate(convs):
        arrays[f"conv{i}_w"] = c.weight.detach().cpu().numpy().astype(np.float32)
        arrays[f"conv{i}_b"] = c.bias.detach().cpu().numpy().astype(np.float32)
    for i, d in enumerate(dense):
        arrays[f"dense{i}_w"] = d.weight.detach().cpu().numpy().astype(np.float32)
        arrays[f"dense{i}_b"] = d.bias.detach().cpu().numpy().astype(np.float32)
    return {prefix + k: v for k, v in arrays.items()}


def export(members: list, out: str, meta: dict, mask_blur_px: float = 0.0) -> Path:
    """Write the weights (``.npz``: one network as is, several under ``m0_``, ``m1_``, ...
    prefixes, as :func:`load_members` reads them) and the ONNX graph beside them.

    Returns the path of the ``.onnx`` file.
    """
    arrays = {"meta": np.array(json.dumps(meta))}
    if len(members) == 1:
        arrays |= _arrays(*members[0], "", mask_blur_px)
    else:
        arrays["n_models"] = np.array(len(members))
        for k, m in enumerate(members):
            arrays |= _arrays(*m, f"m{k}_", mask_blur_px)
    np.savez_compressed(out, **arrays)
    onnx_path = Path(out).with_suffix(".onnx")
    write_onnx(members, onnx_path, mask_blur_px)
    return onnx_path


def load_members(path) -> tuple[list[tuple[nn.Module, np.ndarray, np.ndarray]], float]:
    """The networks of an ``.npz`` written by :func:`export`, as PyTorch modules (eval
    mode), each with its target mean and scale; and the mask blur they were trained on."""
    with np.load(path, allow_pickle=False) as z:
        prefixes = ([""] if "n_models" not in z
                    else [f"m{k}_" for k in range(int(z["n_models"]))])
        members, blurs = [], set()
        for pre in prefixes:
            width = int(z[f"{pre}conv0_w"].shape[0])
            model = build(width)
            convs = [m for m in model if isinstance(m, nn.Conv2d)]
            dense = [m for m in model if isinstance(m, nn.Linear)]
            if int(z[f"{pre}n_conv"]) != len(convs) or int(z[f"{pre}n_dense"]) != len(dense):
                raise ValueError(f"{path}: the layers do not match build()'s network")
            with torch.no_grad():
                for kind, layers in (("conv", convs), ("dense", dense)):
                    for i, layer in enumerate(layers):
                        layer.weight.copy_(torch.from_numpy(z[f"{pre}{kind}{i}_w"]))
                        layer.bias.copy_(torch.from_numpy(z[f"{pre}{kind}{i}_b"]))
            members.append((model.eval(), z[f"{pre}target_mean"].astype(np.float32),
                            z[f"{pre}target_scale"].astype(np.float32)))
            blurs.add(float(z[f"{pre}mask_blur_px"]) if f"{pre}mask_blur_px" in z else 0.0)
    if len(blurs) != 1:
        raise ValueError(f"{path}: members trained on different mask blurs {sorted(blurs)}")
    return members, blurs.pop()


def write_onnx(members: list, path, mask_blur_px: float) -> None:
    """Export the members as one ONNX graph: input ``patches`` (N, 2, 64, 64) float, 0–1,
    mask channel softened by ``mask_blur_px`` (:func:`posture.estimator.soften_mask`);
    output ``degrees`` (N, members, targets). The batch dimension is dynamic, so a photo's
    patches (views × shifts) go in one call. The blur and the target names ride along as
    metadata, so the graph is all the library needs.
    """
    import onnx

    from posture.estimator import PATCH_PX

    net = Ensemble([(m.cpu().to(memory_format=torch.contiguous_format).eval(), mu, s)
                    for m, mu, s in members]).eval()
    x = torch.zeros(4, 2, PATCH_PX, PATCH_PX)
    path = Path(path)
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "net.onnx"
        torch.onnx.export(net, (x,), str(raw), input_names=["patches"],
                          output_names=["degrees"], opset_version=ONNX_OPSET,
                          dynamic_shapes=({0: torch.export.Dim("batch")},),
                          external_data=False, dynamo=True, verbose=False)
        proto = onnx.load(str(raw))
    onnx.helper.set_model_props(proto, {
        "mask_blur_px": repr(float(mask_blur_px)),
        "targets": json.dumps(list(TARGETS)),
        "members": str(len(members)),
        "source": "tools/train_patchnet.py",
    })
    onnx.checker.check_model(proto)
    tmp_out = path.with_name(path.name + ".tmp")
    onnx.save(proto, str(tmp_out))
    os.replace(tmp_out, path)


def torch_degrees(members: list, x: np.ndarray) -> np.ndarray:
    """(N, members, targets) degrees from PyTorch for network input ``x`` (N, 2, H, W)."""
    with torch.no_grad():
        return Ensemble(members).eval()(torch.from_numpy(
            np.ascontiguousarray(x, np.float32))).numpy()


def check_export(members: list, onnx_path, patches: np.ndarray, mask_blur_px: float,
                 tol: float = 1e-4) -> float:
    """The library's runtime reads the exported graph as PyTorch does: the largest
    difference (degrees) on ``patches`` (N, 2, H, W) uint8; raises above ``tol``."""
    from posture.estimator import network_input
    from posture.estimator_runtime import PatchNetRuntime

    rt = PatchNetRuntime.from_file(onnx_path)
    x = network_input(patches, mask_blur_px)
    err = float(np.abs(rt.forward(x) - torch_degrees(members, x)).max())
    if not err <= tol:
        raise SystemExit(f"export mismatch: runtime vs PyTorch {err:.2e}° > {tol}")
    return err


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("features", nargs="*", help="npz files from train_estimator extract")
    p.add_argument("--out")
    p.add_argument("--convert", metavar="WEIGHTS.npz",
                   help="only write the .onnx graph of these weights beside them")
    p.add_argument("--epochs", type=int, default=60)
    p.add_argument("--seed", type=int, nargs="+", default=[0],
                   help="one seed per network; several make an averaged ensemble")
    p.add_argument("--val", type=float, default=0.0, help="fraction held out to print MAE")
    p.add_argument("--width", type=int, default=16, help="channels of the first convolution")
    p.add_argument("--no-augment", action="store_true", help="train on the patches as cut")
    p.add_argument("--init", help="fine-tune these weights (an npz this script wrote)")
    p.add_argument("--max-lr", type=float, default=3e-3, help="peak learning rate")
    p.add_argument("--mask-blur", type=float, default=0.0,
                   help="Gaussian sigma (patch px) of the mask channel (see soften_mask)")
    a = p.parse_args(argv)
    if a.convert:
        members, blur = load_members(a.convert)
        onnx_path = Path(a.convert).with_suffix(".onnx")
        write_onnx(members, onnx_path, blur)
        rng = np.random.default_rng(0)
        probe = rng.integers(0, 256, (16, 2, 64, 64)).astype(np.uint8)
        err = check_export(members, onnx_path, probe, blur)
        print(f"wrote {onnx_path}; runtime vs PyTorch max difference {err:.2e}°")
        return 0
    if not a.features or not a.out:
        p.error("give the feature files and --out (or --convert WEIGHTS.npz)")
    device = "cuda" if torch.cuda.is_available() else "cpu"
    P, y, groups = load(a.features)
    print(f"{len(y)} patches from {len(np.unique(groups))} renders, device {device}")
    inits = [None] * len(a.seed)
    if a.init:
        inits, _ = load_members(a.init)
        if len(inits) != len(a.seed):
            raise SystemExit(f"--init has {len(inits)} networks: give as many --seed values")
        a.width = int(inits[0][0][0].out_channels)
    members, hists = [], []
    for seed, init in zip(a.seed, inits, strict=True):
        model, ym, ys, hist = train(P, y, epochs=a.epochs, seed=seed, device=device,
                                    val_fraction=a.val, width=a.width, groups=groups,
                                    augmented=not a.no_augment, init=init,
                                    max_lr=a.max_lr, mask_blur_px=a.mask_blur)
        members.append((model.eval().cpu(), ym, ys))
        hists.append(hist)
    onnx_path = export(members, a.out, {
        "inputs": a.features, "n": int(len(y)), "epochs": a.epochs, "seeds": a.seed,
        "width": a.width, "history": hists, "augmented": not a.no_augment, "init": a.init,
        "max_lr": a.max_lr, "mask_blur_px": a.mask_blur, "torch": torch.__version__},
        a.mask_blur)
    # the library's runtime must reproduce PyTorch's on a few patches
    err = check_export(members, onnx_path, P[:64], a.mask_blur)
    print(f"wrote {a.out} and {onnx_path}; runtime vs PyTorch max difference {err:.2e}°")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
