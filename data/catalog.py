"""Loads the reference tables under data/ into one immutable Catalog (once per process).

The catalog is the only way the pure core (intents/, answer building) learns about
codes, cohorts, states and payers: it is loaded here, at the edge, and passed in.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Literal

from toprank.data.yaml_file import read_yaml

DATA_DIR = Path(__file__).resolve().parent

REHAB_FIRST, REHAB_LAST = "97010", "97799"

# What a row's `state` holds (data/states.csv `kind`): the 50 states and DC, the
# territories, the military post codes, and two codes that name no place (XX unknown,
# ZZ foreign, as the CMS file writes them). Every kind counts in national answers;
# only the first three can be a place filter or a row of a by-state answer.
StateKind = Literal["state", "territory", "military", "unknown"]
PLACE_KINDS: frozenset[str] = frozenset({"state", "territory", "military"})
# The codes of kind "unknown" (tests check this against states.csv): the compiler leaves
# them out of by-state answers without loading the catalog.
NO_PLACE_STATES: tuple[str, ...] = ("XX", "ZZ")


def in_rehab_range(code: str) -> bool:
    """True for a five-digit CPT code in 97010-97799 (the rehab cohort's definition)."""
    return len(code) == 5 and code.isdigit() and REHAB_FIRST <= code <= REHAB_LAST


@dataclass(frozen=True)
class CodeInfo:
    code: str
    description: str
    long_description: str
    category: str
    timed: str  # "yes" | "no" | "na"
    aliases: tuple[str, ...]

    @property
    def in_rehab_range(self) -> bool:
        return in_rehab_range(self.code)


@dataclass(frozen=True)
class Subgroup:
    key: str
    first: str
    last: str
    name: str
    description: str


@dataclass(frozen=True)
class CohortInfo:
    key: str
    name: str
    kind: str  # provider | code_range | everything
    synonyms: tuple[str, ...]
    label: str = ""  # the short form tables and charts print: "OT", "PM&R"


@dataclass(frozen=True)
class Place:
    """A CMS place-of-service code and the words staff use for it."""

    code: str
    name: str
    synonyms: tuple[str, ...]


@dataclass(frozen=True)
class Modifier:
    code: str
    name: str
    synonyms: tuple[str, ...]


@dataclass(frozen=True)
class Catalog:
    codes: Mapping[str, CodeInfo]
    subgroups: tuple[Subgroup, ...]
    cohorts: Mapping[str, CohortInfo]
    # every code a row's state may hold -> its name (see StateKind)
    states: Mapping[str, str]
    state_kinds: Mapping[str, StateKind]
    state_population: Mapping[str, int]  # USPS code -> thousands (demo weights), states only
    payers: Mapping[str, tuple[str, ...]]  # payer -> synonyms
    payer_names: Mapping[str, str]
    taxonomy: Mapping[str, str]  # NUCC taxonomy code -> cohort
    provider_types: Mapping[str, str]  # CMS Rndrng_Prvdr_Type (lower case) -> cohort
    places: Mapping[str, Place]  # place-of-service code -> Place
    # Place-of-service codes the Medicare Physician Fee Schedule pays at its facility
    # rate (data/facility_places.csv); every other code is a non-facility setting. The
    # CMS file's Place_Of_Srvc F/O is this split, made by CMS from the claims' codes.
    facility_places: frozenset[str]
    modifiers: Mapping[str, Modifier]
    cities: Mapping[str, str]  # city name (lower case) -> USPS state code

    @property
    def provider_cohorts(self) -> tuple[str, ...]:
        """Cohorts decided by the rendering provider (they do not overlap)."""
        return tuple(k for k, c in self.cohorts.items() if c.kind == "provider")

    @property
    def us_states(self) -> tuple[str, ...]:
        """The 50 states and DC (the demo's places, the tile map's squares)."""
        return tuple(c for c, k in self.state_kinds.items() if k == "state")

    @property
    def place_states(self) -> tuple[str, ...]:
        """Codes a question can filter on or group by: states, DC, territories, military."""
        return tuple(c for c, k in self.state_kinds.items() if k in PLACE_KINDS)

    @property
    def no_place_states(self) -> tuple[str, ...]:
        """XX and ZZ: counted nationally, never a place."""
        return tuple(c for c, k in self.state_kinds.items() if k not in PLACE_KINDS)

    def describe(self, code: str) -> str:
        info = self.codes.get(code)
        return info.description if info else "(not in the code dictionary)"

    def cohort_name(self, cohort: str) -> str:
        info = self.cohorts.get(cohort)
        return info.name if info else cohort


def _read_csv(path: Path) -> list[dict[str, str]]:
    """Rows of a reference CSV; a row with more or fewer fields than the header (an
    unquoted comma in a description, say) is an error, not a silently shifted row."""
    rows: list[dict[str, str]] = []
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        for row in reader:
            if None in row or any(v is None for v in row.values()):
                raise ValueError(
                    f"{path.name} line {reader.line_num}: expected "
                    f"{len(reader.fieldnames or ())} fields; quote values that hold commas"
                )
            rows.append(row)
    return rows


def _read_yaml(path: Path) -> dict:
    return read_yaml(path)


def _split_aliases(text: str) -> tuple[str, ...]:
    return tuple(a.strip() for a in (text or "").split("|") if a.strip())


def _state_kind(row: Mapping[str, str]) -> StateKind:
    kind = _STATE_KINDS.get(row["kind"])
    if kind is None:
        raise ValueError(f"states.csv: {row['code']} has kind {row['kind']!r}")
    return kind


_STATE_KINDS: Mapping[str, StateKind] = {
    "state": "state",
    "territory": "territory",
    "military": "military",
    "unknown": "unknown",
}


@lru_cache(maxsize=4)
def cohort_labels(data_dir: Path = DATA_DIR) -> Mapping[str, str]:
    """Cohort key -> its short label ("ot" -> "OT"), read from cohorts.yaml alone: the
    renderers need only these, not the whole catalog."""
    raw = _read_yaml(data_dir / "cohorts.yaml")
    return MappingProxyType({key: str(v.get("label") or key) for key, v in raw.items()})


def _code_names(code: str) -> tuple[str, ...]:
    """A place of service by its code, as claims people say it: "POS 11", "place of
    service 11" (a bare "11" stays a number)."""
    return tuple(f"{lead} {code}" for lead in ("pos", "pos code", "place of service"))


@lru_cache(maxsize=4)
def load_catalog(data_dir: Path = DATA_DIR) -> Catalog:
    codes = {
        r["code"]: CodeInfo(
            code=r["code"],
            description=r["description"],
            long_description=r["long_description"],
            category=r["category"],
            timed=r["timed"],
            aliases=_split_aliases(r["aliases"]),
        )
        for r in _read_csv(data_dir / "codes.csv")
    }
    subgroups = tuple(
        Subgroup(r["key"], r["first"], r["last"], r["name"], r["description"])
        for r in _read_csv(data_dir / "subgroups.csv")
    )
    cohorts = {
        key: CohortInfo(
            key,
            v["name"],
            v["kind"],
            tuple(str(s) for s in v["synonyms"]),
            str(v.get("label") or key),
        )
        for key, v in _read_yaml(data_dir / "cohorts.yaml").items()
    }
    states_rows = _read_csv(data_dir / "states.csv")
    payers_yaml = _read_yaml(data_dir / "payers.yaml")
    return Catalog(
        codes=MappingProxyType(codes),
        subgroups=subgroups,
        cohorts=MappingProxyType(cohorts),
        states=MappingProxyType({r["code"]: r["name"] for r in states_rows}),
        state_kinds=MappingProxyType({r["code"]: _state_kind(r) for r in states_rows}),
        state_population=MappingProxyType(
            {r["code"]: int(r["population_thousands"]) for r in states_rows if r["kind"] == "state"}
        ),
        payers=MappingProxyType(
            {k: tuple(str(s) for s in v["synonyms"]) for k, v in payers_yaml.items()}
        ),
        payer_names=MappingProxyType({k: v["name"] for k, v in payers_yaml.items()}),
        taxonomy=MappingProxyType(
            {r["taxonomy"]: r["cohort"] for r in _read_csv(data_dir / "taxonomy.csv")}
        ),
        provider_types=MappingProxyType(
            {
                r["provider_type"].lower(): r["cohort"]
                for r in _read_csv(data_dir / "provider_types.csv")
            }
        ),
        places=MappingProxyType(
            {
                r["code"]: Place(
                    r["code"], r["name"], _split_aliases(r["synonyms"]) + _code_names(r["code"])
                )
                for r in _read_csv(data_dir / "places.csv")
            }
        ),
        facility_places=frozenset(r["code"] for r in _read_csv(data_dir / "facility_places.csv")),
        modifiers=MappingProxyType(
            {
                r["modifier"]: Modifier(r["modifier"], r["name"], _split_aliases(r["synonyms"]))
                for r in _read_csv(data_dir / "modifiers.csv")
            }
        ),
        cities=MappingProxyType(
            {r["city"].lower(): r["state"] for r in _read_csv(data_dir / "cities.csv")}
        ),
    )
