"""A Bland–Altman plot of one method against a reference, drawn with OpenCV (no plotting
dependency). Reads an :class:`posture.agreement.Agreement`; computes nothing itself."""

from __future__ import annotations

import cv2
import numpy as np

from ..agreement import Agreement


def bland_altman_image(estimate: np.ndarray, reference: np.ndarray, stats: Agreement, *,
                       title: str, estimate_name: str = "estimate",
                       reference_name: str = "reference") -> np.ndarray:
    """An RGB image (900 × 600 px): each subject's difference against the mean of the two
    readings, with the bias and the 95% limits of agreement as lines (degrees)."""
    W, H, m = 900, 600, 70
    img = np.full((H, W, 3), 255, np.uint8)
    e, r = np.asarray(estimate, float), np.asarray(reference, float)
    mean, diff = (e + r) / 2, e - r
    x0, x1 = min(-10.0, float(mean.min()) - 2), max(40.0, float(mean.max()) + 2)
    lim = max(10.0, float(np.abs(diff).max()) + 1, abs(stats.loa_low) + 1,
              abs(stats.loa_high) + 1)
    y0, y1 = -lim, lim
    font, black = cv2.FONT_HERSHEY_SIMPLEX, (0, 0, 0)

    def px(x, y):
        return (int(m + (x - x0) / (x1 - x0) * (W - 2 * m)),
                int(H - m - (y - y0) / (y1 - y0) * (H - 2 * m)))

    cv2.rectangle(img, px(x0, y0), px(x1, y1), black, 1)
    for gx in range(int(np.ceil(x0 / 10) * 10), int(x1) + 1, 10):
        cv2.line(img, px(gx, y0), px(gx, y1), (230, 230, 230), 1)
        cv2.putText(img, str(gx), (px(gx, y0)[0] - 10, H - m + 22), font, 0.5, black, 1,
                    cv2.LINE_AA)
    step = 5 if lim <= 20 else 10
    for gy in range(-int(lim // step) * step, int(lim) + 1, step):
        cv2.putText(img, f"{gy:+d}", (10, px(x0, gy)[1] + 5), font, 0.5, black, 1, cv2.LINE_AA)
    for x, y in zip(mean, diff, strict=True):
        cv2.circle(img, px(x, y), 3, (30, 90, 200), -1, cv2.LINE_AA)
    for val, colour in ((stats.bias, (200, 0, 0)), (stats.loa_low, (0, 140, 0)),
                        (stats.loa_high, (0, 140, 0))):
        cv2.line(img, px(x0, val), px(x1, val), colour, 2, cv2.LINE_AA)
        cv2.putText(img, f"{val:+.2f}", (W - m + 4, px(x1, val)[1] + 5), font, 0.5, colour, 1,
                    cv2.LINE_AA)
    cv2.putText(img, title, (m, 40), font, 0.7, black, 2, cv2.LINE_AA)
    cv2.putText(img, f"mean of {estimate_name} and {reference_name} (deg)",
                (W // 2 - 200, H - 15), font, 0.55, black, 1, cv2.LINE_AA)
    cv2.putText(img, f"{estimate_name} - {reference_name} (deg)", (m + 5, m - 8), font, 0.5,
                black, 1, cv2.LINE_AA)
    return img
