"""Spreadsheet-safe CSV cells: the rule lives in :mod:`posture.csvcells` (the domain
layer, so the store's audit export uses it too); these names stay for the batch code that
imports them from here."""

from ..csvcells import FORMULA_START, formula_safe, formula_unsafe, text_cell

__all__ = ["FORMULA_START", "formula_safe", "formula_unsafe", "text_cell"]
