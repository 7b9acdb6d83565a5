"""The Query value: a named template rendered with bound parameters (never user text)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Query:
    template: str  # file stem under sql/, e.g. "top_codes"
    sql: str  # the template text as run, with $named placeholders
    params: tuple[tuple[str, Any], ...] = field(default=())  # bound values, in name order
    # The SQL dialect of `sql`: templates are DuckDB's; an engine's `prepare` renders a
    # query for its own dialect (sql.dialects), and that text is what runs and is shown.
    dialect: str = "duckdb"

    @property
    def param_dict(self) -> dict[str, Any]:
        return dict(self.params)
