"""Train the pelvis-patch network (PyTorch, development only) and export NumPy weights.

Input: an ``.npz`` with ``P`` (N, 2, 64, 64) uint8 patches from
:func:`posture.estimator.pelvis_patch` and ``y`` (N, 2) targets (pelvic tilt, lordosis,
degrees), as written by ``tools/train_estimator.py extract`` (use ``--merge`` to join
several). Output: an ``.npz`` that :class:`posture.estimator.PatchNet` reads.

Runs on the CPU (slow: ~20 s an epoch on 2 cores for 2,600 patches) or a GPU if present::

    python tools/train_patchnet.py data/features-train.npz data/features-train2.npz \\
        --out posture/data/estimator_patchnet.npz --epochs 60 --seed 0
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np


def build(torch_nn, width: int = 16):
    nn = torch_nn
    w = width
    # Must mirror posture.estimator.PatchNet: conv-relu-pool ×3, conv-relu, GAP, dense ×2.
    return nn.Sequential(
        nn.Conv2d(2, w, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(w, 2 * w, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(2 * w, 4 * w, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(4 * w, 4 * w, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
        nn.Flatten(), nn.Linear(4 * w, 32), nn.ReLU(), nn.Linear(32, 2),
    )


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

    ``init``: a :class:`posture.estimator.PatchNet` to fine-tune instead of starting afresh.

    The validation rows are whole renders (``groups``), so a render's mirror image or
    perturbed copy never validates its own training rows.
    """
    import torch
    from torch import nn

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    groups = np.arange(len(y)) if groups is None else groups
    names = np.unique(groups)
    val_names = rng.permutation(names)[:int(round(val_fraction * len(names)))]
    is_val = np.isin(groups, val_names)
    va, tr = np.flatnonzero(is_val), np.flatnonzero(~is_val)
    ym, ys = y[tr].mean(axis=0), y[tr].std(axis=0)
    model = build(nn, width)
    if init is not None:  # fine-tune: its weights, and the target scale its last layer uses
        ym, ys = init.target_mean, init.target_scale
        convs = [m for m in model if isinstance(m, nn.Conv2d)]
        dense = [m for m in model if isinstance(m, nn.Linear)]
        with torch.no_grad():
            for layers, arrays in ((convs, init.convs), (dense, init.dense)):
                for layer, (w, b) in zip(layers, arrays, strict=True):
                    layer.weight.copy_(torch.from_numpy(w))
                    layer.bias.copy_(torch.from_numpy(b))
    from posture.estimator import soften_mask

    # the same softened mask the NumPy network reads at inference
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
    import torch

    convs = [m for m in model if isinstance(m, torch.nn.Conv2d)]
    dense = [m for m in model if isinstance(m, torch.nn.Linear)]
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


def export(members: list, out: str, meta: dict, mask_blur_px: float = 0.0) -> None:
    """Write the weights in the layout :func:`posture.estimator.load_patchnet` reads:
    one network as is, several under ``m0_``, ``m1_``, ... prefixes."""
    arrays = {"meta": np.array(json.dumps(meta))}
    if len(members) == 1:
        arrays |= _arrays(*members[0], "", mask_blur_px)
    else:
        arrays["n_models"] = np.array(len(members))
        for k, m in enumerate(members):
            arrays |= _arrays(*m, f"m{k}_", mask_blur_px)
    np.savez_compressed(out, **arrays)


def main(argv=None) -> int:
    import torch

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("features", nargs="+", help="npz files from train_estimator extract")
    p.add_argument("--out", required=True)
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
    device = "cuda" if torch.cuda.is_available() else "cpu"
    P, y, groups = load(a.features)
    print(f"{len(y)} patches from {len(np.unique(groups))} renders, device {device}")
    inits = [None] * len(a.seed)
    if a.init:  # PatchNet members, read as the app reads them
        from posture.estimator import PatchEnsemble, load_patchnet

        with np.load(a.init) as z:
            net = load_patchnet(z)
        inits = list(net.members) if isinstance(net, PatchEnsemble) else [net]
        if len(inits) != len(a.seed):
            raise SystemExit(f"--init has {len(inits)} networks: give as many --seed values")
        a.width = int(inits[0].convs[0][0].shape[0])
    members, hists = [], []
    for seed, init in zip(a.seed, inits, strict=True):
        model, ym, ys, hist = train(P, y, epochs=a.epochs, seed=seed, device=device,
                                    val_fraction=a.val, width=a.width, groups=groups,
                                    augmented=not a.no_augment, init=init,
                                    max_lr=a.max_lr, mask_blur_px=a.mask_blur)
        members.append((model.eval().cpu(), ym, ys))
        hists.append(hist)
    export(members, a.out, {"inputs": a.features, "n": int(len(y)), "epochs": a.epochs,
                            "seeds": a.seed, "width": a.width, "history": hists,
                            "augmented": not a.no_augment, "init": a.init,
                            "max_lr": a.max_lr, "mask_blur_px": a.mask_blur,
                            "torch": torch.__version__}, a.mask_blur)
    # the NumPy inference must reproduce PyTorch's on a few patches
    from posture.estimator import load_patchnet

    with np.load(a.out) as z:
        net = load_patchnet(z)
    from posture.estimator import soften_mask

    x = torch.tensor(soften_mask(P[:8].astype(np.float32) / 255.0, a.mask_blur))
    with torch.no_grad():
        ref = np.mean([m(x).numpy() * s + mu for m, mu, s in members], axis=0)
    mine = np.stack([net.predict(P[i]) for i in range(8)])
    err = float(np.abs(ref - mine).max())
    print(f"wrote {a.out}; NumPy vs PyTorch max difference {err:.2e}° "
          f"(predictions span {np.ptp(mine[:, 0]):.1f}°)")
    if err > 1e-3:
        raise SystemExit("export mismatch")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
