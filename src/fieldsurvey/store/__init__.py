"""The study: its settings (``study.yaml``) and its DuckDB store."""

from fieldsurvey.store.database import item_columns, load_responses, open_store
from fieldsurvey.store.study import (
    Exclusions,
    Study,
    StudyConfig,
    StudyError,
    init_study,
    open_study,
)

__all__ = [
    "Exclusions",
    "Study",
    "StudyConfig",
    "StudyError",
    "init_study",
    "item_columns",
    "load_responses",
    "open_store",
    "open_study",
]
