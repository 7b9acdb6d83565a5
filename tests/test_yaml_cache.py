"""data.yaml_file: the YAML data files as parsed by PyYAML, whether or not from the cache.

The oracle is yaml.safe_load of the file itself, never the cache's own content.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from toprank.data.catalog import DATA_DIR
from toprank.data.yaml_file import CACHE_ENV, cache_dir, read_yaml

REPO = Path(__file__).resolve().parents[1]


def _safe_load(path: Path) -> object:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", sorted(p.name for p in DATA_DIR.glob("*.yaml")))
def test_every_data_file_reads_the_same_cold_and_cached(name: str, tmp_path: Path) -> None:
    path = DATA_DIR / name
    expected = _safe_load(path)
    cold = read_yaml(path, cache=tmp_path)
    warm = read_yaml(path, cache=tmp_path)
    assert cold == warm == expected
    try:
        as_json = json.loads(json.dumps(expected))
    except TypeError:
        as_json = None
    cached = list((tmp_path / "yaml").glob("*.json")) if (tmp_path / "yaml").exists() else []
    assert bool(cached) == (as_json == expected), "cached exactly when JSON keeps it"


def test_an_edit_is_read_at_once(tmp_path: Path) -> None:
    path = tmp_path / "words.yaml"
    cache = tmp_path / "cache"
    path.write_text("cues:\n  top: [top, best]\n", encoding="utf-8")
    assert read_yaml(path, cache=cache) == {"cues": {"top": ["top", "best"]}}
    before = path.stat()
    # the same size and the same modification time (as a reproducible build leaves
    # them): still read
    path.write_text("cues:\n  top: [top, most]\n", encoding="utf-8")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert path.stat().st_size == before.st_size
    assert read_yaml(path, cache=cache) == _safe_load(path) == {"cues": {"top": ["top", "most"]}}


def test_content_json_would_change_is_never_cached(tmp_path: Path) -> None:
    path = tmp_path / "odd.yaml"
    cache = tmp_path / "cache"
    path.write_text("2022: a year as a key\nwhen: 2023-01-31\n", encoding="utf-8")
    for _ in range(2):
        content = read_yaml(path, cache=cache)
        assert content == _safe_load(path)
        assert 2022 in content and "2022" not in content
    assert not (cache / "yaml").exists() or not list((cache / "yaml").iterdir())


def test_a_damaged_or_foreign_cache_entry_is_a_miss(tmp_path: Path) -> None:
    path = tmp_path / "words.yaml"
    cache = tmp_path / "cache"
    path.write_text("a: [1, 2]\n", encoding="utf-8")
    read_yaml(path, cache=cache)
    (entry,) = (cache / "yaml").iterdir()
    for text in ("{not json", "[]", '{"stamp": 1}', '{"content": {"a": "forged"}}'):
        entry.write_text(text, encoding="utf-8")
        assert read_yaml(path, cache=cache) == {"a": [1, 2]}


def test_a_cache_that_cannot_be_written_costs_nothing_but_time(tmp_path: Path) -> None:
    blocker = tmp_path / "cache"
    blocker.write_text("a file where the cache directory would be", encoding="utf-8")
    path = tmp_path / "words.yaml"
    path.write_text("a: b\n", encoding="utf-8")
    assert read_yaml(path, cache=blocker) == {"a": "b"}
    assert blocker.read_text(encoding="utf-8").startswith("a file")


def test_a_missing_file_is_an_error_not_a_cached_answer(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_yaml(tmp_path / "absent.yaml", cache=tmp_path)


def test_the_cache_directory_follows_the_settings(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir({CACHE_ENV: str(tmp_path / "c")}) == tmp_path / "c"
    assert cache_dir({"XDG_CACHE_HOME": str(tmp_path / "x")}) == tmp_path / "x" / "toprank"
    assert cache_dir({"XDG_CACHE_HOME": "relative"}) == tmp_path / "home" / ".cache" / "toprank"


@pytest.mark.slow  # two Python processes
def test_a_warm_question_does_not_import_pyyaml(tmp_path: Path) -> None:
    """What the cache is for: once the data files are cached, answering a question reads
    none of them with PyYAML (whose import alone is a tenth of a one-shot start-up)."""
    env = {**os.environ, CACHE_ENV: str(tmp_path / "cache")}
    code = (
        "import sys\n"
        "from toprank.bot.pipeline import Toprank\n"
        "with Toprank.open() as t:\n"
        "    a = t.ask('top OT codes 2022')\n"
        "print(bool(a.rows), 'yaml' in sys.modules)\n"
    )
    runs = [
        subprocess.run(
            [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True
        )
        for _ in range(2)
    ]
    assert [r.returncode for r in runs] == [0, 0], runs[-1].stderr
    assert runs[0].stdout.split() == ["True", "True"]  # the first run parses the files
    assert runs[1].stdout.split() == ["True", "False"]


def test_no_home_directory_reads_the_file_without_the_cache(tmp_path: Path, monkeypatch) -> None:
    """An arbitrary container uid has no home: Path.home() raises, the file is still read."""
    import toprank.data.yaml_file as yaml_file

    def no_home(*_args: object) -> Path:
        raise RuntimeError("Could not determine home directory.")

    monkeypatch.setattr(yaml_file, "cache_dir", no_home)
    path = tmp_path / "words.yaml"
    path.write_text("a: [1, 2]\n", encoding="utf-8")
    assert yaml_file.read_yaml(path) == _safe_load(path) == {"a": [1, 2]}
