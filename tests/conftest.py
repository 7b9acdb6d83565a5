"""Shared fixtures. The demo database is built once per test session into a temp dir."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from data.catalog import Catalog, load_catalog

# The demo data covers 2019-01-01 through 2023-09-30; tests pin "today" so periods
# such as "YTD" and "last year" are reproducible.
TODAY = date(2023, 10, 15)


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return load_catalog()


@pytest.fixture(scope="session")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real DuckDB file with the default-size demo dataset and its rollups."""
    from data.demo import build_demo

    path = tmp_path_factory.mktemp("demo") / "claims.duckdb"
    build_demo(path, lines=1_000_000, progress=False)
    return path
