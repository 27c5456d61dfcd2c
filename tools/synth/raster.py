"""A vectorised triangle rasteriser (NumPy only, CPU, deterministic).

Each triangle's candidate pixels (its bounding box) are enumerated all at once with
``np.repeat``; barycentric coordinates are affine in the pixel position, so the inside test
is three multiply-adds per candidate. The nearest candidate per pixel wins (a z-buffer done
as one sort). The output is a G-buffer (face id + perspective-correct barycentrics) that the
shader reads.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

#: Rasterisers of the G-buffer: this module's NumPy one (the reference, deterministic on
#: any machine) and OpenGL through moderngl (``raster_gl``; several times faster, differs
#: only on triangle edges). Chosen by ``set_backend`` or the SYNTH_RASTER variable, which
#: worker processes inherit.
BACKENDS = ("numpy", "moderngl")
BACKEND_ENV = "SYNTH_RASTER"


@dataclass(frozen=True)
class Fragments:
    """The visible surface per pixel.

    Attributes
    ----------
    pixel : ndarray (N,)
        Flat pixel index (row * width + col) of each covered pixel.
    face : ndarray (N,)
        Triangle seen at that pixel.
    bary : ndarray (N, 3)
        Perspective-correct barycentric weights of the triangle's vertices.
    depth : ndarray (N,)
        Depth along the view axis, same units as the input depth.
    """

    pixel: np.ndarray
    face: np.ndarray
    bary: np.ndarray
    depth: np.ndarray


def set_backend(name: str) -> None:
    """Use the rasteriser ``name`` (one of ``BACKENDS``) in this process and its workers.

    ``"auto"`` picks moderngl where a headless OpenGL context can be made, else NumPy.
    """
    if name == "auto":
        from . import raster_gl

        name = "moderngl" if raster_gl.available() else "numpy"
    if name not in BACKENDS:
        raise ValueError(f"unknown rasteriser {name!r}; one of {', '.join(BACKENDS)}, auto")
    if name == "moderngl":
        from . import raster_gl

        if not raster_gl.available():
            raise RuntimeError("moderngl rasteriser unavailable: pip install -r "
                               "tools/synth/requirements.txt; needs libEGL and Mesa")
    os.environ[BACKEND_ENV] = name


def backend_name() -> str:
    """Which rasteriser draws the G-buffers (for the speed figures)."""
    return os.environ.get(BACKEND_ENV, "numpy")


def rasterize(xy: np.ndarray, depth: np.ndarray, faces: np.ndarray, width: int, height: int,
              cull_sign: float | None = 1.0) -> Fragments:
    """Rasterise triangles given in pixel coordinates, with the chosen backend.

    See ``rasterize_numpy`` for the parameters.
    """
    if backend_name() == "moderngl":
        from . import raster_gl

        return raster_gl.rasterize(xy, depth, faces, width, height, cull_sign)
    return rasterize_numpy(xy, depth, faces, width, height, cull_sign)


def rasterize_numpy(xy: np.ndarray, depth: np.ndarray, faces: np.ndarray, width: int,
                    height: int, cull_sign: float | None = 1.0,
                    max_candidates: int = 40_000_000) -> Fragments:
    """Rasterise triangles given in pixel coordinates (NumPy).

    Parameters
    ----------
    xy : ndarray (V, 2)
        Vertex positions in pixels (x right, y down; pixel centres at +0.5).
    depth : ndarray (V,)
        Positive depth of each vertex (camera z, or distance along a light direction).
    faces : ndarray (F, 3)
    width, height : int
        Image size, pixels.
    cull_sign : float or None
        Keep triangles whose signed screen area has this sign (back-face culling); None keeps
        both.
    max_candidates : int
        Safety limit on the enumerated pixels (a degenerate projection raises).

    Returns
    -------
    Fragments
    """
    p0, p1, p2 = xy[faces[:, 0]], xy[faces[:, 1]], xy[faces[:, 2]]
    area = (p1[:, 0] - p0[:, 0]) * (p2[:, 1] - p0[:, 1]) - \
        (p2[:, 0] - p0[:, 0]) * (p1[:, 1] - p0[:, 1])
    keep = np.abs(area) > 1e-12
    if cull_sign is not None:
        keep &= np.sign(area) == np.sign(cull_sign)
    lo = np.floor(np.minimum(np.minimum(p0, p1), p2) - 0.5).astype(np.int64) + 1
    hi = np.floor(np.maximum(np.maximum(p0, p1), p2) - 0.5).astype(np.int64)
    lo = np.maximum(lo, 0)
    hi = np.minimum(hi, [width - 1, height - 1])
    keep &= np.all(hi >= lo, axis=1) & np.all(depth[faces] > 0, axis=1)
    tri = np.nonzero(keep)[0]
    if tri.size == 0:
        empty = np.zeros(0, np.int64)
        return Fragments(empty, empty, np.zeros((0, 3)), np.zeros(0))
    lo, hi = lo[tri], hi[tri]
    size = hi - lo + 1
    counts = size[:, 0] * size[:, 1]
    total = int(counts.sum())
    if total > max_candidates:
        raise ValueError(f"{total} candidate pixels: projection is degenerate")

    # Barycentric weights as affine functions of (x, y): l_k = a_k x + b_k y + c_k.
    q0, q1, q2, inv = p0[tri], p1[tri], p2[tri], 1.0 / area[tri]
    a = np.stack([q1[:, 1] - q2[:, 1], q2[:, 1] - q0[:, 1], q0[:, 1] - q1[:, 1]], 1) * inv[:, None]
    b = np.stack([q2[:, 0] - q1[:, 0], q0[:, 0] - q2[:, 0], q1[:, 0] - q0[:, 0]], 1) * inv[:, None]
    c = np.stack([q1[:, 0] * q2[:, 1] - q2[:, 0] * q1[:, 1],
                  q2[:, 0] * q0[:, 1] - q0[:, 0] * q2[:, 1],
                  q0[:, 0] * q1[:, 1] - q1[:, 0] * q0[:, 1]], 1) * inv[:, None]

    # Enumerate every candidate pixel of every bounding box.
    owner = np.repeat(np.arange(tri.size), counts)
    start = np.repeat(np.cumsum(counts) - counts, counts)
    k = np.arange(total) - start
    w = size[owner, 0]
    px = lo[owner, 0] + k % w
    py = lo[owner, 1] + k // w
    x, y = px + 0.5, py + 0.5
    lam = a[owner] * x[:, None] + b[owner] * y[:, None] + c[owner]
    inside = np.all(lam >= -1e-9, axis=1)
    owner, px, py, lam = owner[inside], px[inside], py[inside], lam[inside]

    # Perspective-correct interpolation: 1/z is affine in screen space.
    inv_z = 1.0 / depth[faces[tri]]
    lam_z = lam * inv_z[owner]
    inv_depth = lam_z.sum(1)
    pixel = py * width + px

    # z-buffer as a sort: per pixel, the candidate with the largest 1/z (nearest) comes first.
    order = np.lexsort((-inv_depth, pixel))
    pixel_sorted = pixel[order]
    first = np.ones(order.size, bool)
    first[1:] = pixel_sorted[1:] != pixel_sorted[:-1]
    win = order[first]
    bary = lam_z[win] / inv_depth[win, None]
    return Fragments(pixel=pixel[win], face=tri[owner[win]], bary=bary,
                     depth=1.0 / inv_depth[win])


def depth_map(xy: np.ndarray, depth: np.ndarray, faces: np.ndarray, width: int,
              height: int) -> np.ndarray:
    """Nearest depth per pixel (inf where empty), both faces kept: for shadow maps."""
    frags = rasterize(xy, depth, faces, width, height, cull_sign=None)
    out = np.full(width * height, np.inf)
    out[frags.pixel] = frags.depth
    return out.reshape(height, width)
