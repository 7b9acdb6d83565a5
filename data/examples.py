"""The example questions every surface shows (data/examples.yaml), loaded once."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from toprank.data.yaml_file import read_yaml

EXAMPLES_PATH = Path(__file__).resolve().parent / "examples.yaml"


@dataclass(frozen=True)
class Examples:
    questions: tuple[str, ...]  # in words, best first
    slash_commands: tuple[str, ...]  # "/toprank ot 2022"


@lru_cache(maxsize=2)
def load_examples(path: Path = EXAMPLES_PATH) -> Examples:
    raw = read_yaml(path)
    return Examples(
        questions=tuple(str(q) for q in raw["questions"]),
        slash_commands=tuple(str(q) for q in raw["slash_commands"]),
    )
