"""Domain knowledge (data/knowledge.yaml) and the pure text builders that use it.

`load_knowledge()` is the only I/O here (called once, at the edge, by the pipeline);
everything else takes the loaded `Knowledge` value and returns text.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

from toprank.data.examples import load_examples
from toprank.data.yaml_file import read_yaml

KNOWLEDGE_PATH = Path(__file__).resolve().parent.parent / "data" / "knowledge.yaml"

OT_VS_PT_TOPICS = ("difference", "ot_focus", "pt_focus", "mental_health", "codes")
# Codes whose difference staff ask about most; their notes follow the "codes" topic.
EXPLAINED_CODES = ("97110", "97530", "97140")


@dataclass(frozen=True)
class CohortPhrase:
    title: str  # "occupational therapy codes"
    noun: str  # "OT", as in "19.8% of OT procedures"


@dataclass(frozen=True)
class Knowledge:
    code_range: Mapping[str, str]
    cohorts: str
    ot_vs_pt: Mapping[str, str]
    code_notes: Mapping[str, str]
    context: Mapping[str, str]
    help_intro: str
    help_examples: tuple[str, ...]
    help_cohorts: str
    help_filters: str
    unknown_text: str
    unknown_refuse: str
    coverage_text: str
    cohort_phrases: Mapping[str, CohortPhrase]

    def phrase(self, cohort: str | None) -> CohortPhrase:
        if cohort and cohort in self.cohort_phrases:
            return self.cohort_phrases[cohort]
        return CohortPhrase(title=f"{cohort or 'all'} codes", noun=cohort or "all")


def _clean(text: Any) -> str:
    return " ".join(str(text).split())


def _texts(section: Mapping[str, Any]) -> Mapping[str, str]:
    return MappingProxyType({str(k): _clean(v) for k, v in section.items()})


def parse_knowledge(raw: Mapping[str, Any]) -> Knowledge:
    """Knowledge from the YAML mapping (pure; KeyError names a missing section)."""
    help_ = raw["help"]
    return Knowledge(
        code_range=_texts(raw["code_range"]),
        cohorts=_clean(raw["cohorts"]["summary"]),
        ot_vs_pt=_texts(raw["ot_vs_pt"]),
        code_notes=_texts(raw["code_notes"]),
        context=_texts(raw["context"]),
        help_intro=_clean(help_["intro"]),
        help_examples=load_examples().questions,
        help_cohorts=_clean(help_["cohorts"]),
        help_filters=_clean(help_["filters"]),
        unknown_text=_clean(raw["unknown"]["text"]),
        unknown_refuse=_clean(raw["unknown"]["refuse"]),
        coverage_text=_clean(raw["coverage"]["text"]),
        cohort_phrases=MappingProxyType(
            {
                str(k): CohortPhrase(title=str(v["title"]), noun=str(v["noun"]))
                for k, v in raw["cohort_phrases"].items()
            }
        ),
    )


@lru_cache(maxsize=4)
def load_knowledge(path: Path = KNOWLEDGE_PATH) -> Knowledge:
    """Read data/knowledge.yaml once per process."""
    return parse_knowledge(read_yaml(Path(path)))


def ot_vs_pt_text(knowledge: Knowledge, topic: str | None) -> str:
    """The knowledge part of an ot_vs_pt answer for one topic (default: the difference)."""
    k = knowledge.ot_vs_pt
    if topic == "ot_focus":
        parts = [k["ot_focus"], k["mental_health"]]
    elif topic == "pt_focus":
        parts = [k["pt_focus"]]
    elif topic == "mental_health":
        parts = [k["mental_health"], k["ot_focus"]]
    elif topic == "codes":
        parts = [k["codes"], *(knowledge.code_notes[c] for c in EXPLAINED_CODES)]
    else:
        parts = [k["difference"], k["codes"]]
    return "\n\n".join(parts)


def help_text(knowledge: Knowledge) -> str:
    examples = "\n".join(f"  • {e}" for e in knowledge.help_examples)
    return (
        f"{knowledge.help_intro}\n\nTry for example:\n{examples}\n\n"
        f"{knowledge.help_cohorts}\n{knowledge.help_filters}"
    )
