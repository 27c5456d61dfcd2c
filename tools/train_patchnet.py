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


def load(paths: list[str]) -> tuple[np.ndarray, np.ndarray]:
    ps, ys = [], []
    for p in paths:
        z = np.load(p)
        meta = [json.loads(m) for m in z["meta"]]
        ok = np.array([bool(m.get("detected") and m.get("view_ok")) for m in meta])
        ps.append(z["P"][ok])
        ys.append(z["y"][ok])
    return np.concatenate(ps), np.concatenate(ys).astype(np.float32)


def train(P: np.ndarray, y: np.ndarray, *, epochs: int, seed: int, device: str,
          val_fraction: float = 0.0, width: int = 16, log=print):
    """Train the network; returns (model, target mean, target scale, history)."""
    import torch
    from torch import nn

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    idx = rng.permutation(len(y))
    n_val = int(round(val_fraction * len(y)))
    va, tr = idx[:n_val], idx[n_val:]
    ym, ys = y[tr].mean(axis=0), y[tr].std(axis=0)
    X = torch.tensor(P, dtype=torch.float32, device=device) / 255.0
    Y = torch.tensor((y - ym) / ys, device=device)
    model = build(nn, width).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-3)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=epochs *
                                                ((len(tr) + 63) // 64))
    history = []
    t0 = time.time()
    for ep in range(epochs):
        model.train()
        perm = torch.tensor(rng.permutation(tr), device=device)
        for b in range(0, len(perm), 64):
            bi = perm[b:b + 64]
            xb = X[bi]
            n = len(bi)
            # photometric jitter on the grey channel only: real cameras differ in exposure
            gain = torch.empty(n, 1, 1, 1, device=device).uniform_(0.6, 1.4)
            bias = torch.empty(n, 1, 1, 1, device=device).uniform_(-0.2, 0.2)
            grey = (xb[:, :1] - 0.5) * gain + 0.5 + bias
            xb = torch.cat([grey.clamp(0, 1), xb[:, 1:]], 1)
            # small translations: the hip landmark the patch is centred on is noisy
            dx, dy = (int(v) for v in rng.integers(-3, 4, size=2))
            xb = torch.roll(xb, shifts=(dy, dx), dims=(2, 3))
            loss = nn.functional.smooth_l1_loss(model(xb), Y[bi])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        if n_val and (ep % 5 == 4 or ep == epochs - 1):
            model.eval()
            with torch.no_grad():
                p = model(X[va]).cpu().numpy() * ys + ym
            mae = np.abs(p - y[va]).mean(axis=0)
            history.append({"epoch": ep + 1, "val_mae": mae.round(3).tolist()})
            log(f"epoch {ep + 1}: val MAE tilt {mae[0]:.2f}°, lordosis {mae[1]:.2f}° "
                f"({time.time() - t0:.0f} s)")
    return model, ym, ys, history


def _arrays(model, ym, ys, prefix: str) -> dict:
    import torch

    convs = [m for m in model if isinstance(m, torch.nn.Conv2d)]
    dense = [m for m in model if isinstance(m, torch.nn.Linear)]
    arrays = {"n_conv": np.array(len(convs)), "n_dense": np.array(len(dense)),
              "target_mean": np.asarray(ym, np.float32),
              "target_scale": np.asarray(ys, np.float32)}
    for i, c in enumerate(convs):
        arrays[f"conv{i}_w"] = c.weight.detach().cpu().numpy().astype(np.float32)
        arrays[f"conv{i}_b"] = c.bias.detach().cpu().numpy().astype(np.float32)
    for i, d in enumerate(dense):
        arrays[f"dense{i}_w"] = d.weight.detach().cpu().numpy().astype(np.float32)
        arrays[f"dense{i}_b"] = d.bias.detach().cpu().numpy().astype(np.float32)
    return {prefix + k: v for k, v in arrays.items()}


def export(members: list, out: str, meta: dict) -> None:
    """Write the weights in the layout :func:`posture.estimator.load_patchnet` reads:
    one network as is, several under ``m0_``, ``m1_``, ... prefixes."""
    arrays = {"meta": np.array(json.dumps(meta))}
    if len(members) == 1:
        arrays |= _arrays(*members[0], "")
    else:
        arrays["n_models"] = np.array(len(members))
        for k, m in enumerate(members):
            arrays |= _arrays(*m, f"m{k}_")
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
    a = p.parse_args(argv)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    P, y = load(a.features)
    print(f"{len(y)} patches, device {device}")
    members, hists = [], []
    for seed in a.seed:
        model, ym, ys, hist = train(P, y, epochs=a.epochs, seed=seed, device=device,
                                    val_fraction=a.val, width=a.width)
        members.append((model.eval().cpu(), ym, ys))
        hists.append(hist)
    export(members, a.out, {"inputs": a.features, "n": int(len(y)), "epochs": a.epochs,
                            "seeds": a.seed, "width": a.width, "history": hists,
                            "torch": torch.__version__})
    # the NumPy inference must reproduce PyTorch's on a few patches
    from posture.estimator import load_patchnet

    with np.load(a.out) as z:
        net = load_patchnet(z)
    x = torch.tensor(P[:8], dtype=torch.float32) / 255.0
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
