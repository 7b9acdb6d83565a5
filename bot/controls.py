"""Refine controls and "did you mean" buttons under a data answer. Pure: values in, Block
Kit dicts out.

Each select menu changes one part of the answered spec (cohort, period, state, payer,
top N). An option's value is "<answer id>|<part>|<choice>": the answer id names the spec
kept in the state store (bot/state.py), and the choice is checked against the same
closed sets (intents.refine.Choices) when it comes back, so a tampered value is refused.
Slack's limits: 150 characters an option value, 100 options a menu, 25 elements an
actions block.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from toprank.bot.answer_model import Answer
from toprank.data.catalog import Catalog
from toprank.intents.model import Coverage
from toprank.intents.refine import ALL, TOP_N_CHOICES, Choices

ACTION_REFINE = "toprank_refine"  # + "_" + part
ACTION_ALTERNATIVE = "toprank_alternative"  # + "_" + index
MAX_OPTION_VALUE = 150
MAX_OPTIONS = 100
_VALUE = re.compile(r"^([0-9a-f]{16})\|([a-z]{1,8})\|([A-Za-z0-9*-]{1,16})$")
PART_LABELS = {
    "cohort": "Cohort",
    "period": "Period",
    "state": "State",
    "payer": "Payer",
    "n": "Top",
}


class ControlValueError(ValueError):
    """A control value this app did not make."""


@dataclass(frozen=True)
class Menus:
    """The options of each menu as (value, label), and the answer's current choices."""

    answer_id: str
    options: Mapping[str, tuple[tuple[str, str], ...]]
    current: Mapping[str, str]


def choices_for(coverage: Coverage | None, catalog: Catalog) -> Choices:
    years = tuple(range(coverage.start.year, coverage.end.year + 1)) if coverage else ()
    cohorts = tuple(catalog.cohorts)  # in data/cohorts.yaml's order
    return Choices(
        cohorts=cohorts,
        states=tuple(sorted(catalog.place_states)),
        payers=tuple(catalog.payer_names),
        years=years,
    )


def _periods(coverage: Coverage | None) -> tuple[tuple[str, str], ...]:
    """The years with data (latest first), then the quarters of the latest year."""
    if coverage is None:
        return ()
    years = range(coverage.end.year, coverage.start.year - 1, -1)
    out = [(str(y), str(y)) for y in years]
    latest = coverage.end.year
    last_quarter = (coverage.end.month - 1) // 3 + 1
    first_quarter = (coverage.start.month - 1) // 3 + 1 if coverage.start.year == latest else 1
    out += [(f"{latest}-Q{q}", f"Q{q} {latest}") for q in range(first_quarter, last_quarter + 1)]
    return tuple(out)


def menus_for(
    answer_id: str, answer: Answer, coverage: Coverage | None, catalog: Catalog
) -> Menus | None:
    """The menus for a data answer (None for other answers)."""
    if answer.error or not answer.shape or not answer.rows:
        return None
    choices = choices_for(coverage, catalog)
    options: dict[str, tuple[tuple[str, str], ...]] = {
        "cohort": tuple((c, catalog.cohort_name(c)) for c in choices.cohorts),
        "period": _periods(coverage),
        "state": ((ALL, "All states"), *((s, catalog.states[s]) for s in choices.states)),
        "payer": ((ALL, "All payers"), *((p, catalog.payer_names[p]) for p in choices.payers)),
        "n": tuple((str(n), f"Top {n}") for n in TOP_N_CHOICES),
    }
    p = answer.params or {}
    current: dict[str, str] = {}
    if p.get("cohort"):
        current["cohort"] = str(p["cohort"])
    if p.get("start") and p.get("end"):
        start, end = str(p["start"]), str(p["end"])
        if start[5:] == "01-01" and start[:4] == end[:4]:
            current["period"] = start[:4]
    current["state"] = str(p["state"]) if p.get("state") else ALL
    current["payer"] = str(p["payer"]) if p.get("payer") else ALL
    if p.get("n"):
        current["n"] = str(p["n"])
    return Menus(answer_id, options, current)


def control_value(answer_id: str, part: str, choice: str) -> str:
    value = f"{answer_id}|{part}|{choice}"
    assert len(value) <= MAX_OPTION_VALUE and _VALUE.match(value), value
    return value


def parse_control_value(value: Any) -> tuple[str, str, str]:
    """(answer id, part, choice) from an option value; ControlValueError if it is not one."""
    match = _VALUE.match(value) if isinstance(value, str) else None
    if match is None or match.group(2) not in PART_LABELS:
        raise ControlValueError("not a control value")
    return match.group(1), match.group(2), match.group(3)


def _option(answer_id: str, part: str, value: str, label: str) -> dict[str, Any]:
    return {
        "text": {"type": "plain_text", "text": label[:75]},
        "value": control_value(answer_id, part, value),
    }


def refine_block(menus: Menus) -> dict[str, Any]:
    """One actions block: a select menu per part, each showing the current choice."""
    elements = []
    for part, label in PART_LABELS.items():
        choices = menus.options.get(part, ())[:MAX_OPTIONS]
        if not choices:
            continue
        select: dict[str, Any] = {
            "type": "static_select",
            "action_id": f"{ACTION_REFINE}_{part}",
            "placeholder": {"type": "plain_text", "text": label},
            "options": [_option(menus.answer_id, part, v, text) for v, text in choices],
        }
        current = menus.current.get(part)
        for v, text in choices:
            if v == current:
                select["initial_option"] = _option(menus.answer_id, part, v, text)
        elements.append(select)
    return {"type": "actions", "block_id": f"refine-{menus.answer_id}", "elements": elements}


def alternatives_block(answer: Answer, max_value: int = 2000) -> dict[str, Any] | None:
    """ "Did you mean" buttons: each asks one of the answer's other readings."""
    buttons = [
        {
            "type": "button",
            "text": {"type": "plain_text", "text": ("Did you mean: " + alt)[:75]},
            "action_id": f"{ACTION_ALTERNATIVE}_{k}",
            "value": alt,
        }
        for k, alt in enumerate(answer.alternatives[:5])
        if 0 < len(alt) <= max_value
    ]
    return {"type": "actions", "elements": buttons} if buttons else None


def changed_text(part: str, before: str | None, after: str, menus: Menus | None) -> str:
    """ "Changed: Period 2022 → 2021", with the menus' labels."""
    labels = dict(menus.options.get(part, ())) if menus else {}
    old = labels.get(before or "", before or "-")
    new = labels.get(after, after)
    return f"Changed: {PART_LABELS.get(part, part)} {old} → {new}"
