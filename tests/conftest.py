"""Shared fixtures. The demo database is built once per test session into a temp dir."""

from __future__ import annotations

import os
import tempfile
from datetime import date
from pathlib import Path

import pytest

from toprank.data.catalog import Catalog, load_catalog
from toprank.data.vocab import load_vocab
from toprank.intents.lexicon import Lexicon

# A test run's YAML cache (toprank.data.yaml_file) goes to a directory of its own, never
# the user's ~/.cache; processes the tests start inherit it.
os.environ.setdefault("TOPRANK_CACHE_DIR", tempfile.mkdtemp(prefix="toprank-test-cache-"))

# The demo data covers 2019-01-01 through 2023-09-30; tests pin "today" so periods
# such as "YTD" and "last year" are reproducible.
TODAY = date(2023, 10, 15)
# The parser's phrase tables over the shipped catalog and vocabulary, built once, as the
# pipeline does (intents.understand takes it as an argument).
LEXICON = Lexicon(load_catalog(), load_vocab())


# Fixtures whose cost makes every test using them slow (`pytest -m "not slow"` is the
# fast loop); tests that are slow on their own (processes, benchmarks) carry the marker.
SLOW_FIXTURES = {
    "demo_db": "builds the 1M-line demo database",
    "warehouse_urls": "starts PostgreSQL and Spark Connect",
    "serve_env": "runs `toprank serve` as a process",
}
# Test modules slow throughout.
SLOW_MODULES = {
    "test_datasafety": "real writer and reader processes, ingests, kills and full disks",
    "test_ingest_wide": "ingests of very wide files, through the console script",
    "test_bench": "runs the benchmark",
}
# Parameters that start a service (test_state_ops runs each test on SQLite and on a real
# PostgreSQL server).
SLOW_PARAMS = {"postgresql": "a real PostgreSQL server"}


# The fast loop runs each property test on a fifth of its examples (at least
# MIN_QUICK_EXAMPLES); every other run, CI's included, on all of them.
QUICK_SHARE = 0.2
MIN_QUICK_EXAMPLES = 20
_quick = False


def pytest_configure(config: pytest.Config) -> None:
    global _quick
    _quick = config.getoption("markexpr", "").strip() == "not slow"


def examples(full: int) -> int:
    """max_examples for a property test: `full`, or a share of it in the fast loop.
    (Test modules are imported after pytest_configure, so their settings see the mode.)"""
    return max(MIN_QUICK_EXAMPLES, round(full * QUICK_SHARE)) if _quick else full


def _is_slow(item: pytest.Item) -> bool:
    if set(getattr(item, "fixturenames", ())) & SLOW_FIXTURES.keys():
        return True
    if item.path.stem in SLOW_MODULES:
        return True
    callspec = getattr(item, "callspec", None)
    params = callspec.params.values() if callspec is not None else ()
    return any(isinstance(value, str) and value in SLOW_PARAMS for value in params)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if _is_slow(item):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return load_catalog()


@pytest.fixture(scope="session")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real DuckDB file with the default-size demo dataset and its rollups."""
    from toprank.data.demo import build_demo

    path = tmp_path_factory.mktemp("demo") / "claims.duckdb"
    build_demo(path, lines=1_000_000, progress=False)
    return path


@pytest.fixture(scope="session")
def warehouse_urls():
    """URLs of a PostgreSQL server and a Spark Connect server for the parity tests: those
    in TOPRANK_TEST_POSTGRES_URL / TOPRANK_TEST_SPARK_URL (.ci/run starts both), else
    throwaway ones started here and stopped by pid at the end. One that cannot be had is
    a failure with its reason, never a skip."""
    import os
    import shutil
    import subprocess
    import tempfile

    from tests import services

    urls = {name: os.environ.get(env, "").strip() for name, env in services.URL_ENV.items()}
    # Not under pytest's own temp dir: that is private to this user (0700), and the
    # PostgreSQL server runs as the postgres user when the tests run as root.
    directory = Path(tempfile.mkdtemp(prefix="toprank-services-"))
    directory.chmod(0o755)
    try:
        for name, starter in services.STARTERS.items():
            if not urls[name]:
                urls[name] = starter(directory).url
    except (services.ServiceError, OSError, subprocess.CalledProcessError) as error:
        services.stop_all(directory)
        shutil.rmtree(directory, ignore_errors=True)
        pytest.fail(f"a warehouse service for the parity tests is missing: {error}")
    yield urls
    services.stop_all(directory)
    shutil.rmtree(directory, ignore_errors=True)
