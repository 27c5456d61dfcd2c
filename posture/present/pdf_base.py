"""What the PDF documents share: fonts, text made safe to draw, the page and its building
blocks (:class:`Doc`), the colours.

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
import os
import unicodedata
from pathlib import Path
from typing import Any

from fpdf import FPDF
from fpdf.enums import XPos, YPos

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
ACCENT = (31, 78, 121)  # dark blue: headings and rules
MUTED = (95, 95, 95)
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


class Doc(FPDF):
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
        self.set_text_color(*MUTED)
        self.cell(0, 5, self.t(self.footer_text), align="L")
        self.cell(0, 5, f"{self.page_no()} / {{nb}}", align="R")
        self.set_text_color(0, 0, 0)

    # -- building blocks ------------------------------------------------------------

    def heading(self, text: str, size: float = 12.5) -> None:
        if self.will_page_break(18):
            self.add_page()
        self.ln(2)
        self.set_font(self.family, "B", size)
        self.set_text_color(*ACCENT)
        self.cell(0, 7, self.t(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_draw_color(*ACCENT)
        self.line(self.l_margin, self.get_y(), self.w - self.r_margin, self.get_y())
        self.set_text_color(0, 0, 0)
        self.ln(2)

    def para(self, text: Any, size: float = 9.5, *, bold: bool = False, muted: bool = False,
             indent: float = 0.0, h: float = 4.6) -> None:
        self.set_font(self.family, "B" if bold else "", size)
        if muted:
            self.set_text_color(*MUTED)
        self.set_x(self.l_margin + indent)
        self.multi_cell(self.w - self.r_margin - self.l_margin - indent, h, self.t(text),
                        align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_text_color(0, 0, 0)

    def bullets(self, items, size: float = 9.0, indent: float = 3.0) -> None:
        for it in items:
            self.para(("• " if self.unicode else "- ") + clean_text(it), size, indent=indent)
