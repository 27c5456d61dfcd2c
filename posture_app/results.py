"""The results panel shared by the photo and live pages, and the picture of the bands."""

from __future__ import annotations

import html
import json
import math
from collections.abc import Callable, Sequence

import numpy as np
import streamlit as st

from posture.contract import from_dict, to_dict
from posture.measures import findings, measures
from posture.result import ErrorInfo, Reading
from posture.safe import INTERNAL_ERROR

from .front_panel import (
    card_line_html,
    detail_text,
    front_card_html,
    front_only,
    frontal_view,
    shown_findings,
    value_text,
)
from .text import (
    EXPLAIN,
    NO_TYPICAL_RANGE,
    PLUMB_EXPLAIN,
    TILT_SIGN,
    band_meaning,
    error_text,
    flag_text,
    reason_text,
)

BAND_COLOURS = {"posterior": "#8fb3de", "neutral": "#7cc596", "mild": "#f3d36b",
                "moderate": "#f2a553", "severe": "#e26d69"}
#: The measure the verdict card shows (the registry's headline, the pelvic tilt).
HEADLINE = next(s for s in measures() if s.panel == "headline")
OVERLAY_LEGEND = ("White: skeleton · blue dots: the joints nearest the camera · green: "
                  "your outline · yellow: plumb line from the ankles · red: estimated "
                  "PSIS→ASIS line of the pelvis (dot at the front)")
#: The legend of a front or back photo's drawing (posture.present.overlay).
FRONT_LEGEND = ("White: skeleton · red: the line through your hip joints (is the pelvis "
                "level?) · blue: your shoulder line · yellow: plumb line up from the middle "
                "of your ankles")


def _svg_label(value: float | None, interval: Sequence[float] | None,
               band: str | None) -> str:
    """The chart's accessible name: what it shows, and where the reading is."""
    label = "Pelvic tilt severity bands"
    if value is None:
        return label
    label += f": your tilt {value:+.1f}°"
    if interval is not None:
        label += f" (interval {interval[0]:+.1f}° to {interval[1]:+.1f}°)"
    return label + (f", in the {band} band" if band else "")


def bands_svg(bands: Sequence, value: float | None = None,
              interval: Sequence[float] | None = None, *, lo: float = -10.0,
              hi: float = 35.0, width: int = 360, band: str | None = None) -> str:
    """An SVG bar of the severity bands with a marker at ``value`` and its interval.

    ``bands`` are :class:`posture.classify.Band` (id, label, lower_deg, upper_deg); values
    outside ``lo``–``hi`` are drawn at the edge with an arrow. ``band`` (the reading's band
    in words) goes into the accessible name with the value.

    The drawing is ``width`` units wide with 14-unit text, about the CSS px of a phone's
    column, so its text reads at 12 px or more there (a 640-unit drawing shrank it to 5–6 px);
    on a wide screen it grows to at most 1.4×. Band names sit under the bar on two staggered
    rows, so the narrow 5° bands keep whole words.
    """
    pad, bar_y, bar_h, fs = 12, 46, 24, 14
    span = width - 2 * pad
    rows = (bar_y + bar_h + 17, bar_y + bar_h + 35, bar_y + bar_h + 53)  # ticks, names A/B

    def x(deg: float) -> float:
        return pad + (min(max(deg, lo), hi) - lo) / (hi - lo) * span

    label = html.escape(_svg_label(value, interval, band), quote=True)
    height = rows[2] + 24
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
             f'width="100%" role="img" aria-label="{label}" '
             f'style="max-width:{round(width * 1.4)}px;font-family:sans-serif">',
             f"<title>{label}</title>"]
    for i, b in enumerate(bands):
        x0, x1 = x(b.lower_deg if math.isfinite(b.lower_deg) else lo), \
            x(b.upper_deg if math.isfinite(b.upper_deg) else hi)
        colour = BAND_COLOURS.get(b.id, "#cccccc")
        parts.append(f'<rect x="{x0:.1f}" y="{bar_y}" width="{x1 - x0:.1f}" height="{bar_h}" '
                     f'fill="{colour}"/>')
        short = html.escape(b.label.replace(" anterior tilt", "").replace(" tilt", ""))
        parts.append(f'<text x="{(x0 + x1) / 2:.1f}" y="{rows[1 + i % 2]}" font-size="{fs}" '
                     f'text-anchor="middle" fill="#1d1d1d">{short}</text>')
        if math.isfinite(b.upper_deg):
            parts.append(f'<text x="{x1:.1f}" y="{rows[0]}" font-size="{fs}" '
                         f'text-anchor="middle" fill="#444">{b.upper_deg:g}°</text>')
    parts.append(f'<text x="{pad}" y="{height - 4}" font-size="{fs}" fill="#444">'
                 f'← posterior</text>')
    parts.append(f'<text x="{width - pad}" y="{height - 4}" font-size="{fs}" '
                 f'text-anchor="end" fill="#444">anterior →</text>')
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
        text = f"{value:+.1f}°" + (" (off scale)" if not lo <= value <= hi else "")
        anchor = "start" if vx < width * 0.25 else "end" if vx > width * 0.75 else "middle"
        parts.append(f'<text x="{vx:.1f}" y="{bar_y - 20}" font-size="{fs + 1}" '
                     f'font-weight="bold" text-anchor="{anchor}" fill="#111">'
                     f'you: {html.escape(text)}</text>')
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


PLAN_PAGE = "pages/3_Exercise_plan.py"

#: The verdict card's look: wraps every line (no ellipsis at any width), band colour on the
#: left edge. Classes are ``pv-*`` so they cannot clash with Streamlit's. The heading takes
#: focus after a result for screen readers (it is not a control: no focus ring).
_CARD_CSS = """<style>
.pv-card{border:1px solid rgba(128,128,128,.35);border-left:8px solid var(--pv-band,#999);
border-radius:10px;padding:12px 14px;margin:0 0 6px;overflow-wrap:anywhere}
.pv-card h2.pv-kicker{font-size:.8rem;font-weight:600;text-transform:uppercase;
letter-spacing:.04em;color:#50525c;margin:0;padding:0;line-height:1.4;scroll-margin-top:72px}
.pv-kicker:focus,.pv-kicker:focus-visible{outline:none}
.pv-tilt{font-size:1.05rem;margin:2px 0 0}
.pv-value{font-size:2.2rem;font-weight:700;line-height:1.15;margin-right:6px}
.pv-iv,.pv-sign,.pv-also{font-size:.88rem;color:#4a4c56;margin:2px 0 0}
.pv-also{margin-top:6px}
.pv-band{font-size:1.3rem;font-weight:700;margin:8px 0 2px;white-space:normal}
.pv-meaning{margin:4px 0 0;font-size:1rem}
</style>"""


def _typed(res: dict | Reading) -> Reading:
    """The result as the library's typed :class:`~posture.result.Reading` (a dict that does
    not parse reads as its ``invalid_result`` error)."""
    return from_dict(res, strict=False)


def _band_words(res: dict | Reading) -> tuple[str, str]:
    """The band in words (the reading's own ``severity_phrase``) and its one sentence of
    meaning; both name the two bands when they are too close to call, so heading and
    sentence agree."""
    from posture.classify import Severity, runner_up

    r = _typed(res)
    band, label = r.severity, r.severity_label
    if not band:
        return "Not graded", ""
    phrase = r.band_text or band
    try:
        other = runner_up(Severity(band, label or band, dict(r.severity_probabilities or {})))
    except (KeyError, ValueError, TypeError):  # a hand-edited saved result
        return phrase, band_meaning(band)
    return phrase, band_meaning(band, other)


def _band_phrase(res: dict | Reading) -> str:
    """The band in words, naming both bands when they are close (``classify.band_phrase``)."""
    return _band_words(res)[0]


def refused(res: dict | Reading) -> bool:
    """Whether a picture was refused: unreadable, or a view that needs a retake (not merely
    an installation without a tilt estimator)."""
    r = _typed(res)
    if r.error is not None and r.landmarks_px is None:
        return True
    # a front or back photo alone is measured (no_side_view: no sagittal tilt from it)
    return r.pelvic_tilt_deg is None and any(
        code not in ("estimator_unavailable", "no_side_view") for code in r.reason_codes)


def retake_message(res: dict | Reading) -> str | None:
    """What was wrong with a refused picture and how to retake it (Markdown), or None for
    a measured one. The page keeps it on screen after "Retake" empties the picture."""
    r = _typed(res)
    if r.error is not None and r.landmarks_px is None:
        code = r.error.code
        return f"{error_text(code, r.error.message)}\n\nError code: `{code}`"
    if not refused(r):
        return None
    lines = "\n".join(f"- {reason_text(x)}" for x in r.reasons)
    tips = "\n".join(f"- {g}" for g in r.retake_guidance)
    return f"{lines}\n\n**How to retake:**\n{tips}" if tips else lines


def show_error(res: dict | Reading, *, retake: Callable[[], None] | None = None,
               key: str = "") -> None:
    """A clear, non-technical message for an input that could not be analysed."""
    r = _typed(res)
    if r.error is None:
        r = Reading(ok=False, abstained=True, error=ErrorInfo(INTERNAL_ERROR, ""))
    st.error(f"**We could not analyse this picture.** {retake_message(r)}", icon="🚫")
    retake_button(retake, key=f"retake-error-{key}")


def retake_button(retake: Callable[[], None] | None, *, key: str) -> None:
    """The way back after a refused picture (nothing when the page has no way to retake)."""
    if retake is not None:
        st.button("📷 Retake the photo", key=key, on_click=retake, type="primary",
                  width="stretch")


def _go_to_plan() -> None:
    from streamlit.errors import StreamlitAPIException

    try:
        st.switch_page(PLAN_PAGE)
    except StreamlitAPIException:  # page run on its own (AppTest): no navigation
        st.session_state["_posture_plan_requested"] = True


def verdict_card(res: dict | Reading, *, key: str,
                 retake: Callable[[], None] | None = None) -> None:
    """The answer first: tilt with its interval, the band in words, one sentence of meaning
    and the next step. On a phone it is the first thing under the title."""
    res = _typed(res)
    tilt = res.pelvic_tilt_deg
    with st.container(key=f"verdict-{key}"):
        if front_only(res) and not refused(res):  # the side-to-side measures, no grade
            st.html(_CARD_CSS + front_card_html(res, key))
            if res.obliquity_flag:
                st.button("Next: what to do about it →", key=f"to-plan-{key}",
                          type="primary", width="stretch", on_click=_go_to_plan)
            return
        if tilt is None:
            reasons = res.reasons
            only_estimator = reasons and all(r.code == "estimator_unavailable"
                                             for r in reasons)
            st.markdown("#### Pelvic tilt: not measured")
            if only_estimator or not reasons:
                lines = "\n".join(f"- {reason_text(r)}" for r in reasons)
                st.info(lines + " The other findings below are measured.", icon="ℹ️")
                return
            st.warning(f"**Please retake the picture.**\n\n{retake_message(res)}", icon="📷")
            retake_button(retake, key=f"retake-{key}")
            return
        iv = res.pelvic_tilt_interval_deg
        cov = res.interval_coverage or 0.9
        band = res.severity or ""
        e = html.escape
        iv_txt = (f"{cov:.0%} interval {iv[0]:+.1f}° to {iv[1]:+.1f}°" if iv else
                  "no interval available")
        phrase, meaning = _band_words(res)
        which = which_number_html(res)
        outside = _outside_typical(res)
        also = (f'<p class="pv-also">Outside the typical range: {e(", ".join(outside))} '
                f'(see Other findings; typical is not the same as healthy).</p>'
                if outside else "")
        st.html(_CARD_CSS + (
            f'<div class="pv-card" data-band="{e(band)}" style="--pv-band:'
            f'{BAND_COLOURS.get(band, "#999")}">'
            f'<h2 class="pv-kicker" id="pv-verdict-{e(key)}" tabindex="-1">Your result</h2>'
            f'<p class="pv-tilt"><span class="pv-value">{tilt:+.1f}°</span>pelvic tilt</p>'
            f'<p class="pv-iv">{e(iv_txt)}</p>'
            f'<p class="pv-sign">{e(TILT_SIGN)}</p>{which}'
            f'<p class="pv-band">{e(phrase)}</p>'
            f'<p class="pv-meaning">{e(meaning)}</p>{also}{card_line_html(res)}</div>'))
        st.button("Next: your exercise plan →", key=f"to-plan-{key}", type="primary",
                  width="stretch", on_click=_go_to_plan)


#: Which number the card shows and why, in one sentence (issue 25).
SHOWN_NUMBER = ("This is your postural tilt: what the photo shows, and what exercise "
                "changes.")


def which_number_html(res: Reading) -> str:
    """The card's line on the two numbers: the postural tilt shown, and what a palpation
    meter on the bone would read, with its wider interval (posture.palpation)."""
    from posture.palpation import palpation_equivalent

    p = palpation_equivalent(res.pelvic_tilt_deg, res.pelvic_tilt_interval_deg,
                             res.interval_coverage)
    text = SHOWN_NUMBER
    if p is not None:
        lo, hi = p.interval_deg
        text += (f" A palpation meter on the bone would read about {p.value_deg:+.1f}° "
                 f"({lo:+.1f}° to {hi:+.1f}°): a wider range, because the shape of the "
                 "pelvis itself differs between people.")
    return f'<p class="pv-also">{html.escape(text)}</p>'


def change_since_note(previous: dict | Reading, current: dict | Reading) -> str | None:
    """The change of the postural tilt since the previous check, called a likely real
    change only beyond the retake MDC95 (posture.change), or None without two tilts."""
    from posture.change import judge_change

    a, b = _typed(previous), _typed(current)
    if a.pelvic_tilt_deg is None or b.pelvic_tilt_deg is None:
        return None
    v = judge_change("pelvic_tilt", a.pelvic_tilt_deg, b.pelvic_tilt_deg, "estimated",
                     "estimated")
    return (f"Since your previous check: {v.change_deg + 0.0:+.1f}° "
            f"({a.pelvic_tilt_deg:+.1f}° → {b.pelvic_tilt_deg:+.1f}°), {v.words}.")


def overlay_alt(res: Reading) -> str:
    """Alternative text of the annotated picture: what is drawn, with the numbers (the
    picture's own label is too small to read at 200% zoom or with a screen reader)."""
    if front_only(res):
        return front_alt(res)
    parts = ["Your picture with the measurements drawn on it: skeleton, outline and a "
             "plumb line from the ankles"]
    if res.pelvic_tilt_deg is not None:
        band = _band_phrase(res)
        parts.append(f"; a red line across the pelvis at {res.pelvic_tilt_deg:+.1f}° of "
                     f"pelvic tilt ({band})")
    else:
        parts.append("; no pelvic tilt measured")
    return "".join(parts) + "."


def front_alt(res: Reading) -> str:
    """Alternative text of a front (or back) photo's drawing, with the pelvis level."""
    from posture.measures import spec

    s = spec("pelvic_obliquity")
    v = res.value(s.name)
    level = (f" at {value_text(s, v)} ({detail_text(s, res).split(' · ')[0]})"
             if v is not None else " (not measured)")
    return (f"Your photo from the {frontal_view(res)} with the skeleton, the shoulder line, "
            f"a plumb line from the ankles and a red line through the hip joints{level}.")


def _fmt(v: float | None, unit: str = "°") -> str:
    return "—" if v is None else f"{v:+.1f}{unit}"


def _explain_tilt(res: Reading) -> None:
    """The detail behind the card: band chances, the bands picture, the disclaimer."""
    from posture.classify import bands

    tilt = res.pelvic_tilt_deg
    if tilt is None:
        return
    title, explain = EXPLAIN[HEADLINE.key]
    st.markdown(f"**{title}:** {explain}")
    probs = res.severity_probabilities or {}
    if probs:
        labels = {b.id: b.label for b in bands()}
        ranked = sorted(((v, k) for k, v in probs.items() if v >= 0.05), reverse=True)
        st.markdown("**How sure is the band?** Given the uncertainty of the estimate: " +
                    "; ".join(f"{labels.get(k, k)} {v:.0%}" for v, k in ranked) + ".")
    st.markdown(bands_svg(bands(), tilt, res.pelvic_tilt_interval_deg,
                          band=_band_phrase(res)), unsafe_allow_html=True)
    st.caption(res.severity_disclaimer or "")


#: The secondary findings' contract keys, in the order the panel shows them (registry).
FINDINGS = tuple(s.key for s in findings())


def _outside_typical(res: Reading) -> list[str]:
    """Short names of the secondary findings outside their typical range (the orange badges
    below), so the verdict card never sits silently beside them."""
    from posture.typical import judge

    if res.view is not None and not res.view.ok:
        return []
    out = []
    for s in shown_findings(res):
        key = s.key
        j = judge(key, res.value(s.name))
        if j is not None and not j[0]:
            out.append(EXPLAIN[key][0].split(" (")[0].lower())
    return out


def _typical_badge(key: str, v: float | None) -> str:
    from posture.typical import judge

    j = judge(key, v)
    if j is None:
        return ""
    inside, r = j
    return " :green-badge[typical]" if inside else " :orange-badge[outside typical]"


def _explain_finding(key: str, explain: str) -> None:
    """What a finding means and its typical range with the source, one click away."""
    from posture.typical import typical_note, typical_ranges

    r = typical_ranges().get(key)
    label = "What it means" + (f" · typical {r.text()}" if r else "")
    with st.expander(label, icon="📚"):
        st.markdown(explain)
        if key in NO_TYPICAL_RANGE and r is None:
            st.markdown(f"**No typical range is shown.** {NO_TYPICAL_RANGE[key]}")
        if r is not None:
            st.markdown(f"**Typical range: {r.text()}.** {r.how}")
            st.markdown("**Sources:**\n" + "\n".join(f"- {s}" for s in r.sources))
            st.caption(typical_note())


def lordosis_missing_why(res: Reading) -> str:
    """Why the lower-back curve has no value: it is estimated with the pelvic tilt, so it
    is withheld whenever the tilt is (the reasons are on the card above)."""
    if "estimator_unavailable" in res.reason_codes:
        return " (needs the pelvic tilt estimator)"
    return " (withheld with the pelvic tilt: see why above)"


def _show_findings(res: Reading) -> None:
    side = shown_findings(res, "side")
    if side:
        st.markdown("#### Other findings")
        _finding_tiles(res, side)
    plumb = res.plumb_offsets_stature or {}
    if side and plumb:
        with st.container(border=True, key="finding-plumb"):
            # a partial view has no ankle point: its offsets are None, said so, not summed
            txt = " · ".join(f"{k} {v * 100:+.1f}%" if v is not None else f"{k} not measured"
                             for k, v in plumb.items())
            st.markdown(f"**Plumb line, offset in front of the ankle:** {txt}")
            st.caption(PLUMB_EXPLAIN)
    view = frontal_view(res)
    if view is not None:
        st.markdown(f"#### Seen from the {view} (side to side)")
        _finding_tiles(res, shown_findings(res, "front"), detail=True)


def _finding_tiles(res: Reading, specs: Sequence, *, detail: bool = False) -> None:
    """Two columns of finding tiles; ``detail``: each value's sign in words and interval
    under it (the front view's measures)."""
    spread = res.extra.get("spread_deg") or {}  # a capture's frame-to-frame spread
    cols = st.columns(2)
    for i, s in enumerate(specs):
        key = s.key
        title, explain = EXPLAIN[key]
        v = res.value(s.name)
        with cols[i % 2].container(border=True, key=f"finding-{key}"):
            if v is None:
                value = "not measured"
                if s.interval == "learned":  # estimated with the tilt, withheld with it
                    value += lordosis_missing_why(res)
                st.markdown(f"**{title}**  \n{value}")
            else:
                flag = flag_text(key, res)
                badge = f" :orange-badge[{flag}]" if flag and flag != "Not flagged" else ""
                shown = value_text(s, v) if detail else _fmt(v)
                st.markdown(f"**{title}**  \n### {shown}{_typical_badge(key, v)}{badge}")
                if detail:
                    st.caption(detail_text(s, res))
            if v is not None and key in spread:
                st.caption(f"Steadiness: frames differed by {spread[key]:.1f}° "
                           "(interquartile range)")
            _explain_finding(key, explain)


#: Scrolls ``SEL`` to the top of the screen (below Streamlit's header) and moves keyboard
#: focus into it. ``block:'start'``: with ``'nearest'`` an element taller than the screen
#: that is partly visible does not move, which left a phone showing "Other findings" below
#: an off-screen verdict. Layout can still shift while the run finishes (stale elements go),
#: so the position is checked again for ~2 s, and corrected only while the target is off the
#: top half of the screen (the person's own scrolling is left alone after that).
#: No "<" may appear in the script: st.html's sanitiser (DOMPurify) drops a script whose
#: text has "<" before a letter, digit or "/" (so "x<0" is written "0>x").
_SCROLL_JS = """<script>(function(){const sel=SEL;let n=0,first=-1;
function focus(el){const f=el.querySelector('[tabindex="-1"],h1,h2,h3,h4')||el;
if(!f.hasAttribute('tabindex'))f.setAttribute('tabindex','-1');f.focus({preventScroll:true});}
const t=setInterval(function(){n++;const el=document.querySelector(sel);
if(!el||!el.getBoundingClientRect().height){if(n>60)clearInterval(t);return;}
const top=el.getBoundingClientRect().top;
if(0>first){first=n;el.style.scrollMarginTop='72px';el.scrollIntoView({block:'start'});
focus(el);}else{if(0>top||top>window.innerHeight/2)el.scrollIntoView({block:'start'});
if(document.activeElement===document.body)focus(el);}
if(n-first>=20)clearInterval(t);},100);})();</script>"""


def scroll_into_view(selector: str, token: str) -> None:
    """Bring an element to the top of the screen and move keyboard focus into it, once per
    ``token`` (a new result): e.g. the verdict card on a phone after the analysis, when the
    person had scrolled down to the uploader. The page's own scroll position is kept
    otherwise."""
    done = st.session_state.setdefault("_posture_scrolled", set())
    if token in done:
        return
    done.add(token)
    st.html(_SCROLL_JS.replace("SEL", json.dumps(selector)), unsafe_allow_javascript=True)


def show_results(res: dict, overlay: np.ndarray | None, *, key: str,
                 retake: Callable[[], None] | None = None, card: bool = True,
                 front_overlay: np.ndarray | None = None) -> None:
    """The whole results panel for one contract dict (photo or aggregated capture): the
    verdict card first (``card=False`` where the page shows it elsewhere, e.g. beside the
    live video), then the picture(s) and the findings, details folded away.
    ``front_overlay``: the front (or back) photo of a reading that combines two."""
    res = _typed(res)
    frames = res.extra.get("frames")  # a capture's frame counts
    if res.landmarks_px is None and res.error is not None and not frames:
        show_error(res, retake=retake, key=key)
        return
    with st.container(key=f"result-panel-{key}"):
        if card:
            verdict_card(res, key=key, retake=retake)
        if res.pelvic_tilt_deg is not None:
            with st.expander("What does this mean?", icon="💡"):
                _explain_tilt(res)
        view_refused = res.view is not None and not res.view.ok
        left, right = st.columns([1, 1], gap="large")
        with left:
            if overlay is not None:
                st.image(overlay, width="stretch", alt=overlay_alt(res))
                st.caption(FRONT_LEGEND if front_only(res) else OVERLAY_LEGEND)
            if front_overlay is not None:
                st.image(front_overlay, width="stretch", alt=front_alt(res))
                st.caption(FRONT_LEGEND)
            if frames:
                st.caption(f"Combined from {frames.get('usable', 0)} usable of "
                           f"{frames.get('captured', 0)} frames (the median of the plain and "
                           "of the mirrored frames, averaged, as a photo and its mirror "
                           "are); the picture is one of the frames, drawn with that reading.")
        with right:
            if not view_refused:
                _show_findings(res)
            else:  # numbers from a view the gate rejected would mislead: none at all, not
                # even the facing, the camera's roll or a JSON to download
                st.caption("Other findings are not shown: this view cannot be measured.")
                return
            facing, roll = res.facing, res.roll_deg
            if facing:
                st.caption(f"Facing: {facing}" + (
                    f" · camera tilt corrected: {roll:+.1f}°" if roll is not None else ""))
            st.download_button("Download results (JSON)", json.dumps(to_dict(res), indent=2),
                               file_name="posture-result.json", mime="application/json",
                               key=f"json-{key}", icon="⬇️")
