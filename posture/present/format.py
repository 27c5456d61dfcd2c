"""Numbers as the app and the documents show them."""

from __future__ import annotations


def deg(v: float | None, signed: bool = True) -> str:
    """An angle in degrees to one decimal (``"+12.3°"``, unsigned ``"12.3°"``), ``"—"``
    for None; a value that rounds to zero shows as ``"+0.0°"``, never ``"-0.0°"``."""
    if v is None:
        return "—"
    v = round(v, 1) + 0.0  # -0.0 + 0.0 is 0.0
    return f"{v:+.1f}°" if signed else f"{v:.1f}°"
