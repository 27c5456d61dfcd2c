"""The same G-buffer as ``raster.rasterize``, drawn by OpenGL (moderngl, headless EGL).

On a machine without a GPU, Mesa's llvmpipe runs the shaders on the CPU, still several
times faster than the NumPy rasteriser for a body (28k triangles). The output matches
``raster.Fragments``: per covered pixel the nearest triangle and its perspective-correct
barycentric weights and depth. Only pixels on a triangle edge can differ from the NumPy
rasteriser (OpenGL's top-left rule against an inclusive edge test there).

The context is made once per process, lazily; ``available()`` says whether it can be.
"""

from __future__ import annotations

import numpy as np

from .raster import Fragments

_VERTEX = """
#version 330
in vec2 in_xy;      // pixels, x right, y down
in float in_depth;  // positive depth
in vec3 in_bary;
uniform vec2 size;
uniform vec2 depth_range;
out vec3 v_bary;
out float v_depth;
void main() {
    float w = in_depth;  // clip w = depth: OpenGL interpolates perspective-correctly
    vec2 ndc = vec2(2.0 * in_xy.x / size.x - 1.0, 1.0 - 2.0 * in_xy.y / size.y);
    float z = 2.0 * (in_depth - depth_range.x) / (depth_range.y - depth_range.x) - 1.0;
    gl_Position = vec4(ndc * w, z * w, w);
    v_bary = in_bary;
    v_depth = in_depth;
}
"""

_FRAGMENT = """
#version 330
in vec3 v_bary;
in float v_depth;
layout(location = 0) out vec4 out_bary;
layout(location = 1) out int out_face;
void main() {
    out_bary = vec4(v_bary, v_depth);
    out_face = gl_PrimitiveID + 1;  // 0 = empty
}
"""

_STATE: dict = {}


def _context():
    if "ctx" not in _STATE:
        import os

        # llvmpipe rasterises in the calling thread: no thread hand-offs counted as CPU
        # time, and the generator's worker processes already use one core each
        os.environ.setdefault("LP_NUM_THREADS", "0")
        import moderngl

        ctx = moderngl.create_standalone_context(backend="egl")
        prog = ctx.program(vertex_shader=_VERTEX, fragment_shader=_FRAGMENT)
        _STATE.update(ctx=ctx, prog=prog, fbos={})
    return _STATE["ctx"], _STATE["prog"]


def available() -> bool:
    """True when moderngl is installed and a headless EGL context can be made."""
    try:
        _context()
    except Exception:  # noqa: BLE001 - any failure (no moderngl, no EGL) means "no"
        return False
    return True


MAX_FRAMEBUFFERS = 6  # shadow maps come in many sizes: keep the latest few, free the rest


def _framebuffer(width: int, height: int):
    ctx, _ = _context()
    key = (width, height)
    fbos = _STATE["fbos"]
    if key in fbos:
        fbos[key] = fbos.pop(key)  # most recently used last
    else:
        while len(fbos) >= MAX_FRAMEBUFFERS:
            old = fbos.pop(next(iter(fbos)))
            for att in (*old.color_attachments, old.depth_attachment):
                att.release()
            old.release()
        bary = ctx.texture((width, height), 4, dtype="f4")
        face = ctx.texture((width, height), 1, dtype="i4")
        depth = ctx.depth_renderbuffer((width, height))
        _STATE["fbos"][key] = ctx.framebuffer(color_attachments=[bary, face],
                                              depth_attachment=depth)
    return _STATE["fbos"][key]


def rasterize(xy: np.ndarray, depth: np.ndarray, faces: np.ndarray, width: int, height: int,
              cull_sign: float | None = 1.0) -> Fragments:
    """Rasterise triangles given in pixel coordinates (see ``raster.rasterize``).

    Parameters
    ----------
    xy : ndarray (V, 2)
        Vertex positions in pixels (x right, y down; pixel centres at +0.5).
    depth : ndarray (V,)
        Positive depth of each vertex.
    faces : ndarray (F, 3)
    width, height : int
        Image size, pixels.
    cull_sign : float or None
        Keep triangles whose signed screen area has this sign; None keeps both.

    Returns
    -------
    Fragments
    """
    import moderngl

    ctx, prog = _context()
    p0, p1, p2 = xy[faces[:, 0]], xy[faces[:, 1]], xy[faces[:, 2]]
    area = (p1[:, 0] - p0[:, 0]) * (p2[:, 1] - p0[:, 1]) - \
        (p2[:, 0] - p0[:, 0]) * (p1[:, 1] - p0[:, 1])
    keep = (np.abs(area) > 1e-12) & np.all(depth[faces] > 0, axis=1)
    if cull_sign is not None:
        keep &= np.sign(area) == np.sign(cull_sign)
    tri = np.nonzero(keep)[0]
    if tri.size == 0:
        empty = np.zeros(0, np.int64)
        return Fragments(empty, empty, np.zeros((0, 3)), np.zeros(0))
    corners = faces[tri].reshape(-1)
    bary = np.tile(np.eye(3, dtype="f4"), (tri.size, 1))
    data = np.concatenate([xy[corners].astype("f4"), depth[corners, None].astype("f4"), bary],
                          axis=1)
    d = depth[corners]
    lo, hi = float(d.min()), float(d.max())
    pad = max(1e-3 * (hi - lo), 1e-6)
    prog["size"].value = (float(width), float(height))
    prog["depth_range"].value = (lo - pad, hi + pad)
    vbo = ctx.buffer(np.ascontiguousarray(data, dtype="f4").tobytes())
    vao = ctx.vertex_array(prog, [(vbo, "2f 1f 3f", "in_xy", "in_depth", "in_bary")])
    fbo = _framebuffer(width, height)
    fbo.use()
    ctx.viewport = (0, 0, width, height)
    ctx.disable(moderngl.CULL_FACE)
    ctx.enable(moderngl.DEPTH_TEST)
    ctx.depth_func = "<"
    fbo.clear(0.0, 0.0, 0.0, 0.0, depth=1.0)
    vao.render(moderngl.TRIANGLES)
    ctx.finish()
    face_img = np.frombuffer(fbo.color_attachments[1].read(), dtype="i4")
    face_img = face_img.reshape(height, width)[::-1].reshape(-1)  # GL rows go up
    pixel = np.nonzero(face_img)[0]
    gbuf = np.frombuffer(fbo.color_attachments[0].read(), dtype="f4")
    gbuf = gbuf.reshape(height, width, 4)[::-1].reshape(-1, 4)[pixel].astype(np.float64)
    vao.release()
    vbo.release()
    b = gbuf[:, :3]
    b /= np.maximum(b.sum(1, keepdims=True), 1e-12)  # float32 sums drift from 1 a little
    return Fragments(pixel=pixel.astype(np.int64), face=tri[face_img[pixel] - 1],
                     bary=b, depth=gbuf[:, 3])
