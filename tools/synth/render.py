"""Shading a posed, coloured body in a room: key light with shadow maps, ambient light,
textured wall and floor, then camera artefacts (blur, noise, vignette, JPEG).

All shading is done in linear RGB on flat arrays of pixels; the person is rasterised once
from the camera and twice (small) from the lights for shadows.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .appearance import CLOTH, EYE, HAIR, SHOE
from .camera import Camera
from .raster import depth_map, rasterize
from .scene import Lighting, Room, Sensor

SHADOW_MAP_M_PER_PX = 0.008  # resolution of the shadow maps, metres per texel


@dataclass(frozen=True)
class Rendered:
    """A rendered photo.

    Attributes
    ----------
    image : ndarray (H, W, 3) uint8
        RGB, after the sensor artefacts (before JPEG encoding).
    mask : ndarray (H, W) uint8
        255 where the person is seen.
    """

    image: np.ndarray
    mask: np.ndarray


def vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Area-weighted vertex normals (outward for anny's winding)."""
    fn = np.cross(vertices[faces[:, 1]] - vertices[faces[:, 0]],
                  vertices[faces[:, 2]] - vertices[faces[:, 0]])
    n = np.zeros_like(vertices)
    for k in range(3):
        for c in range(3):
            n[:, c] += np.bincount(faces[:, k], weights=fn[:, c], minlength=len(vertices))
    return n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)


def light_direction(lighting: Lighting) -> np.ndarray:
    """Unit vector toward the key light; azimuth 0 = from the camera side (+x)."""
    az, el = np.radians(lighting.key_azimuth), np.radians(lighting.key_elevation)
    return np.array([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)])


class ShadowMap:
    """Orthographic depth map of the person seen from a direction (for cast shadows)."""

    def __init__(self, vertices: np.ndarray, faces: np.ndarray, toward_light: np.ndarray,
                 m_per_px: float = SHADOW_MAP_M_PER_PX) -> None:
        w = toward_light / np.linalg.norm(toward_light)
        helper = np.array([0.0, 0.0, 1.0]) if abs(w[2]) < 0.9 else np.array([1.0, 0.0, 0.0])
        u = np.cross(helper, w)
        u /= np.linalg.norm(u)
        self.basis = np.stack([u, np.cross(w, u), -w])  # rows: map x, map y, depth
        p = vertices @ self.basis.T
        self.lo = p[:, :2].min(0) - 2 * m_per_px
        self.scale = 1.0 / m_per_px
        size = np.ceil((p[:, :2].max(0) - self.lo) * self.scale).astype(int) + 2
        self.depth_offset = p[:, 2].min() - 1.0
        self.map = depth_map((p[:, :2] - self.lo) * self.scale, p[:, 2] - self.depth_offset,
                             faces, int(size[0]), int(size[1]))

    def lit(self, points: np.ndarray, bias: float = 0.02) -> np.ndarray:
        """1 where ``points`` (N, 3) see the light, 0 where the person is in the way.

        Computed in the points' precision (float32 for the background: half the work of
        float64 over a whole image; a texel is 8 mm, float32 resolves micrometres).
        """
        dt = points.dtype
        p = points @ self.basis.T.astype(dt)
        ij = np.floor((p[:, :2] - self.lo.astype(dt)) * dt.type(self.scale)).astype(np.int32)
        h, w = self.map.shape
        inside = (ij[:, 0] >= 0) & (ij[:, 0] < w) & (ij[:, 1] >= 0) & (ij[:, 1] < h)
        # one gather over all points (texel 0 stands in outside the map) instead of
        # boolean-indexed copies
        flat = np.where(inside, ij[:, 1] * w + ij[:, 0], 0)
        occ = self.map.reshape(-1)[flat]
        seen = p[:, 2] - dt.type(self.depth_offset) <= occ + bias
        return (seen | ~inside).astype(np.float32)


def _noise(rng: np.random.Generator, size: int, cells: int) -> np.ndarray:
    """Smooth tileable value noise in [-1, 1] of ``size`` pixels with ``cells`` features."""
    grid = rng.uniform(-1, 1, (cells, cells)).astype(np.float32)
    tiled = np.tile(grid, (3, 3))
    big = cv2.resize(tiled, (3 * size, 3 * size), interpolation=cv2.INTER_CUBIC)
    return big[size:2 * size, size:2 * size]


def _texture(rng: np.random.Generator, pattern: str, colour: np.ndarray, size: int = 256
             ) -> tuple[np.ndarray, float]:
    """A tileable texture (size, size, 3) linear RGB and the metres one tile spans."""
    col = np.asarray(colour, np.float32)
    fine = _noise(rng, size, 64)
    low = _noise(rng, size, 4)
    shade = 1.0 + 0.04 * low + 0.02 * fine
    tile_m = 2.0
    yy, xx = np.mgrid[0:size, 0:size]
    if pattern == "stucco":
        shade = 1.0 + 0.05 * low + 0.07 * fine
    elif pattern == "planks":
        rows = int(rng.integers(8, 16))
        row = yy * rows // size
        per = rng.uniform(-0.18, 0.18, rows)[row]
        grain = _noise(rng, size, 32)
        grain = cv2.resize(grain[:, :8], (size, size), interpolation=cv2.INTER_LINEAR)
        gap = ((yy * rows) % size) < 3
        shade = (1.0 + per + 0.12 * grain + 0.05 * fine) * np.where(gap, 0.55, 1.0)
    elif pattern in ("tiles", "bricks"):
        n = int(rng.integers(3, 7)) if pattern == "tiles" else 10
        cell = size // n
        offset = (yy // (cell // 2) % 2) * (cell // 2) if pattern == "bricks" else 0
        gy = yy % (cell // 2 if pattern == "bricks" else cell) < 3
        gx = (xx + offset) % cell < 3
        grout = 0.7 if rng.uniform() < 0.5 else 1.25
        shade = np.where(gy | gx, grout, 1.0 + 0.05 * fine + 0.05 * low)
        tile_m = float(rng.uniform(1.2, 3.0)) if pattern == "tiles" else 2.4
    elif pattern == "carpet":
        shade = 1.0 + 0.15 * fine + 0.05 * low
        tile_m = 1.0
    elif pattern == "concrete":
        shade = 1.0 + 0.12 * low + 0.08 * fine
    elif pattern == "panels":
        n = int(rng.integers(3, 8))
        shade = np.where((xx % (size // n)) < 3, 0.75, 1.0 + 0.03 * fine)
    elif pattern == "stripes":
        n = int(rng.integers(6, 20))
        other = float(rng.uniform(0.8, 1.15))
        shade = np.where((xx * n // size) % 2 == 0, 1.0, other) + 0.02 * fine
    tex = np.clip(shade[..., None] * col, 0, 1).astype(np.float32)
    return tex, tile_m


def _sample_texture(tex: np.ndarray, tile_m: float, u: np.ndarray, v: np.ndarray
                    ) -> np.ndarray:
    """Bilinear, wrapping lookup of ``tex`` at world coordinates (u, v) in metres."""
    n = tex.shape[0]
    mx = (u / tile_m * n).astype(np.float32)
    my = (v / tile_m * n).astype(np.float32)
    return cv2.remap(tex, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_WRAP)


def _normalised_blur(values: np.ndarray, weight: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur of ``values`` restricted to where ``weight`` > 0 (no bleeding)."""
    if sigma <= 0.3:
        return values
    num = cv2.GaussianBlur((values * weight).astype(np.float32), (0, 0), sigma)
    den = cv2.GaussianBlur(weight.astype(np.float32), (0, 0), sigma)
    return np.where(weight > 0, num / np.maximum(den, 1e-6), values)


def render(camera: Camera, vertices: np.ndarray, faces: np.ndarray, albedo: np.ndarray,
           material: np.ndarray, lighting: Lighting, room: Room, sensor: Sensor,
           gloss: float, noise_seed: int | None = None, cull_sign: float = 1.0) -> Rendered:
    """Render the person (world-frame mesh with per-vertex albedo) in the room.

    Parameters
    ----------
    camera : Camera
    vertices : ndarray (V, 3)
        World frame, metres (feet on z = 0).
    faces : ndarray (F, 3)
    albedo : ndarray (V, 3)
        Linear RGB.
    material : ndarray (V,)
        Material ids from ``appearance``.
    lighting, room, sensor
        Sampled scene settings.
    gloss : float
        Specular strength of clothing.
    noise_seed : int, optional
        Seed of the fabric grain and sensor noise. By default they continue the room's
        texture stream (so one room always gets the same noise); a retake passes its own.
    cull_sign : float
        Signed screen area of the triangles kept. The default +1.0 keeps the triangles that
        face *away* from the camera (anny's winding is counter-clockwise seen from outside,
        and the image's y points down), so the near surface is culled and the inside of the
        far one is seen; in profile the outline is the same, and side renders keep it so
        that existing data sets regenerate identically. Front and back views pass -1.0
        (the near surface; with +1.0 a front view shows the inside of the back).

    Returns
    -------
    Rendered
    """
    w, h = camera.width, camera.height
    rng = np.random.Generator(np.random.PCG64(room.texture_seed))
    scale = h / 960.0  # sizes in pixels are authored for a 960 px high image
    to_light = light_direction(lighting)
    key = np.asarray(lighting.key_colour) * lighting.key_strength
    amb = np.asarray(lighting.ambient_colour) * lighting.ambient_strength

    # --- person G-buffer
    uv, z = camera.project(vertices)
    frags = rasterize(uv, z, faces, w, h, cull_sign=cull_sign)
    tri = faces[frags.face]
    bary = frags.bary[..., None]
    pos = (vertices[tri] * bary).sum(1)
    normals = vertex_normals(vertices, faces)
    n = (normals[tri] * bary).sum(1)
    n /= np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-9)
    col = (albedo[tri] * bary).sum(1)
    mat = material[tri[np.arange(len(tri)), frags.bary.argmax(1)]]

    # --- background: the ray through each pixel hits the floor (z = 0) or the wall
    # (whole-image arrays are float32 from here: half the memory traffic of float64)
    rays = camera.ray_directions().reshape(-1, 3).astype(np.float32)
    c = camera.centre.astype(np.float32)
    wall_x = -room.wall_distance
    with np.errstate(divide="ignore", invalid="ignore"):
        t_floor = np.where(rays[:, 2] < 0, -c[2] / rays[:, 2], np.inf)
        t_wall = np.where(rays[:, 0] < 0, (wall_x - c[0]) / rays[:, 0], np.inf)
    on_floor = t_floor < t_wall
    t = np.minimum(np.minimum(t_floor, t_wall), 50.0)
    bg_pos = c + rays * t[:, None]
    wall_tex, wall_tile = _texture(rng, room.wall_pattern, np.asarray(room.wall_colour))
    floor_tex, floor_tile = _texture(rng, room.floor_pattern, np.asarray(room.floor_colour))
    wall_rgb = _sample_texture(wall_tex, wall_tile, bg_pos[:, 1].reshape(h, w),
                               -bg_pos[:, 2].reshape(h, w)).reshape(-1, 3)
    floor_rgb = _sample_texture(floor_tex, floor_tile, bg_pos[:, 1].reshape(h, w),
                                bg_pos[:, 0].reshape(h, w)).reshape(-1, 3)
    bg_albedo = np.where(on_floor[:, None], floor_rgb, wall_rgb)
    base = (~on_floor) & (bg_pos[:, 2] < room.baseboard_height)
    bg_albedo[base] = room.baseboard_colour
    bg_normal = np.where(on_floor[:, None], np.float32([0.0, 0.0, 1.0]),
                         np.float32([1.0, 0.0, 0.0]))

    # --- shadows: key light (cast) and a top-down map for contact shadows on the floor
    key_map = ShadowMap(vertices, faces, to_light)
    lit = np.ones(w * h, np.float32)
    lit[frags.pixel] = key_map.lit(pos + 0.004 * n)
    bg_pixels = np.ones(w * h, bool)
    bg_pixels[frags.pixel] = False
    lit[bg_pixels] = key_map.lit(bg_pos[bg_pixels], bias=0.0)
    person = (~bg_pixels).astype(np.float32).reshape(h, w)
    soft = lighting.shadow_softness * scale
    lit_img = lit.reshape(h, w).astype(np.float32)
    lit_bg = _normalised_blur(lit_img, 1 - person, soft)
    lit_person = _normalised_blur(lit_img, person, 1.2 * scale)
    lit = np.where(person > 0, lit_person, lit_bg).reshape(-1)

    top = ShadowMap(vertices, faces, np.array([0.0, 0.0, 1.0]), m_per_px=0.02)
    floor_px = np.nonzero(on_floor & bg_pixels)[0]
    occluded = 1.0 - top.lit(bg_pos[floor_px] - np.float32([0, 0, 0.02]), bias=0.0)
    ao = np.zeros(w * h, np.float32)
    ao[floor_px] = occluded
    ao = cv2.GaussianBlur(ao.reshape(h, w), (0, 0), 10 * scale).reshape(-1)
    corner = np.where(on_floor, np.abs(bg_pos[:, 0] - wall_x), bg_pos[:, 2])
    ambient_occ = (1.0 - 0.65 * np.minimum(ao * 2.0, 1.0)) * (1 - 0.35 * np.exp(-corner / 0.15))

    # --- shade everything: Lambert key light (wrapped for skin) + hemispheric ambient
    normal_all = bg_normal.copy()
    normal_all[frags.pixel] = n
    albedo_all = bg_albedo.copy()
    albedo_all[frags.pixel] = col
    ndl = normal_all @ to_light.astype(np.float32)
    wrap = np.zeros(w * h, np.float32)
    wrap[frags.pixel] = np.where(mat == 0, 0.25, 0.1)
    diffuse = np.clip((ndl + wrap) / (1 + wrap), 0, 1) * lit
    hemi = 0.65 + 0.35 * normal_all[:, 2]
    occ = ambient_occ.copy()
    occ[frags.pixel] = 1.0
    radiance = albedo_all * (amb.astype(np.float32) * hemi[:, None] * occ[:, None]
                             + key.astype(np.float32) * diffuse[:, None])

    # specular highlights on skin, hair, eyes and shiny fabric (Blinn-Phong)
    view = camera.centre - pos
    view /= np.linalg.norm(view, axis=1, keepdims=True)
    half = view + to_light
    half /= np.linalg.norm(half, axis=1, keepdims=True)
    ndh = np.clip((n * half).sum(1), 0, 1)
    strength = np.select([mat == EYE, mat == HAIR, mat == CLOTH, mat == SHOE],
                         [0.5, 0.12, gloss * 0.25, 0.15], 0.06)
    spec = strength * ndh ** np.where(mat == EYE, 80, 24) * lit[frags.pixel]
    radiance[frags.pixel] += spec[:, None] * key

    if noise_seed is not None:
        rng = np.random.Generator(np.random.PCG64(noise_seed))
    # --- fabric texture and skin detail in screen space (cheap, breaks up flat colours)
    grain = rng.normal(0, 1, w * h).astype(np.float32).reshape(h, w)
    grain = cv2.GaussianBlur(grain, (0, 0), 0.8).reshape(-1)
    is_cloth = np.zeros(w * h, bool)
    is_cloth[frags.pixel] = mat == CLOTH
    radiance[is_cloth] *= (1.0 + 0.06 * grain[is_cloth])[:, None]

    img = radiance.reshape(h, w, 3)
    mask = (person * 255).astype(np.uint8)
    return Rendered(image=_sensor(img, sensor, rng, scale), mask=mask)


def _sensor(linear: np.ndarray, sensor: Sensor, rng: np.random.Generator, scale: float
            ) -> np.ndarray:
    """Exposure, white balance, tone curve, vignette, lens blur and noise -> uint8 RGB."""
    h, w, _ = linear.shape
    gain = (sensor.exposure * np.asarray(sensor.white_balance)).astype(np.float32)
    img = linear.astype(np.float32) * gain
    dx = (np.arange(w, dtype=np.float32) - w / 2) ** 2
    dy = (np.arange(h, dtype=np.float32) - h / 2) ** 2
    r2 = (dy[:, None] + dx[None, :]) / np.float32((w / 2) ** 2 + (h / 2) ** 2)
    img *= (1.0 - np.float32(sensor.vignette) * r2)[..., None]
    img = img / (1.0 + 0.25 * img)  # soft shoulder instead of hard clipping
    srgb = cv2.pow(np.clip(img * 1.25, 0, 1), 1 / 2.2)
    srgb = cv2.GaussianBlur(srgb, (0, 0), max(sensor.blur * scale, 0.3))
    noisy = srgb * 255 + rng.normal(0, sensor.noise, srgb.shape).astype(np.float32)
    return np.clip(noisy + 0.5, 0, 255).astype(np.uint8)


def encode_jpeg(image: np.ndarray, quality: int) -> bytes:
    """JPEG bytes of an RGB image."""
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR),
                           [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return buf.tobytes()
