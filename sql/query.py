"""The Query value: a named template rendered with bound parameters (never user text)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Query:
    template: str  # file stem under sql/, e.g. "top_codes"
    sql: str  # the template text as run, with $named placeholders
    params: tuple[tuple[str, Any], ...] = field(default=())  # bound values, in name order

    @property
    def param_dict(self) -> dict[str, Any]:
        return dict(self.params)
