"""Spreadsheet-safe CSV cells, shared by every CSV we write (batch results, clinic export,
audit trail).

A cell whose text starts with ``=``, ``+``, ``-``, ``@``, tab or carriage return is run as a
formula by Excel, LibreOffice and Google Sheets (OWASP "CSV injection"), e.g. a file named
``=HYPERLINK(...).jpg``. Such text gets a leading apostrophe, which spreadsheets take as
"this is text" and do not show. Text that already starts with an apostrophe gets one more,
so :func:`formula_unsafe` gives back exactly the original (batch resume relies on it).
"""

from __future__ import annotations

from typing import Any

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def formula_safe(v: Any) -> Any:
    """``v`` with a leading apostrophe when it is text a spreadsheet would evaluate (or text
    that starts with an apostrophe); anything else unchanged."""
    if isinstance(v, str) and v.startswith((*FORMULA_START, "'")):
        return "'" + v
    return v


def formula_unsafe(v: str) -> str:
    """The original text of a cell written by :func:`formula_safe`."""
    return v[1:] if v.startswith("'") and v[1:].startswith((*FORMULA_START, "'")) else v


def text_cell(v: Any) -> Any:
    """A cell of a CSV that a person opens in a spreadsheet (the clinic and audit exports):
    :func:`formula_safe`, and line breaks as LF.

    Python's csv module quotes a field only for the characters of its line terminator
    (``"\\n"`` here): a bare CR would go out unquoted and split the row in a spreadsheet.
    """
    v = formula_safe(v)
    return v.replace("\r\n", "\n").replace("\r", "\n") if isinstance(v, str) else v
