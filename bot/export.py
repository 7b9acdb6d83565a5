"""Files made from an answer for Slack uploads: the full result as CSV, and file names."""

from __future__ import annotations

import csv
import io
import re

from toprank.bot.answer_model import Answer


def answer_csv(answer: Answer) -> str:
    """Every row and every column of the answer (the chat table hides a few), as CSV."""
    columns: list[str] = []
    for row in answer.rows:
        columns.extend(k for k in row if k not in columns)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in answer.rows:
        writer.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in columns})
    return buffer.getvalue()


def file_stem(answer: Answer) -> str:
    """A readable, safe file name stem from the question, e.g. "toprank-ot-2022"."""
    words = re.sub(r"[^a-z0-9]+", "-", answer.question.lower()).strip("-")
    words = words.removeprefix("toprank-")
    return ("toprank-" + words)[:60].rstrip("-") or "toprank"
