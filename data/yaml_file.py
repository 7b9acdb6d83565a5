"""Reading the data files written in YAML (vocabulary, cohorts, payers, knowledge).

libyaml's loader (CSafeLoader) reads the same safe subset as yaml.SafeLoader about ten
times faster; it is used when PyYAML was built with it, which matters at start-up: the
vocabulary alone took 120 ms with the pure-Python loader.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

_SafeLoader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_yaml(path: Path) -> Any:
    with Path(path).open(encoding="utf-8") as f:
        return yaml.load(f, Loader=_SafeLoader)  # noqa: S506 (a safe loader)
