"""The PDF report of one assessment: photo, metrics with intervals, severity, plan, safety.

Built with fpdf2. Text from users (names, notes) is written as plain text, never as markup,
with control characters removed. Unicode needs a TrueType font: DejaVu Sans from the
Debian package ``fonts-dejavu-core`` or, failing that, the copy bundled with matplotlib (a
dependency of mediapipe); ``POSTURE_PDF_FONT`` may name another .ttf. Without any, the
report falls back to the PDF core font and transliterates to Latin-1 ("°" → " deg").

People's names come in every script. Characters DejaVu lacks are drawn with a Noto font
for their script (:data:`SCRIPT_FONTS`: CJK incl. Korean, Thai, Devanagari, Bengali, Tamil,
Arabic, Hebrew, Armenian, Georgian, Ethiopic), from Debian's ``fonts-noto-core`` and
``fonts-noto-cjk``, emoji and symbols with Symbola (``fonts-symbola``, outlines), or
from folders named in ``POSTURE_PDF_FONT_DIRS``; each is added (and its
glyphs subset and embedded) only when the text needs it. With ``uharfbuzz`` installed, text
is shaped: Arabic letters join, Indic clusters form, right-to-left runs read right to left.
A character no installed font has is shown as "?", never dropped silently.
"""

from __future__ import annotations

import importlib.util
import io
import os
import unicodedata
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from fpdf import FPDF
from fpdf.enums import XPos, YPos
from fpdf.fonts import FontFace

from ..contract import from_dict
from ..palpation import WHICH_NUMBER, PalpationEstimate, palpation_equivalent
from ..plan import THOMAS_LABELS
from ..result import Reading
from ..store.history import METRICS
from ..store.records import AssessmentRecord, Patient

FONT_ENV = "POSTURE_PDF_FONT"
FONT_DIRS_ENV = "POSTURE_PDF_FONT_DIRS"
_DEBIAN_DEJAVU = Path("/usr/share/fonts/truetype/dejavu")
_DEBIAN_NOTO = (Path("/usr/share/fonts/truetype/noto"), Path("/usr/share/fonts/opentype/noto"),
                Path("/usr/share/fonts/truetype/ancient-scripts"))  # fonts-symbola
#: Fallback font per script: (name, code point ranges, regular file, bold file).
#: The CJK collection's face 0 (Japanese) has every Han, kana and Hangul glyph.
SCRIPT_FONTS: tuple[tuple[str, tuple[tuple[int, int], ...], str, str], ...] = (
    ("cjk", ((0x1100, 0x11FF), (0x2E80, 0x33FF), (0x3400, 0x9FFF), (0xA960, 0xA97F),
             (0xAC00, 0xD7FF), (0xF900, 0xFAFF), (0xFE30, 0xFE4F), (0xFF00, 0xFFEF),
             (0x20000, 0x3FFFF)), "NotoSansCJK-Regular.ttc", "NotoSansCJK-Bold.ttc"),
    ("thai", ((0x0E00, 0x0E7F),), "NotoSansThai-Regular.ttf", "NotoSansThai-Bold.ttf"),
    ("devanagari", ((0x0900, 0x097F), (0xA8E0, 0xA8FF), (0x1CD0, 0x1CFF)),
     "NotoSansDevanagari-Regular.ttf", "NotoSansDevanagari-Bold.ttf"),
    ("bengali", ((0x0980, 0x09FF),), "NotoSansBengali-Regular.ttf",
     "NotoSansBengali-Bold.ttf"),
    ("tamil", ((0x0B80, 0x0BFF),), "NotoSansTamil-Regular.ttf", "NotoSansTamil-Bold.ttf"),
    ("arabic", ((0x0600, 0x06FF), (0x0750, 0x077F), (0x08A0, 0x08FF), (0xFB50, 0xFDFF),
                (0xFE70, 0xFEFF)), "NotoSansArabic-Regular.ttf", "NotoSansArabic-Bold.ttf"),
    ("hebrew", ((0x0590, 0x05FF), (0xFB1D, 0xFB4F)), "NotoSansHebrew-Regular.ttf",
     "NotoSansHebrew-Bold.ttf"),
    ("armenian", ((0x0530, 0x058F),), "NotoSansArmenian-Regular.ttf",
     "NotoSansArmenian-Bold.ttf"),
    ("georgian", ((0x10A0, 0x10FF), (0x1C90, 0x1CBF)), "NotoSansGeorgian-Regular.ttf",
     "NotoSansGeorgian-Bold.ttf"),
    ("ethiopic", ((0x1200, 0x139F),), "NotoSansEthiopic-Regular.ttf",
     "NotoSansEthiopic-Bold.ttf"),
    # Emoji and pictographs in outline (one colour), from Debian's fonts-symbola ("free
    # for any use", may be redistributed): Noto Color Emoji is colour bitmaps, which fpdf2
    # cannot embed. Symbola has no bold and no joined (ZWJ) forms: a joined emoji shows
    # as its parts, side by side; emoji newer than Unicode 9 are not in it ("?").
    ("symbols", ((0x2190, 0x2BFF), (0x1F000, 0x1FAFF)), "Symbola_hint.ttf",
     "Symbola_hint.ttf"),
)
# joiners shape Persian and Indic text; every other format character (bidi overrides that
# could reorder a name, zero-width spaces) is removed
_KEEP_FORMAT = {"\u200c", "\u200d"}
_ACCENT = (31, 78, 121)  # dark blue: headings and rules
_MUTED = (95, 95, 95)
#: fpdf2's bidi algorithm (rules N1-N2) walks a run of neutral characters (punctuation,
#: spaces, emoji) recursively, one Python frame per character: a note of 1,000 dashes
#: overflows the stack. A direction mark (zero width) every this many neutral characters
#: bounds the walk; :data:`_NEUTRAL_HARD` is the limit when no grapheme boundary came up.
_NEUTRAL_RUN, _NEUTRAL_HARD = 48, 160
_STRONG = {"L", "R", "AL", "AN", "EN"}  # the classes that end fpdf2's walk
_LATIN1_MAP = {"°": " deg", "–": "-", "—": "-", "−": "-", "’": "'", "‘": "'", "“": '"',
               "”": '"', "≈": "~", "≥": ">=", "≤": "<=", "×": "x", "→": "->", "•": "-",
               "…": "...", "±": "+/-", "✓": "v"}


def find_unicode_font() -> tuple[Path, Path | None] | None:
    """(regular, bold or None) TrueType font paths, or None when none is installed."""
    env = os.environ.get(FONT_ENV)
    if env and Path(env).is_file():
        return Path(env), None
    dirs = [_DEBIAN_DEJAVU]
    spec = importlib.util.find_spec("matplotlib")  # found without importing it
    if spec and spec.origin:
        dirs.append(Path(spec.origin).parent / "mpl-data" / "fonts" / "ttf")
    for d in dirs:
        regular, bold = d / "DejaVuSans.ttf", d / "DejaVuSans-Bold.ttf"
        if regular.is_file():
            return regular, bold if bold.is_file() else None
    return None


def _font_dirs() -> list[Path]:
    extra = os.environ.get(FONT_DIRS_ENV, "")
    return [Path(d) for d in extra.split(os.pathsep) if d] + list(_DEBIAN_NOTO)


def script_font(ch: str) -> tuple[str, Path, Path | None] | None:
    """(name, regular, bold or None) of the installed fallback font for ``ch``'s script."""
    cp = ord(ch)
    for name, ranges, regular, bold in SCRIPT_FONTS:
        if any(lo <= cp <= hi for lo, hi in ranges):
            for d in _font_dirs():
                if (d / regular).is_file():
                    return name, d / regular, (d / bold) if (d / bold).is_file() else None
            return None
    return None


def shaping_available() -> bool:
    """Whether text shaping (uharfbuzz) is installed."""
    return importlib.util.find_spec("uharfbuzz") is not None


def to_latin1(text: str) -> str:
    """Transliterate ``text`` for the PDF core fonts (Latin-1 only)."""
    out = []
    for ch in text:
        if ch in _LATIN1_MAP:
            out.append(_LATIN1_MAP[ch])
        elif ord(ch) < 256:
            out.append(ch)
        else:
            base = "".join(c for c in unicodedata.normalize("NFKD", ch) if ord(c) < 256)
            out.append(base or "?")
    return "".join(out)


def _fallback(ch: str, cmap) -> str:
    base = "".join(c for c in unicodedata.normalize("NFKD", ch) if ord(c) in cmap)
    return base or "?"


def clean_text(text: Any) -> str:
    """User text made safe to draw: a string without control characters except newlines."""
    s = "" if text is None else str(text)
    s = s.replace("\r\n", "\n").replace("\r", "\n").replace("\t", " ")
    return "".join(c for c in s if c == "\n" or c in _KEEP_FORMAT
                   or unicodedata.category(c)[0] != "C")


def _joins_previous(prev: str, c: str, ri_odd: bool) -> bool:
    """Whether ``c`` continues the grapheme of ``prev`` (a mark between them would split
    an emoji sequence, a flag or an accented letter)."""
    cp = ord(c)
    return (prev in _KEEP_FORMAT or c in _KEEP_FORMAT or unicodedata.category(c)[0] == "M"
            or 0xFE00 <= cp <= 0xFE0F or 0x1F3FB <= cp <= 0x1F3FF or 0xE0020 <= cp <= 0xE007F
            or (ri_odd and 0x1F1E6 <= cp <= 0x1F1FF))


def break_neutral_runs(text: str, mark: str = "\u200e") -> str:
    """``text`` with ``mark`` (a zero-width direction mark) inserted into every run of
    :data:`_NEUTRAL_RUN` characters of no strong direction, at a grapheme boundary (or
    after :data:`_NEUTRAL_HARD`), so that fpdf2's bidi pass cannot exhaust the stack."""
    out: list[str] = []
    run, ri_odd, prev = 0, False, ""
    for c in text:
        if unicodedata.bidirectional(c) in _STRONG:
            run = 0
        else:
            if run >= _NEUTRAL_HARD or (run >= _NEUTRAL_RUN
                                        and not _joins_previous(prev, c, ri_odd)):
                out.append(mark)
                run = 0
            run += 1
        ri_odd = (not ri_odd) if 0x1F1E6 <= ord(c) <= 0x1F1FF else False
        out.append(c)
        prev = c
    return "".join(out)


class _Doc(FPDF):
    def __init__(self, footer_text: str):
        super().__init__(format="A4", unit="mm")
        self.footer_text = footer_text
        self.set_margins(15, 15, 15)
        self.set_auto_page_break(True, margin=16)
        font = find_unicode_font()
        self.unicode = font is not None
        if font:
            self.add_font("body", "", str(font[0]))
            self.add_font("body", "B", str(font[1] or font[0]))
            self.family = "body"
            if shaping_available():
                self.set_text_shaping(True)
        else:
            self.family = "helvetica"
        self._fallbacks: list[str] = []
        self._coverage: dict[int, bool] = {}

    def _covered(self, c: str) -> bool:
        """Whether the body font or a fallback font (added now if needed) draws ``c``
        (remembered per character: a note of 1,000 emoji looks up the font files once)."""
        cp = ord(c)
        known = self._coverage.get(cp)
        if known is None:
            known = self._coverage[cp] = self._cover(c)
        return known

    def _cover(self, c: str) -> bool:
        cp = ord(c)
        if cp in self.fonts["body"].cmap or any(
                cp in self.fonts[f].cmap for f in self._fallbacks):
            return True
        found = script_font(c)
        if found is None or found[0] in self._fallbacks:
            return False
        name, regular, bold = found
        self.add_font(name, "", str(regular))
        self.add_font(name, "B", str(bold or regular))
        self._fallbacks.append(name)
        self.set_fallback_fonts(self._fallbacks, exact_match=False)
        self._coverage.clear()  # the new font may draw characters refused before
        return cp in self.fonts[name].cmap

    def t(self, text: Any) -> str:
        s = clean_text(text)
        if not self.unicode:
            return to_latin1(s)
        # a glyph no font has would vanish without a trace: show "?" instead
        cmap = self.fonts["body"].cmap
        s = "".join(c if c == "\n" or c in _KEEP_FORMAT or self._covered(c)
                    else _fallback(c, cmap) for c in s)
        if not self.text_shaping:  # no bidi pass without shaping
            return s
        from fpdf.bidi import auto_detect_base_direction
        from fpdf.enums import TextDirection

        rtl = auto_detect_base_direction(s) == TextDirection.RTL
        return break_neutral_runs(s, "\u200f" if rtl else "\u200e")

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(self.family, "", 7.5)
        self.set_text_color(*_MUTED)
        self.cell(0, 5, self.t(self.footer_text), align="L")
        self.cell(0, 5, f"{self.page_no()} / {{nb}}", align="R")
        self.set_text_color(0, 0, 0)

    # -- building blocks ------------------------------------------------------------

    def heading(self, text: str, size: float = 12.5) -> None:
        if self.will_page_break(18):
            self.add_page()
        self.ln(2)
        self.set_font(self.family, "B", size)
        self.set_text_color(*_ACCENT)
        self.cell(0, 7, self.t(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_draw_color(*_ACCENT)
        self.line(self.l_margin, self.get_y(), self.w - self.r_margin, self.get_y())
        self.set_text_color(0, 0, 0)
        self.ln(2)

    def para(self, text: Any, size: float = 9.5, *, bold: bool = False, muted: bool = False,
             indent: float = 0.0, h: float = 4.6) -> None:
        self.set_font(self.family, "B" if bold else "", size)
        if muted:
            self.set_text_color(*_MUTED)
        self.set_x(self.l_margin + indent)
        self.multi_cell(self.w - self.r_margin - self.l_margin - indent, h, self.t(text),
                        align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_text_color(0, 0, 0)

    def bullets(self, items, size: float = 9.0, indent: float = 3.0) -> None:
        for it in items:
            self.para(("• " if self.unicode else "- ") + clean_text(it), size, indent=indent)


def _as_pil(photo: bytes | np.ndarray):
    from PIL import Image

    img = Image.open(io.BytesIO(photo)) if isinstance(photo, bytes | bytearray) else \
        Image.fromarray(np.ascontiguousarray(photo).astype(np.uint8))
    img = img.convert("RGB")
    img.thumbnail((1200, 1200))  # keeps the PDF small; 62 mm wide needs ~730 px at 300 dpi
    return img


def mark_landmarks(rgb: np.ndarray, landmarks_px) -> np.ndarray:
    """A copy of ``rgb`` with the stored landmarks drawn: the ear–shoulder–hip–knee–ankle
    chain of both sides (for saved assessments, whose pose object is not kept)."""
    import cv2

    from ..pose import LM

    img = np.ascontiguousarray(rgb.copy())
    if not landmarks_px:
        return img
    th = max(2, round(max(img.shape[:2]) / 300))
    chains = [(LM.LEFT_EAR, LM.LEFT_SHOULDER, LM.LEFT_HIP, LM.LEFT_KNEE, LM.LEFT_ANKLE),
              (LM.RIGHT_EAR, LM.RIGHT_SHOULDER, LM.RIGHT_HIP, LM.RIGHT_KNEE, LM.RIGHT_ANKLE)]
    for chain in chains:
        pts = [tuple(int(round(v)) for v in landmarks_px[int(i)][:2]) for i in chain]
        for a, b in zip(pts, pts[1:], strict=False):
            cv2.line(img, a, b, (255, 255, 255), th, cv2.LINE_AA)
        for p in pts:
            cv2.circle(img, p, 2 * th, (0, 200, 255), -1, cv2.LINE_AA)
    return img


def _fmt(v: float | None, signed: bool = True) -> str:
    if v is None:
        return "—"
    return f"{v:+.1f}°" if signed else f"{v:.1f}°"


def _coverage_pct(r: Reading) -> str:
    from ..config import thresholds

    cov = r.interval_coverage or thresholds()["estimate"]["interval_coverage"]
    return f"{round(100 * float(cov))}%"


def _metric_rows(r: Reading, palpation: PalpationEstimate | None = None
                 ) -> list[tuple[str, str, str, str]]:
    """One row per tracked metric; after the (postural) pelvic tilt, its
    palpation-equivalent value with the wider interval (``palpation``, e.g. calibrated to
    the clinic's meter, or else the uncalibrated one of ``r``)."""
    rows = []
    for spec in METRICS:
        v, iv, _ = r.metric(spec.name)
        if v is None:
            value, interval = "not measured", ""
        else:
            value = _fmt(v)
            if iv is None:
                interval = "not estimated"
            else:
                interval = f"{_fmt(iv[0])} to {_fmt(iv[1])}"
        if spec.name != "pelvic_tilt":
            rows.append((spec.label, value, interval, spec.convention))
            continue
        rows.append((f"{spec.label} (postural)", value, interval, spec.convention))
        p = palpation or palpation_equivalent(v, iv, r.interval_coverage)
        if p is not None:
            lo, hi = p.interval_deg
            how = "calibrated to the clinic's meter" if p.calibrated else \
                "wider: bone shape unknown"
            rows.append((f"{spec.label} (palpation-equivalent)", _fmt(p.value_deg),
                         f"{_fmt(lo)} to {_fmt(hi)}", f"what a palpation meter would read; "
                         f"{how}"))
    return rows


def build_report(
    result: Mapping[str, Any] | Reading,
    *,
    patient: Patient | None = None,
    record: AssessmentRecord | None = None,
    photo: bytes | np.ndarray | None = None,
    draw_landmarks: bool = False,
    plan: Any = "auto",
    thomas_test: str | None = None,
    notes: str = "",
    corrections: Mapping[str, Any] | None = None,
    taken_at: datetime | None = None,
    include_name: bool = True,
    palpation: PalpationEstimate | None = None,
) -> bytes:
    """The PDF report of one assessment, as bytes.

    Parameters
    ----------
    result
        The typed result (:class:`posture.result.Reading`, e.g. ``record.reading``) or
        the analysis contract dict (``posture analyze --json``).
    patient, record
        The patient and, for a saved assessment, its record (whose Thomas test, notes,
        corrections and date override the keyword arguments of the same meaning).
    photo
        Annotated RGB array, or JPEG/PNG bytes; with ``draw_landmarks`` the stored
        ``landmarks_px`` of ``result`` are drawn on it first.
    plan
        ``"auto"`` makes the exercise plan from ``result``; a ``posture.plan.Plan``; or None
        for no plan section.
    include_name
        Print the patient's name (personal data) beside the pseudonym.
    palpation
        The palpation-equivalent tilt to print (e.g. calibrated to the clinic's meter,
        :func:`posture.store.history.palpation_by_record`); by default the uncalibrated one
        of ``result``.
    """
    result = from_dict(result, strict=False)
    if record is not None:
        thomas_test, notes = record.thomas_test, record.notes
        corrections, taken_at = record.corrections, record.taken_at
    pdf = _Doc("posture · screening aid, not a diagnosis · generated "
               + datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"))
    pdf.set_title("Posture assessment report")
    pdf.set_creator("posture")
    pdf.add_page()
    _title(pdf, result, patient, taken_at, include_name)
    _findings(pdf, result, photo, draw_landmarks, palpation)
    _clinical(pdf, thomas_test, notes, corrections)
    if plan == "auto":
        plan = _auto_plan(result, thomas_test)
    if plan is not None:
        _plan_section(pdf, plan)
    return bytes(pdf.output())


def _title(pdf: _Doc, result, patient, taken_at, include_name) -> None:
    pdf.set_font(pdf.family, "B", 17)
    pdf.set_text_color(*_ACCENT)
    pdf.cell(0, 9, pdf.t("Posture assessment report"), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_text_color(0, 0, 0)
    rows = []
    if patient is not None:
        rows.append(("Patient", patient.pseudonym))
        if include_name and patient.name:
            rows.append(("Name", patient.name))
        rows.append(("Birth year / sex", f"{patient.birth_year or '—'} / {patient.sex or '—'}"))
    when = taken_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if taken_at else "—"
    rows += [("Assessment date", when),
             ("Facing", str(result.facing or "—")),
             ("Pose model / estimator", f"{result.pose_variant or '—'} / "
                                        f"{result.estimator_version or 'none'}")]
    pdf.set_font(pdf.family, "", 9.5)
    with pdf.table(col_widths=(45, 135), width=180, align="LEFT", first_row_as_headings=False,
                   borders_layout="NONE", line_height=5.2, text_align="LEFT") as table:
        for k, v in rows:
            r = table.row()
            r.cell(pdf.t(k), style=FontFace(emphasis="BOLD", color=_MUTED))
            # one line each: a name of 200 line breaks made a row taller than the page
            r.cell(pdf.t(" ".join(clean_text(v).split())))


def _findings(pdf: _Doc, result, photo, draw_landmarks,
              palpation: PalpationEstimate | None = None) -> None:
    pdf.heading("Findings")
    top = pdf.get_y()
    table_x, table_w = pdf.l_margin, 180.0
    bottom = top
    if photo is not None:
        img = _as_pil(photo if not draw_landmarks else
                      mark_landmarks(np.asarray(_as_pil(photo)), result.landmarks_px))
        w = 60.0
        h = min(110.0, w * img.height / img.width)
        w = h * img.width / img.height
        pdf.image(img, x=pdf.l_margin, y=top, w=w, h=h)
        bottom = top + h
        table_x, table_w = pdf.l_margin + 64.0, 116.0
    pdf.set_font(pdf.family, "", 8.8)
    pdf.set_xy(table_x, top)
    pdf.set_left_margin(table_x)  # the table and following text sit beside the photo
    heads = FontFace(emphasis="BOLD", color=(255, 255, 255), fill_color=_ACCENT)
    with pdf.table(col_widths=(29, 16, 34, 37), width=table_w, align="LEFT", line_height=4.6,
                   headings_style=heads, text_align="LEFT", cell_fill_color=(242, 245, 249),
                   cell_fill_mode="ROWS") as table:
        r = table.row()
        for h_ in ("Metric", "Value", f"{_coverage_pct(result)} interval", "Convention"):
            r.cell(pdf.t(h_))
        for row in _metric_rows(result, palpation):
            r = table.row()
            for c in row:
                r.cell(pdf.t(c))
    pdf.ln(1)
    if result.pelvic_tilt_deg is not None:
        # no "?" in the report itself: a "?" in the PDF means a glyph no font had
        pdf.para("Which pelvic tilt is shown: " + WHICH_NUMBER, 7.8, muted=True)
    pdf.ln(1)
    _severity(pdf, result)
    pdf.set_left_margin(15)
    pdf.set_y(max(pdf.get_y(), bottom) + 2)


def _severity(pdf: _Doc, result: Reading) -> None:
    if result.abstained or result.severity is None:
        pdf.para("Pelvic tilt was not graded: the tool abstained.", 9.5, bold=True)
        pdf.bullets([str(r) for r in result.reasons] or ["no reason given"], 8.5)
        guidance = list(result.retake_guidance)
        if guidance:
            pdf.para("To retake the photo:", 8.5)
            pdf.bullets(guidance, 8.5)
    else:
        label = result.band_text or result.severity
        pdf.para(f"Severity band: {label}", 10, bold=True)
        probs = result.severity_probabilities or {}
        if probs:
            top = sorted(probs.items(), key=lambda kv: -kv[1])[:3]
            pdf.para("Band probabilities: " + ", ".join(f"{k} {100 * v:.0f}%" for k, v in top),
                     8.5)
    if result.severity_disclaimer:
        pdf.para(result.severity_disclaimer, 8, muted=True)
    if result.error is not None:
        pdf.para(f"Error [{result.error.code}]: {result.error.message}", 8.5)


def _clinical(pdf: _Doc, thomas_test, notes, corrections) -> None:
    pdf.heading("Clinical details")
    pdf.para(f"Modified Thomas test: {THOMAS_LABELS.get(thomas_test, thomas_test)}", 9.5)
    if corrections:
        moved = ", ".join(f"{k} → ({float(v[0]):.0f}, {float(v[1]):.0f}) px"
                          for k, v in corrections.items())
        pdf.para(f"Landmarks corrected by the clinician: {moved}", 9.5)
    else:
        pdf.para("Landmarks: as detected (no corrections).", 9.5)
    if clean_text(notes).strip():
        pdf.para("Notes:", 9.5, bold=True)
        pdf.para(notes, 9.5, indent=3)


def _auto_plan(result, thomas_test):
    from ..errors import PostureError
    from ..plan import PlanInput, make_plan

    try:
        return make_plan(PlanInput.from_reading(result), thomas_test=thomas_test)
    except PostureError as err:  # a broken plan data file must not stop the report
        return err


def _plan_section(pdf: _Doc, plan) -> None:
    pdf.heading("Exercise plan")
    if isinstance(plan, Exception):
        pdf.para(f"The exercise plan is unavailable ({getattr(plan, 'code', 'error')}).", 9.5)
        return
    pdf.para(plan.headline, 10, bold=True)
    for g in plan.retake_guidance:
        pdf.bullets([g], 9)
    for n, it in enumerate(plan.items, 1):
        _plan_item(pdf, n, it)
    if plan.notes:
        if pdf.will_page_break(20):
            pdf.add_page()
        pdf.para("Notes", 9.5, bold=True)
        pdf.bullets(plan.notes, 8.5)
    pdf.heading("Safety")
    pdf.para(plan.red_flags_intro, 9.5, bold=True)
    pdf.bullets(plan.red_flags, 9)
    pdf.ln(2)
    pdf.para(plan.disclaimer, 8.5, muted=True)


def _plan_item(pdf: _Doc, n: int, it) -> None:
    pic = Path(it.image_path) if it.image_path else None
    if pdf.will_page_break(36):
        pdf.add_page()
    top, page = pdf.get_y() + 1, pdf.page
    indent = 0.0
    if pic is not None and pic.is_file():
        pdf.image(str(pic), x=pdf.l_margin, y=top, w=30, h=30, keep_aspect_ratio=True)
        indent = 34.0
    pdf.set_y(top)
    pdf.para(f"{n}. {it.name}  ({it.kind})", 10, bold=True, indent=indent)
    pdf.para(f"Dose: {it.dose_text}", 8.8, indent=indent)
    pdf.para(f"Why: {it.why}", 8.8, indent=indent, muted=True)
    for i, s in enumerate(it.steps, 1):
        pdf.para(f"{i}. {s}", 8.5, indent=indent + 2, h=4.2)
    for c in it.cautions:
        pdf.para(f"Care: {c}", 8.5, indent=indent, h=4.2)
    below_picture = top + 31 if indent and pdf.page == page else 0.0
    pdf.set_y(max(pdf.get_y(), below_picture) + 2)
