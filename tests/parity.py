"""The parity harness: every query the planner produces for a set of questions, run on
several engines over the same data, must give the same rows.

The questions are the development sets (bot/bench/questions.jsonl,
tests/data/questions_v2*.jsonl), the benchmark's extra questions
(bot/bench/bench_questions.txt) and the examples the README gives.
Each question is answered once through the real pipeline on DuckDB, with an engine
that records every Query the pipeline runs (data questions, lookups, knowledge,
coverage); the distinct queries are then run on every engine and compared row by row,
in order: text, dates and integers (codes, ranks, counts) exactly, fractions (shares)
within SHARE_TOLERANCE.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from toprank.sql.query import Query

TESTS_DIR = Path(__file__).resolve().parent
REPO_DIR = TESTS_DIR.parent
QUESTION_FILES = (
    REPO_DIR / "bot" / "bench" / "questions.jsonl",
    TESTS_DIR / "data" / "questions_v2.jsonl",
    TESTS_DIR / "data" / "questions_v2_heldout.jsonl",
)
BENCH_FILE = REPO_DIR / "bot" / "bench" / "bench_questions.txt"
README = REPO_DIR / "README.md"
SHARE_TOLERANCE = 1e-9


# A conversation: one question, or the turns of a conversation (follow-ups).
Turns = tuple[str, ...]


def dev_questions() -> list[Turns]:
    out: list[Turns] = []
    for path in QUESTION_FILES:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                item = json.loads(line)
                out.append(tuple(item["turns"]) if "turns" in item else (str(item["q"]),))
    return out


def bench_questions() -> list[Turns]:
    lines = BENCH_FILE.read_text(encoding="utf-8").splitlines()
    return [(q.strip(),) for q in lines if q.strip() and not q.startswith("#")]


def readme_questions(text: str | None = None) -> list[str]:
    """The questions the README shows: `toprank ask "..."` lines and the quoted examples
    of the intent table (rows starting `| top_codes`, `| compare`...)."""
    text = README.read_text(encoding="utf-8") if text is None else text
    found = re.findall(r'toprank ask (?:--\w+ )*"([^"]+)"', text)
    for line in text.splitlines():
        if re.match(r"\| [a-z_, ]+ \| ", line) and '"' in line:
            found += re.findall(r'"([^"]+)"', line)
    return found


def all_questions() -> list[Turns]:
    readme = [(q,) for q in readme_questions()]
    return list(dict.fromkeys([*dev_questions(), *bench_questions(), *readme]))


class RecordingEngine:
    """Wraps an engine: every Query the pipeline runs is kept (in first-seen order)."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.dialect = engine.dialect
        self.timeout = engine.timeout
        self.queries: dict[tuple[str, tuple[tuple[str, Any], ...]], Query] = {}

    def prepare(self, query: Query) -> Query:
        return self.engine.prepare(query)  # type: ignore[no-any-return]

    def records(self, query: Query) -> list[dict[str, Any]]:
        self.queries.setdefault((query.sql, _hashable(query.params)), query)
        return self.engine.records(query)  # type: ignore[no-any-return]

    def coverage(self) -> Any:
        return self.engine.coverage()

    @property
    def generation(self) -> int:
        return self.engine.generation  # type: ignore[no-any-return]

    def pinned(self) -> Any:
        return self.engine.pinned()

    def close(self) -> None:
        self.engine.close()

    def __getattr__(self, name: str) -> Any:
        # Everything else the pipeline uses (pinned(), generation, warm) is the engine's.
        return getattr(self.engine, name)


def _hashable(params: tuple[tuple[str, Any], ...]) -> tuple[tuple[str, Any], ...]:
    return tuple((k, tuple(v) if isinstance(v, list) else v) for k, v in params)


def collect_queries(toprank: Any, conversations: Iterable[Turns]) -> list[Query]:
    """Every distinct query the pipeline runs answering `conversations` (toprank's
    engine is replaced by a recorder for the duration)."""
    recorder = RecordingEngine(toprank.engine)
    toprank.engine = recorder
    try:
        for turns in conversations:
            context = None
            for turn in turns:
                _, context = toprank.converse(turn, context)
    finally:
        toprank.engine = recorder.engine
    return list(recorder.queries.values())


@dataclass(frozen=True)
class Mismatch:
    query: Query
    engine: str
    detail: str

    def __str__(self) -> str:
        return f"{self.query.template} on {self.engine}: {self.detail}"


def same_value(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, float) or isinstance(b, float):
        if a is None or b is None:
            return a is None and b is None
        return math.isclose(float(a), float(b), rel_tol=SHARE_TOLERANCE, abs_tol=SHARE_TOLERANCE)
    if isinstance(a, int) and isinstance(b, int):
        return a == b
    return type(a) is type(b) and a == b


def diff_rows(expected: Sequence[dict[str, Any]], got: Sequence[dict[str, Any]]) -> str | None:
    """Why two results differ (None when they are the same rows in the same order)."""
    if len(expected) != len(got):
        return f"{len(got)} rows, expected {len(expected)}"
    for i, (want, have) in enumerate(zip(expected, got, strict=True)):
        if list(want) != list(have):
            return f"row {i}: columns {list(have)}, expected {list(want)}"
        for name, value in want.items():
            if not same_value(value, have[name]):
                return f"row {i}: {name}={have[name]!r} ({type(have[name]).__name__}), expected {value!r} ({type(value).__name__})"
    return None


def compare(
    queries: Sequence[Query], reference: Any, others: dict[str, Any]
) -> tuple[int, list[Mismatch]]:
    """Run each query on the reference engine and on the others; (rows compared,
    mismatches). An engine's error on a query is a mismatch too, with its message."""
    mismatches: list[Mismatch] = []
    rows = 0
    for query in queries:
        expected = reference.records(query)
        rows += len(expected)
        for name, engine in others.items():
            try:
                got = engine.records(query)
            except Exception as error:  # reported, not raised: one run lists them all
                first = str(error).strip().splitlines()[0] if str(error).strip() else ""
                mismatches.append(Mismatch(query, name, f"{type(error).__name__}: {first}"))
                continue
            why = diff_rows(expected, got)
            if why is not None:
                mismatches.append(Mismatch(query, name, why))
    return rows, mismatches
