"""Catalogs in and out: Excel and CSV files with Chinese column headers."""

from matcher.catalog.columns import KINDS, columns_for
from matcher.catalog.exporter import export_catalog
from matcher.catalog.importer import ImportReport, import_catalog, preview_catalog
from matcher.catalog.reader import read_table
from matcher.catalog.templates import template_workbook

__all__ = [
    "KINDS",
    "ImportReport",
    "columns_for",
    "export_catalog",
    "import_catalog",
    "preview_catalog",
    "read_table",
    "template_workbook",
]
