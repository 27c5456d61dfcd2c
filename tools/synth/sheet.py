"""Contact sheet of renders with their tilt printed under each (and optional samples/)."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from .body import BodyModel
from .generate import make_sample

THUMB_HEIGHT = 300


def make_sheet(seed: int, indices: list[int], out: Path, samples: Path | None = None,
               size: tuple[int, int] = (540, 960), columns: int = 6) -> None:
    """Render ``indices`` of set ``seed`` into a grid PNG at ``out``.

    With ``samples``, each image's JPEG and label JSON are written there too (no masks, to
    keep the folder small).
    """
    model = BodyModel()
    tiles = []
    for index in indices:
        s = make_sample(model, seed, index, size)
        if samples is not None:
            samples.mkdir(parents=True, exist_ok=True)
            (samples / f"{s.id}.jpg").write_bytes(s.jpeg)
            label = dict(s.label, mask=None)
            (samples / f"{s.id}.json").write_text(json.dumps(label, indent=1))
        scale = THUMB_HEIGHT / s.image.shape[0]
        thumb = cv2.resize(s.image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        caption = np.full((44, thumb.shape[1], 3), 255, np.uint8)
        text = f"tilt {s.label['pelvic_tilt_deg']:+.1f}"
        cv2.putText(caption, text, (6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0), 1,
                    cv2.LINE_AA)
        sub = f"{s.label['facing']}, {s.label['params']['pose']['arms']}"
        cv2.putText(caption, sub, (6, 38), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (60, 60, 60), 1,
                    cv2.LINE_AA)
        tiles.append(np.vstack([thumb, caption]))
    while len(tiles) % columns:
        tiles.append(np.full_like(tiles[0], 255))
    rows = [np.hstack(tiles[i:i + columns]) for i in range(0, len(tiles), columns)]
    sheet = np.vstack(rows)
    out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(out), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_PNG_COMPRESSION, 9])
