"""Reading the data files written in YAML (vocabulary, cohorts, payers, knowledge, examples).

libyaml's loader (CSafeLoader) reads the same safe subset as yaml.SafeLoader about ten
times faster; it is used when PyYAML was built with it.

A one-shot `toprank ask` reads four of these files, and importing PyYAML plus parsing
them was a tenth of its start-up. So each file's parsed content is also kept as JSON in
the user's cache directory ($TOPRANK_CACHE_DIR, else $XDG_CACHE_HOME/toprank, else
~/.cache/toprank), keyed by the SHA-256 of the file's bytes (a fraction of a millisecond;
not its size and modification time, which a reproducible build can leave equal across an
edit): the YAML file stays the one source of truth, an edit to it is read at once, and
PyYAML is imported only when a file has changed. Content JSON cannot hold
unchanged (a date, a number as a mapping key) is never cached. A cache that cannot be
read or written is passed over silently: it only ever costs the time it was meant to save.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

CACHE_ENV = "TOPRANK_CACHE_DIR"
# Bump when the cache entry's layout changes, or when a PyYAML upgrade could read the same
# bytes differently (its version is not in the key: reading it would import PyYAML).
_CACHE_FORMAT = 1


def cache_dir(environ: Mapping[str, str] = os.environ) -> Path:
    explicit = environ.get(CACHE_ENV, "").strip()
    if explicit:
        return Path(explicit)
    base = environ.get("XDG_CACHE_HOME", "").strip()
    # XDG: a relative path in the variable is invalid and is to be ignored
    root = Path(base) if base and Path(base).is_absolute() else Path.home() / ".cache"
    return root / "toprank"


def _parse_text(text: str) -> Any:
    import yaml  # only when a file is read for real: see the module's docstring

    loader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return yaml.load(text, Loader=loader)  # noqa: S506 (a safe loader)


def read_yaml(path: Path, *, cache: Path | None = None) -> Any:
    """The parsed content of the YAML file at `path`, from the cache when the file has
    not changed since it was cached (`cache`: the cache directory, default cache_dir())."""
    source = Path(path).resolve()
    raw = source.read_bytes()  # a missing file raises here, as an uncached read would
    stamp = {
        "format": _CACHE_FORMAT,
        "path": str(source),
        "sha256": hashlib.sha256(raw).hexdigest(),
    }
    try:
        root = cache or cache_dir()
    except (RuntimeError, KeyError, OSError):  # no home directory (an arbitrary container uid)
        return _parse_text(raw.decode("utf-8"))
    entry = root / "yaml" / (hashlib.sha256(str(source).encode()).hexdigest()[:32] + ".json")
    try:
        with entry.open(encoding="utf-8") as f:
            cached = json.load(f)
        if isinstance(cached, dict) and cached.get("stamp") == stamp:
            return cached["content"]
    except (OSError, ValueError, KeyError):
        pass
    content = _parse_text(raw.decode("utf-8"))
    _store(entry, stamp, content)
    return content


def _store(entry: Path, stamp: dict[str, Any], content: Any) -> None:
    try:
        text = json.dumps({"stamp": stamp, "content": content}, ensure_ascii=False)
    except (TypeError, ValueError):
        return  # not JSON (a date, a set): always parsed
    if json.loads(text)["content"] != content:
        return  # JSON would change it (a number as a mapping key): always parsed
    tmp = entry.with_name(f".{entry.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, entry)  # readers see the old entry or the new one, never half
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
