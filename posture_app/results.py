"""The results panel shared by the photo and live pages, and the picture of the bands."""

from __future__ import annotations

import html
import json
import math
from collections.abc import Sequence

import numpy as np
import streamlit as st

from .text import EXPLAIN, PLUMB_EXPLAIN, error_text, flag_text, reason_text

BAND_COLOURS = {"posterior": "#8fb3de", "neutral": "#7cc596", "mild": "#f3d36b",
                "moderate": "#f2a553", "severe": "#e26d69"}
OVERLAY_LEGEND = ("White: skeleton · blue dots: the joints nearest the camera · green: "
                  "your outline · yellow: plumb line from the ankles · red: estimated "
                  "PSIS→ASIS line of the pelvis (dot at the front)")


def bands_svg(bands: Sequence, value: float | None = None,
              interval: Sequence[float] | None = None, *, lo: float = -10.0,
              hi: float = 35.0, width: int = 640) -> str:
    """An SVG bar of the severity bands with a marker at ``value`` and its interval.

    ``bands`` are :class:`posture.classify.Band` (id, label, lower_deg, upper_deg); values
    outside ``lo``–``hi`` are drawn at the edge with an arrow.
    """
    pad, bar_y, bar_h = 14, 44, 26
    span = width - 2 * pad

    def x(deg: float) -> float:
        return pad + (min(max(deg, lo), hi) - lo) / (hi - lo) * span

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} 112" '
             f'width="100%" role="img" aria-label="Pelvic tilt severity bands" '
             f'style="max-width:{width}px;font-family:sans-serif">']
    for b in bands:
        x0, x1 = x(b.lower_deg if math.isfinite(b.lower_deg) else lo), \
            x(b.upper_deg if math.isfinite(b.upper_deg) else hi)
        colour = BAND_COLOURS.get(b.id, "#cccccc")
        parts.append(f'<rect x="{x0:.1f}" y="{bar_y}" width="{x1 - x0:.1f}" height="{bar_h}" '
                     f'fill="{colour}"/>')
        short = html.escape(b.label.replace(" anterior tilt", "").replace(" tilt", ""))
        parts.append(f'<text x="{(x0 + x1) / 2:.1f}" y="{bar_y + 17}" font-size="12" '
                     f'text-anchor="middle" fill="#1d1d1d">{short}</text>')
        if math.isfinite(b.upper_deg):
            parts.append(f'<text x="{x1:.1f}" y="{bar_y + bar_h + 15}" font-size="11" '
                         f'text-anchor="middle" fill="#555">{b.upper_deg:g}°</text>')
    parts.append(f'<text x="{pad}" y="{bar_y + bar_h + 15}" font-size="11" fill="#555">'
                 f'← posterior</text>')
    parts.append(f'<text x="{width - pad}" y="{bar_y + bar_h + 15}" font-size="11" '
                 f'text-anchor="end" fill="#555">anterior →</text>')
    if interval is not None and value is not None:
        a, b = x(interval[0]), x(interval[1])
        y = bar_y - 9
        parts.append(f'<line x1="{a:.1f}" y1="{y}" x2="{b:.1f}" y2="{y}" stroke="#222" '
                     f'stroke-width="2"/>')
        for end in (a, b):
            parts.append(f'<line x1="{end:.1f}" y1="{y - 5}" x2="{end:.1f}" y2="{y + 5}" '
                         f'stroke="#222" stroke-width="2"/>')
    if value is not None:
        vx = x(value)
        parts.append(f'<line x1="{vx:.1f}" y1="{bar_y - 4}" x2="{vx:.1f}" '
                     f'y2="{bar_y + bar_h + 2}" stroke="#111" stroke-width="3"/>')
        parts.append(f'<circle cx="{vx:.1f}" cy="{bar_y - 9}" r="5" fill="#111"/>')
        label = f"{value:+.1f}°" + (" (off scale)" if not lo <= value <= hi else "")
        anchor = "start" if vx < width * 0.2 else "end" if vx > width * 0.8 else "middle"
        parts.append(f'<text x="{vx:.1f}" y="{bar_y - 20}" font-size="13" font-weight="bold" '
                     f'text-anchor="{anchor}" fill="#111">you: {html.escape(label)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def page_link(page: str, label: str, icon: str) -> None:
    """A link to another page of the app; nothing where the page is not in the navigation
    (a page run on its own, or in Streamlit's AppTest)."""
    from streamlit.errors import StreamlitAPIException

    try:
        st.page_link(page, label=label, icon=icon)
    except StreamlitAPIException:
        pass


def _fmt(v: float | None, unit: str = "°") -> str:
    return "—" if v is None else f"{v:+.1f}{unit}"


def show_error(res: dict) -> None:
    """A clear, non-technical message for an input that could not be analysed."""
    err = res.get("error") or {}
    code = err.get("code", "internal_error")
    st.error(f"**We could not analyse this picture.** {error_text(code, err.get('message'))}"
             f"\n\nError code: `{code}`", icon="🚫")


def _show_tilt(res: dict) -> None:
    from posture.classify import bands

    tilt = res.get("pelvic_tilt_deg")
    if tilt is None:
        reasons = res.get("abstain_reasons") or []
        only_estimator = reasons and all(r.startswith("estimator_unavailable") for r in reasons)
        st.markdown("#### Pelvic tilt: not measured")
        lines = "\n".join(f"- {reason_text(r)}" for r in reasons)
        if only_estimator:
            st.info(lines + " The other findings below are measured.", icon="ℹ️")
        else:
            tips = "\n".join(f"- {g}" for g in res.get("retake_guidance") or [])
            st.warning(f"**Please retake the picture.**\n\n{lines}\n\n**How to retake:**\n"
                       f"{tips}", icon="📷")
        return
    iv = res.get("pelvic_tilt_interval_deg")
    cov = res.get("interval_coverage") or 0.9
    c1, c2 = st.columns(2)
    c1.metric("Pelvic tilt (+ = anterior)", f"{tilt:+.1f}°",
              help=EXPLAIN["pelvic_tilt_deg"][1])
    if iv:
        c1.caption(f"{cov:.0%} interval: {iv[0]:+.1f}° to {iv[1]:+.1f}°")
    label = res.get("severity_label") or "Not graded"
    probs = res.get("severity_probabilities") or {}
    c2.metric("Severity band", label)
    p = probs.get(res.get("severity") or "", None)
    if p is not None:
        others = sorted(((v, k) for k, v in probs.items() if k != res.get("severity")),
                        reverse=True)
        labels = {b.id: b.label for b in bands()}
        more = f"; next most likely: {labels.get(others[0][1], others[0][1])} " \
            f"({others[0][0]:.0%})" if others and others[0][0] >= 0.15 else ""
        c2.caption(f"Chance of this band given the uncertainty: {p:.0%}{more}")
    st.markdown(bands_svg(bands(), tilt, iv), unsafe_allow_html=True)
    st.caption(res.get("severity_disclaimer") or "")


def _show_findings(res: dict) -> None:
    st.markdown("#### Other findings")
    spread = res.get("spread_deg") or {}
    keys = ("lumbar_lordosis_deg", "head_neck_angle_deg", "trunk_lean_deg", "knee_angle_deg")
    cols = st.columns(2)
    for i, key in enumerate(keys):
        title, explain = EXPLAIN[key]
        v = res.get(key)
        with cols[i % 2].container(border=True, key=f"finding-{key}"):
            if v is None:
                value = "not measured"
                if key == "lumbar_lordosis_deg":
                    value += " (needs the pelvic tilt estimator)"
            else:
                value = _fmt(v)
            flag = flag_text(key, res)
            badge = ""
            if flag:
                badge = f" :orange-badge[{flag}]" if flag != "Not flagged" else \
                    " :green-badge[Not flagged]"
            st.markdown(f"**{title}**  \n### {value}{badge}" if v is not None else
                        f"**{title}**  \n{value}")
            if v is not None and key in spread:
                st.caption(f"Steadiness: frames differed by {spread[key]:.1f}° "
                           "(interquartile range)")
            st.caption(explain)
    plumb = res.get("plumb_offsets_stature") or {}
    if plumb:
        with st.container(border=True, key="finding-plumb"):
            txt = " · ".join(f"{k} {v * 100:+.1f}%" for k, v in plumb.items())
            st.markdown(f"**Plumb line, offset in front of the ankle:** {txt}")
            st.caption(PLUMB_EXPLAIN)


def show_results(res: dict, overlay: np.ndarray | None, *, key: str) -> None:
    """The whole results panel for one contract dict (photo or aggregated capture)."""
    if res.get("landmarks_px") is None and res.get("error") and not res.get("frames"):
        show_error(res)
        return
    with st.container(key=f"result-panel-{key}"):
        left, right = st.columns([2, 3], gap="large")
        with left:
            if overlay is not None:
                st.image(overlay, width="stretch")
                st.caption(OVERLAY_LEGEND)
            frames = res.get("frames")
            if frames:
                st.caption(f"Combined from {frames.get('usable', 0)} usable of "
                           f"{frames.get('captured', 0)} frames (median); shown: the frame "
                           f"closest to the median.")
        with right:
            _show_tilt(res)
            if (res.get("view") or {}).get("ok", True):
                _show_findings(res)
            else:  # numbers from a view the gate rejected would mislead
                st.caption("Other findings are not shown: this view cannot be measured.")
            facing, roll = res.get("facing"), res.get("roll_deg")
            if facing:
                st.caption(f"Facing: {facing}" + (
                    f" · camera tilt corrected: {roll:+.1f}°" if roll is not None else ""))
            b1, b2 = st.columns(2)
            b1.download_button("Download results (JSON)", json.dumps(res, indent=2),
                               file_name="posture-result.json", mime="application/json",
                               key=f"json-{key}", icon="⬇️")
            with b2:
                page_link("pages/3_Exercise_plan.py", "See matching exercises", "🏋️")
