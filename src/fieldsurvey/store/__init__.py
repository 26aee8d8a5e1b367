"""The study: its settings (``study.yaml``) and its DuckDB store."""

from __future__ import annotations

from fieldsurvey._lazy import lazy_exports

# Loaded on first use: reading a study's settings (or knowing its file name, STUDY_FILE)
# needs no database, and DuckDB takes a tenth of a second or more to import.
_MODULES = {
    "fieldsurvey.store.database": ("item_columns", "load_responses", "open_store"),
    "fieldsurvey.store.study": ("Exclusions", "Study", "StudyConfig", "StudyError", "init_study",
                                "open_study"),
}
_LAZY = {name: module for module, names in _MODULES.items() for name in names}

__all__ = sorted(_LAZY)

__getattr__ = lazy_exports(__name__, _LAZY)
