"""Packaging: what a wheel ships and where an installed toprank keeps its database.

The slow test builds the wheel with `pip wheel`, installs it into a fresh virtual
environment and runs the installed console script as a user would: it answers a question
(checked against SQL over the claim lines it built) and runs `toprank bench --scales 1M`,
and nothing is written inside site-packages. Everything runs offline: the wheel is built
without build isolation, and the new environment reads the dependencies (duckdb,
pandas...) from this one's site-packages through a path file, while toprank itself comes
only from the wheel.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import duckdb
import pytest

from toprank.data.db import DB_FILE_NAME, DEFAULT_DB, default_db_path, is_source_checkout

REPO = Path(__file__).resolve().parent.parent
PACKAGES = {"toprank"}  # one namespace: toprank.bot, toprank.data, ...


def test_the_checkout_keeps_its_database_in_data(tmp_path: Path) -> None:
    # This repository: the README's first command builds data/claims.duckdb.
    assert DEFAULT_DB == REPO / "data" / DB_FILE_NAME
    assert is_source_checkout()
    # Any folder with pyproject.toml beside the package is a checkout.
    package = tmp_path / "checkout" / "data"
    package.mkdir(parents=True)
    (package.parent / "pyproject.toml").write_text("[project]\n", encoding="utf-8")
    assert default_db_path(package, {"XDG_DATA_HOME": str(tmp_path / "xdg")}) == (
        package / DB_FILE_NAME
    )


def test_an_installed_package_keeps_its_database_in_the_user_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "site-packages" / "data"
    package.mkdir(parents=True)
    xdg = tmp_path / "xdg"
    assert default_db_path(package, {"XDG_DATA_HOME": str(xdg)}) == xdg / "toprank" / DB_FILE_NAME
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    share = tmp_path / "home" / ".local" / "share" / "toprank" / DB_FILE_NAME
    assert default_db_path(package, {}) == share
    # A relative XDG_DATA_HOME is invalid (XDG base directory spec) and ignored.
    assert default_db_path(package, {"XDG_DATA_HOME": "relative/dir"}) == share


def _files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def work_dir(tmp_path: Path) -> Path:
    """An empty directory to run in (the checkout's folders are not on the path there)."""
    empty = tmp_path / "empty"
    empty.mkdir(exist_ok=True)
    return empty


def _clean_env(home: Path) -> dict[str, str]:
    """The environment of a user of the installed tool: none of the checkout's settings."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TOPRANK_", "PYTHON", "XDG_", "VIRTUAL_ENV"))
    }
    env["HOME"] = str(home)
    return env


@pytest.mark.slow
def test_the_wheel_installs_answers_and_benches_outside_site_packages(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation"]
        + ["-w", str(wheels), str(REPO)],
        check=True,
        cwd=tmp_path,
    )
    (wheel,) = wheels.glob("toprank-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        tops = {name.split("/")[0] for name in archive.namelist()}
        names = set(archive.namelist())
    assert {t for t in tops if not t.endswith(".dist-info")} == PACKAGES  # no tests/
    for data_file in (
        "toprank/data/vocabulary.yaml",
        "toprank/sql/shapes/ranked.sql",
        "toprank/bot/py.typed",
        "toprank/bot/pipeline.py",
    ):
        assert data_file in names
    assert "toprank/bot/bench/questions.jsonl" in names  # what `toprank bench` reads

    home = tmp_path / "home"
    home.mkdir()
    env = _clean_env(home)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, env=env)
    python = venv / "bin" / "python"
    site = Path(
        subprocess.run(
            [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    # The dependencies, from this environment (offline); toprank only from the wheel: a
    # plain path entry, so this environment's editable-install hook is not run there.
    (site / "deps-from-dev-venv.pth").write_text(
        sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8"
    )
    subprocess.run(
        [python, "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)],
        check=True,
        env=env,
    )
    located = subprocess.run(
        [
            python,
            "-c",
            "import toprank.bot, toprank.data.db; "
            "print(toprank.bot.__file__); print(toprank.data.db.DEFAULT_DB)",
        ],
        check=True,
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    ).stdout.split()
    assert Path(located[0]).is_relative_to(site)  # the wheel's copy, not the checkout
    database = home / ".local" / "share" / "toprank" / DB_FILE_NAME
    assert Path(located[1]) == database
    for bare in ("bot", "data", "intents", "sql"):  # the names a wheel no longer takes
        probe = subprocess.run(
            [python, "-c", f"import {bare}"],
            capture_output=True,
            text=True,
            env=env,
            cwd=work_dir(tmp_path),
        )
        assert "ModuleNotFoundError" in probe.stderr, (bare, probe.stderr)
    installed = _files(site)

    work = tmp_path / "work"
    work.mkdir()
    toprank = venv / "bin" / "toprank"
    ask = subprocess.run(
        [toprank, "ask", "--json", "top OT codes 2022"],
        capture_output=True,
        text=True,
        env=env,
        cwd=work,
        timeout=900,
    )
    assert ask.returncode == 0, ask.stderr
    assert "Traceback" not in ask.stderr
    answer = json.loads(ask.stdout)
    assert database.is_file()  # the demo was built on first use, in the user's data dir
    con = duckdb.connect(str(database), read_only=True)
    try:
        expected = [
            n
            for (n,) in con.execute(
                "SELECT sum(procedures) AS n FROM claim_lines WHERE cohort = 'ot' "
                "AND year(service_date) = 2022 GROUP BY hcpcs_code ORDER BY n DESC LIMIT 10"
            ).fetchall()
        ]
    finally:
        con.close()
    assert [row["procedures"] for row in answer["rows"]] == expected

    bench = subprocess.run(
        [toprank, "bench", "--scales", "1M", "--repeat", "1", "--quiet"],
        capture_output=True,
        text=True,
        env=env,
        cwd=work,
        timeout=1800,
    )
    assert bench.returncode == 0, bench.stderr[-2000:]
    assert "1M" in bench.stdout and "Traceback" not in bench.stderr

    assert _files(site) == installed  # nothing written inside site-packages
    assert not list(work.iterdir())  # nor in the directory it ran from
