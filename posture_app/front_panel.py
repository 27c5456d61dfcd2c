"""The front (or back) view in the results panel (issue 28): which findings a reading
shows, the frontal values in words, and the verdict card's front-view parts.

A reading says which views it measured (``Reading.views``: ``("side",)``,
``("front",)``, ``("side", "front")``, ...); an older saved result without them is a side
view. The side view's findings are shown only where a side photo was measured and the
front view's only where a front or back photo was, so a side photo alone looks as before.
Nothing here measures: the values, intervals and flags are the library's.
"""

from __future__ import annotations

import html

from posture.measures import MeasureSpec, findings
from posture.result import Reading

from .text import EXPLAIN, FRONT_ONLY_TILT, flag_text, sign_words

SIDE = "side"
FRONTAL = ("front", "back")


def views_of(res: Reading) -> tuple[str, ...]:
    """The views a reading measured; ``("side",)`` for a result saved before issue 28."""
    return tuple(res.views) or (res.view_kind or SIDE,)


def frontal_view(res: Reading) -> str | None:
    """"front" or "back" when the reading measured that view, else None."""
    return next((v for v in views_of(res) if v in FRONTAL), None)


def front_only(res: Reading) -> bool:
    """A front or back photo without a side photo (no sagittal tilt, no grade)."""
    return frontal_view(res) is not None and SIDE not in views_of(res)


def _measured(s: MeasureSpec, views: tuple[str, ...]) -> bool:
    # the registry's "front" covers a front and a back photo
    return s.view in views or (s.view == "front" and any(v in FRONTAL for v in views))


def shown_findings(res: Reading, view: str | None = None) -> tuple[MeasureSpec, ...]:
    """The registry's findings of the views ``res`` measured, in the registry's order;
    ``view`` ("side" or "front") keeps one view's."""
    views = views_of(res)
    return tuple(s for s in findings() if _measured(s, views)
                 and (view is None or s.view == view))


def value_text(s: MeasureSpec, v: float) -> str:
    """A value with its unit: degrees, or a fraction of stature as a percentage."""
    return f"{v * 100:+.1f}% of height" if s.unit == "stature" else f"{v:+.1f}°"


def interval_text(s: MeasureSpec, res: Reading) -> str | None:
    """"90% interval a to b" of a measure (None without one)."""
    iv = res.interval(s.name)
    if iv is None:
        return None
    m = res.measurement(s.name)
    cov = m.coverage if m is not None and m.coverage else 0.9
    lo, hi = (value_text(s, x).replace(" of height", "") for x in iv)
    return f"{cov:.0%} interval {lo} to {hi}" + (" of height" if s.unit == "stature" else "")


def detail_text(s: MeasureSpec, res: Reading) -> str:
    """The line under a frontal value: its sign in words and its interval."""
    v = res.value(s.name)
    parts = [sign_words(s.name, v)] if v is not None else []
    iv = interval_text(s, res)
    return " · ".join([*parts, iv] if iv else parts)


def _headline_frontal() -> MeasureSpec:
    """The front view's first finding (the registry's order: the pelvic obliquity)."""
    return next(s for s in findings() if s.view == "front")


def _headline(res: Reading):
    """The headline front measure's spec, its value (None when not measured) and its raised
    flag's words (None when the flag is not raised)."""
    s = _headline_frontal()
    flag = flag_text(s.key, res)
    return s, res.value(s.name), (flag if flag and flag != "Not flagged" else None)


def card_line_html(res: Reading) -> str:
    """The verdict card's line on the front view beside a side view's grade: the pelvis
    level in words, and the flag's meaning when it is raised. Empty without a front view."""
    view = frontal_view(res)
    if view is None:
        return ""
    s, v, flag = _headline(res)
    if v is None:
        text = f"Seen from the {view}: {EXPLAIN[s.key][0].lower()} not measured."
    else:
        text = (f"Seen from the {view}: {EXPLAIN[s.key][0].lower()} {value_text(s, v)} "
                f"({sign_words(s.name, v)}).")
    if flag:
        text += f" {flag}: a clinician should check it; your plan says why."
    return f'<p class="pv-also" data-view="{html.escape(view)}">{html.escape(text)}</p>'


def front_card_html(res: Reading, key: str) -> str:
    """The verdict card of a front or back photo alone: the pelvis level with its sign in
    words and interval, its flag, and that the forward/backward tilt and its grade need a
    side photo (no severity is shown: none was measured)."""
    e = html.escape
    view = frontal_view(res) or "front"
    s, v, flag = _headline(res)
    title = EXPLAIN[s.key][0]
    if v is None:
        value = f'<p class="pv-tilt">{e(title)}: not measured</p>'
    else:
        value = (f'<p class="pv-tilt"><span class="pv-value">{e(value_text(s, v))}</span>'
                 f'{e(title.lower())}</p><p class="pv-iv">{e(detail_text(s, res))}</p>')
    band = "#e26d69" if flag else "#999"
    flagged = f'<p class="pv-band">{e(flag)}: a clinician should check it</p>' if flag else ""
    return (f'<div class="pv-card" data-view="{e(view)}" style="--pv-band:{band}">'
            f'<h2 class="pv-kicker" id="pv-verdict-{e(key)}" tabindex="-1">Your result '
            f'(from the {e(view)})</h2>{value}{flagged}'
            f'<p class="pv-meaning">{e(FRONT_ONLY_TILT)}</p></div>')
