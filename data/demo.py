"""The embedded demo dataset: synthetic claim lines calibrated to the published rankings.

No randomness anywhere. The build is two steps:

1. Quotas (numpy/pandas, a few hundred thousand cells whatever the size): exact integer
   counts per cohort x year x code, apportioned from the mixes in demo_mix.csv and
   demo_params.yaml, then shared out over months, states and payers so every group total
   stays exact. The published tables depend only on the cohort x year x code counts,
   which are solved exactly (see `code_year_counts`), so they hold at any scale.
2. Lines (inside DuckDB, demo_lines.sql): each quota cell is expanded with range(n);
   per-line details (day, claim, provider, units, modifiers, place of service) are
   hashes of the line's position, never random draws. No Python loop touches rows, so
   the same code builds 1M or 100M lines.
"""

from __future__ import annotations

import calendar
import os
import sys
import time
import zlib
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import yaml

from toprank.data import db
from toprank.data.catalog import in_rehab_range, load_catalog
from toprank.data.db import StartupError

DATA_DIR = Path(__file__).resolve().parent
DEFAULT_LINES = 1_000_000
COHORTS = ("pt", "ot", "slp", "chiro", "pmr", "other")
PAYERS = ("medicare", "medicaid", "commercial", "other")
SOURCE_ID = 1
SOURCE_NAME = "demo: synthetic claims calibrated to published rankings"
# Below this size one procedure moves a share by more than the published rounding
# margin; from here up the published tables must hold, and the build refuses otherwise
# (they hold from about 20,000 lines).
CALIBRATED_FROM_LINES = 50_000
MIN_LINES = 1_000
# DuckDB's memory cap for the build; the 100M-line build must fit in 8 GB with Python.
MEMORY_LIMIT = "4GB"
# Lines inserted per statement: bounds memory and gives the progress bar its steps.
BATCH_LINES = 2_000_000
# demo_lines.sql packs a claim number as (group * 2^24 + i) * 64 + slot // 3.
MAX_CELL_LINES = 2**24
MAX_SLOTS = 64 * 3


class CalibrationError(RuntimeError):
    """The mixes cannot reproduce the published tables (a data-file problem)."""


@dataclass(frozen=True)
class DemoStats:
    path: Path
    lines: int
    seconds: float
    bytes: int


@dataclass(frozen=True)
class DemoSpec:
    """The demo's data files, loaded once."""

    params: dict
    mix: pd.DataFrame  # cohort, code, year columns (float; NaN = solved by balancing)
    balance: frozenset[tuple[str, str, int]]  # (cohort, code, year) solved by balancing
    targets: pd.DataFrame  # cohort, year, code, share_pct

    @property
    def months(self) -> list[date]:
        first = _parse_month(self.params["first_month"])
        last = _parse_month(self.params["last_month"])
        out, y, m = [], first.year, first.month
        while (y, m) <= (last.year, last.month):
            out.append(date(y, m, 1))
            y, m = (y + 1, 1) if m == 12 else (y, m + 1)
        return out

    @property
    def years(self) -> list[int]:
        return sorted({m.year for m in self.months})

    @property
    def first_date(self) -> date:
        return self.months[0]

    @property
    def last_date(self) -> date:
        last = self.months[-1]
        return date(last.year, last.month, calendar.monthrange(last.year, last.month)[1])


def _parse_month(text: object) -> date:
    year, month = str(text).split("-")
    return date(int(year), int(month), 1)


@lru_cache(maxsize=1)
def load_spec(data_dir: Path = DATA_DIR) -> DemoSpec:
    params = yaml.safe_load((data_dir / "demo_params.yaml").read_text(encoding="utf-8"))
    raw = pd.read_csv(data_dir / "demo_mix.csv", comment="#", dtype=str).fillna("0")
    year_cols = [c for c in raw.columns if c.startswith("y")]
    balance = frozenset(
        (r.cohort, r.code, int(col[1:]))
        for r in raw.itertuples()
        for col in year_cols
        if getattr(r, col).strip() == "balance"
    )
    mix = raw[["cohort", "code"]].copy()
    for col in year_cols:
        mix[int(col[1:])] = pd.to_numeric(raw[col].where(raw[col].str.strip() != "balance"))
    targets = pd.read_csv(
        data_dir / "demo_targets.csv", comment="#", dtype={"code": str, "rank": str}
    )
    return DemoSpec(params=params, mix=mix, balance=balance, targets=targets)


# ---------------------------------------------------------------------------- rounding


def largest_remainder(group: np.ndarray, total: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Integer counts per row, proportional to weight within each group, summing exactly to
    the group's total (given per row). Ties go to the earlier row."""
    n = len(group)
    wsum = np.bincount(group, weights=weight)
    if np.any((wsum[group] <= 0) & (total > 0)):
        raise CalibrationError("a group with a positive total has no positive weight")
    with np.errstate(invalid="ignore", divide="ignore"):
        quota = np.where(wsum[group] > 0, total * weight / wsum[group], 0.0)
    base = np.floor(quota).astype(np.int64)
    group_total = np.zeros(wsum.shape, dtype=np.int64)
    np.maximum.at(group_total, group, total.astype(np.int64))
    short = group_total - np.bincount(group, weights=base, minlength=len(wsum)).astype(np.int64)
    order = np.lexsort((np.arange(n), -(quota - base), group))
    sorted_group = group[order]
    first = np.searchsorted(sorted_group, sorted_group, side="left")
    rank = np.arange(n) - first
    extra = np.zeros(n, dtype=np.int64)
    extra[order] = (rank < short[sorted_group]).astype(np.int64)
    return base + extra


def systematic_round(total: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Shares each row's integer total over the columns of `weight` (rows x columns):
    count = floor(total * cum + u) - floor(total * cum_before + u), with cum the running
    share along the row and u in [0, 1) a fixed offset per row. Each row sums exactly to
    its total and each count is the floor or ceiling of its quota, as with largest
    remainder, but small totals spread over the columns in proportion to their weight
    instead of always landing on the heaviest ones (small states would otherwise never
    see a rare code)."""
    rows = weight.sum(axis=1, keepdims=True)
    if np.any((rows[:, 0] <= 0) & (total > 0)):
        raise CalibrationError("a positive total has no positive weight to go to")
    cum = np.minimum(np.cumsum(weight / np.where(rows > 0, rows, 1.0), axis=1), 1.0)
    cum[:, -1] = 1.0
    offset = _golden_offsets(np.arange(len(total)))[:, None]
    upper = np.floor(total[:, None] * cum + offset)
    lower = np.concatenate([np.floor(offset), upper[:, :-1]], axis=1)
    return (upper - lower).astype(np.int64)


def _golden_offsets(k: np.ndarray) -> np.ndarray:
    """A fixed, well spread offset in [0, 1) for group number k."""
    return np.mod(0.5 + k * 0.6180339887498949, 1.0)


def _tilt(rows: list[str], columns: list[str], amplitude: float) -> np.ndarray:
    """exp(amplitude * u) for every (row, column) pair, u in [-1, 1] from the CRC32 of
    "row|column": stable across runs and machines."""
    u = np.array([[zlib.crc32(f"{r}|{c}".encode()) for c in columns] for r in rows])
    return np.exp(amplitude * (u / 2**32 * 2 - 1))


def _interpolate(anchors: dict[int, float], year: int) -> float:
    points = sorted(anchors.items())
    if year <= points[0][0]:
        return points[0][1]
    for (y0, v0), (y1, v1) in zip(points, points[1:], strict=False):
        if y0 <= year <= y1:
            return v0 + (v1 - v0) * (year - y0) / (y1 - y0)
    return points[-1][1]


# ---------------------------------------------------------------------------- quotas


def month_weights(spec: DemoSpec) -> pd.DataFrame:
    p = spec.params
    rows = []
    for m in spec.months:
        weight = p["year_level"][m.year] * p["seasonality"][m.month - 1]
        if m.year == 2020:
            weight *= p["covid_2020"].get(m.month, 1.0)
        rows.append({"year": m.year, "month": m, "weight": weight})
    return pd.DataFrame(rows)


def cohort_year_totals(spec: DemoSpec, lines: int) -> pd.DataFrame:
    """Lines per cohort x year: year volume x cohort share, apportioned exactly to `lines`."""
    year_weight = month_weights(spec).groupby("year")["weight"].sum()
    rows = [
        {
            "cohort": c,
            "year": y,
            "weight": year_weight[y]
            * _interpolate({int(k): v for k, v in spec.params["cohort_share"][c].items()}, y),
        }
        for c in COHORTS
        for y in spec.years
    ]
    frame = pd.DataFrame(rows)
    n = len(frame)
    frame["n"] = largest_remainder(
        np.zeros(n, dtype=np.int64), np.full(n, lines), frame["weight"].to_numpy()
    )
    return frame[["cohort", "year", "n"]]


def _mix_for(spec: DemoSpec, cohort: str, year: int) -> pd.DataFrame:
    """The cohort's code weights for a year (interpolated between anchor years)."""
    part = spec.mix[spec.mix["cohort"] == cohort]
    anchors = sorted(c for c in part.columns if isinstance(c, int))
    if year in anchors:
        weight = part[year]
    else:
        lo = max([a for a in anchors if a < year], default=anchors[0])
        hi = min([a for a in anchors if a > year], default=anchors[-1])
        t = 0.0 if hi == lo else (year - lo) / (hi - lo)
        weight = part[lo] * (1 - t) + part[hi] * t
        if weight.isna().any():
            raise CalibrationError(f"{cohort} {year}: cannot interpolate from a balanced year")
    return pd.DataFrame({"code": part["code"].to_numpy(), "weight": weight.to_numpy()})


def _apportion(total: int, weights: np.ndarray) -> np.ndarray:
    n = len(weights)
    if total == 0 or n == 0:
        return np.zeros(n, dtype=np.int64)
    return largest_remainder(np.zeros(n, dtype=np.int64), np.full(n, total), weights)


def code_year_counts(spec: DemoSpec, lines: int) -> pd.DataFrame:
    """Procedures per cohort x year x code, exact integers.

    Every cohort-year follows its mix, except the (cohort, year) cells marked "balance"
    in demo_mix.csv (PT 2023): those codes are solved so the target cohort's list (rehab
    2023) lands on demo_targets.csv. With R = all rehab-range procedures that year,
    target code i gets round(R * share_i) (largest remainder over the targets plus one
    "rest" bucket), PT gets target_i minus what the other cohorts bill, and PT's other
    rehab codes share what is left of the rest bucket.
    """
    totals = cohort_year_totals(spec, lines)
    balanced = {(c, y) for c, _, y in spec.balance}
    frames = []
    for t in totals.itertuples():
        if (t.cohort, t.year) in balanced:
            continue
        mix = _mix_for(spec, t.cohort, t.year)
        mix["n"] = _apportion(int(t.n), mix["weight"].to_numpy())
        frames.append(mix.assign(cohort=t.cohort, year=t.year))
    counts = pd.concat(frames, ignore_index=True)
    for cohort, year in sorted(balanced):
        total = int(totals.loc[(totals.cohort == cohort) & (totals.year == year), "n"].iloc[0])
        counts = pd.concat([counts, _balance(spec, counts, cohort, year, total)], ignore_index=True)
    counts = counts[["cohort", "year", "code", "n"]]
    if (counts["n"] < 0).any():
        bad = counts[counts["n"] < 0].to_dict("records")
        raise CalibrationError(f"balancing needs negative counts: {bad[:5]}")
    return counts.sort_values(["cohort", "year", "code"], ignore_index=True)


def _balance(
    spec: DemoSpec, others: pd.DataFrame, cohort: str, year: int, total: int
) -> pd.DataFrame:
    targets = spec.targets[(spec.targets["year"] == year) & (spec.targets["cohort"] == "rehab")]
    mix = _mix_for(spec, cohort, year)
    solved = {code for c, code, y in spec.balance if c == cohort and y == year}
    if solved != set(targets["code"]):
        raise CalibrationError(f"{cohort} {year}: balanced codes must be the target codes")
    free = mix[~mix["code"].isin(solved)]
    # Codes outside the rehab range are plain percentages of the cohort's volume.
    outside = free[~free["code"].map(in_rehab_range)].copy()
    outside_n = np.floor(total * outside["weight"].to_numpy() / 100.0).astype(np.int64)
    outside["n"] = outside_n
    own_rehab = total - int(outside_n.sum())
    same_year = others[(others["year"] == year) & others["code"].map(in_rehab_range)]
    other_rehab = same_year.groupby("code")["n"].sum()
    rehab_total = int(other_rehab.sum()) + own_rehab
    shares = targets["share_pct"].to_numpy(dtype=float)
    rest_share = 100.0 - shares.sum()
    target_n = _apportion(rehab_total, np.r_[shares, rest_share])
    solved_n = target_n[:-1] - other_rehab.reindex(targets["code"]).fillna(0).to_numpy(np.int64)
    rest_left = int(target_n[-1]) - int(other_rehab.drop(targets["code"], errors="ignore").sum())
    rest = free[free["code"].map(in_rehab_range)].copy()
    if rest_left < 0:
        raise CalibrationError(
            f"{cohort} {year}: other cohorts bill more non-target rehab codes than the "
            f"targets leave ({-rest_left} too many); lower their weights in demo_mix.csv"
        )
    rest["n"] = _apportion(rest_left, rest["weight"].to_numpy())
    solved_frame = pd.DataFrame({"code": targets["code"].to_numpy(), "n": solved_n})
    out = pd.concat([solved_frame, rest[["code", "n"]], outside[["code", "n"]]])
    return out.assign(cohort=cohort, year=year)


def calibration_problems(counts: pd.DataFrame, spec: DemoSpec) -> list[str]:
    """What is off against demo_targets.csv (the published tables); empty when all hold."""
    problems: list[str] = []
    for (cohort, year), targets in spec.targets.groupby(["cohort", "year"], sort=False):
        part = counts[counts["year"] == year]
        if cohort == "rehab":
            part = part[part["code"].map(in_rehab_range)]
        else:
            part = part[part["cohort"] == cohort]
        procedures = part.groupby("code")["n"].sum().sort_values(ascending=False, kind="stable")
        share = 100.0 * procedures / procedures.sum()
        codes = list(procedures.index)
        label = f"{cohort} {year}"
        ranked = targets[targets["rank"].str.isdigit()]
        want = list(ranked.sort_values("rank", key=lambda r: r.astype(int))["code"])
        if codes[: len(want)] != want:
            problems.append(f"{label} ranks {codes[: len(want)]} != {want}")
        elif (
            len(codes) > len(want) and procedures.iloc[len(want)] >= procedures.iloc[len(want) - 1]
        ):
            problems.append(f"{label}: {codes[len(want)]} ties rank {len(want)}")
        for t in targets.itertuples():
            if t.rank == "top10" and t.code not in codes[:10]:
                problems.append(f"{label}: {t.code} not in the top 10")
            if isinstance(t.precision, str) and t.precision:
                digits = 0 if t.precision == "integer percent" else 1
                got = round(float(share.get(t.code, 0.0)), digits)
                if got != round(float(t.share_pct), digits):
                    problems.append(f"{label}: {t.code} share {share.get(t.code, 0.0):.3f}%")
    return problems


@dataclass(frozen=True)
class Axes:
    """The values each integer index in the quota cells stands for."""

    cohorts: tuple[str, ...]
    codes: tuple[str, ...]
    states: tuple[str, ...]
    months: tuple[date, ...]
    payers: tuple[str, ...]


def quota_index_cells(spec: DemoSpec, counts: pd.DataFrame) -> tuple[Axes, pd.DataFrame]:
    """Exact line counts per cohort x month x code x state x payer, as integer indices
    into Axes (only positive cells): each cohort x year x code count is shared over the
    year's months (seasonality), then states (population x per-code and per-cohort
    tilts), then payers (cohort mix x state and code tilts), every step exact."""
    catalog = load_catalog()
    params = spec.params
    counts = counts[counts["n"] > 0]
    unknown = sorted(set(counts["code"]) - set(catalog.codes))
    if unknown:
        raise CalibrationError(f"demo_mix.csv bills codes missing from codes.csv: {unknown}")
    months = month_weights(spec)
    axes = Axes(
        cohorts=COHORTS,
        codes=tuple(sorted(set(counts["code"]))),
        states=catalog.us_states,
        months=tuple(months["month"]),
        payers=PAYERS,
    )
    cohort_i = counts["cohort"].map({c: i for i, c in enumerate(axes.cohorts)}).to_numpy()
    code_i = counts["code"].map({c: i for i, c in enumerate(axes.codes)}).to_numpy()
    n = counts["n"].to_numpy(np.int64)

    # Months of the row's year, by seasonality.
    same_year = counts["year"].to_numpy()[:, None] == months["year"].to_numpy()[None, :]
    per_month = systematic_round(n, np.where(same_year, months["weight"].to_numpy(), 0.0))
    row, month_i = np.nonzero(per_month)
    cohort_i, code_i, n = cohort_i[row], code_i[row], per_month[row, month_i]

    # States: population x a per-code and a per-cohort tilt.
    amp = params["state_tilt_amplitude"]
    pop = np.array([catalog.state_population[s] for s in axes.states], dtype=float)
    code_tilt = _tilt(list(axes.codes), list(axes.states), amp["code"])
    cohort_tilt = _tilt(list(axes.cohorts), list(axes.states), amp["cohort"])
    per_state = systematic_round(n, pop * code_tilt[code_i] * cohort_tilt[cohort_i])
    row, state_i = np.nonzero(per_state)
    cohort_i, code_i, month_i, n = cohort_i[row], code_i[row], month_i[row], per_state[row, state_i]

    # Payers: the cohort's mix x the state's tilts x the code's tilts.
    cohort_mix, state_mix, code_mix = _payer_factors(spec, axes)
    per_payer = systematic_round(n, cohort_mix[cohort_i] * state_mix[state_i] * code_mix[code_i])
    row, payer_i = np.nonzero(per_payer)
    cells = pd.DataFrame(
        {
            "cohort_i": cohort_i[row],
            "month_i": month_i[row],
            "code_i": code_i[row],
            "state_i": state_i[row],
            "payer_i": payer_i,
            "n": per_payer[row, payer_i],
        }
    )
    return axes, cells


def _payer_factors(spec: DemoSpec, axes: Axes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Payer weights as three factors: cohort x payer, state x payer, code x payer."""
    p = spec.params
    cohort_mix = np.array([[p["payer_mix"][c][y] for y in axes.payers] for c in axes.cohorts])
    curated = p.get("payer_state_tilt", {})
    state_mix = np.array(
        [[curated.get(s, {}).get(y, 1.0) for y in axes.payers] for s in axes.states]
    ) * _tilt([f"payer|{s}" for s in axes.states], list(axes.payers), p["payer_tilt_amplitude"])
    code_tilt = {str(k): v for k, v in p.get("payer_code_tilt", {}).items()}
    code_mix = np.array(
        [[code_tilt.get(c, {}).get(y, 1.0) for y in axes.payers] for c in axes.codes]
    )
    return cohort_mix, state_mix, code_mix


# ---------------------------------------------------------------------------- line details


def luhn_valid_npi(npi: str) -> bool:
    """True when a 10-digit NPI carries a valid Luhn check digit (with the 80840 prefix)."""
    if len(npi) != 10 or not npi.isdigit():
        return False
    total = 0
    for i, ch in enumerate(reversed("80840" + npi)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def _bucket_table(mix: dict, name: str) -> pd.DataFrame:
    """100 buckets (0-99) shared out by percent, in the order given."""
    keys = [str(k) for k in mix]
    counts = _apportion(100, np.array([float(v) for v in mix.values()]))
    return pd.DataFrame({"bucket": np.arange(100), name: np.repeat(keys, counts)})


def provider_pools(spec: DemoSpec) -> pd.DataFrame:
    """Provider pools per cohort x state (cohort, state, pool_start, pool_size): the
    cohort's national count split by state population, at least 3 per state."""
    catalog = load_catalog()
    states = list(catalog.us_states)
    pop = np.array([catalog.state_population[s] for s in states], dtype=float)
    frames = []
    for cohort in COHORTS:
        size = np.maximum(3, np.rint(spec.params["providers"][cohort] * pop / pop.sum()))
        frames.append(pd.DataFrame({"cohort": cohort, "state": states, "pool_size": size}))
    pools = pd.concat(frames, ignore_index=True)
    pools["pool_size"] = pools["pool_size"].astype(np.int64)
    pools["pool_start"] = pools["pool_size"].cumsum() - pools["pool_size"]
    return pools


def _extra_modifier(
    rules: list[dict], cohort: str, code: str, payer: str
) -> tuple[str | None, int]:
    for rule in rules:
        if (
            code in rule.get("codes", [code])
            and cohort in rule.get("cohorts", [cohort])
            and payer in rule.get("payers", [payer])
        ):
            return str(rule["modifier"]), int(rule["percent"])
    return None, 0


def cell_table(
    spec: DemoSpec, axes: Axes, cells: pd.DataFrame, batch_lines: int = BATCH_LINES
) -> pd.DataFrame:
    """The quota cells with what demo_lines.sql needs to expand them, in line order
    (month, cohort, state, payer, code), with `batch` numbers of about batch_lines lines."""
    catalog = load_catalog()
    p = spec.params
    order = np.lexsort(
        (cells["code_i"], cells["payer_i"], cells["state_i"], cells["cohort_i"], cells["month_i"])
    )
    cells = cells.iloc[order].reset_index(drop=True)
    cohort_i, code_i = cells["cohort_i"].to_numpy(), cells["code_i"].to_numpy()
    state_i, payer_i = cells["state_i"].to_numpy(), cells["payer_i"].to_numpy()
    month_i = cells["month_i"].to_numpy()
    n = cells["n"].to_numpy()

    # Per cohort x code: slot in the cohort's code list, timed, therapy modifier.
    n_cohorts, n_codes = len(axes.cohorts), len(axes.codes)
    slot = np.full((n_cohorts, n_codes), -1, dtype=np.int32)
    for cohort, part in spec.mix.groupby("cohort", sort=False):
        for i, code in enumerate(part["code"]):
            if code in axes.codes:
                slot[axes.cohorts.index(cohort), axes.codes.index(code)] = i
    timed = np.array([catalog.codes[c].timed == "yes" for c in axes.codes])
    therapy = np.array([in_rehab_range(c) or c.startswith("92") for c in axes.codes])
    base = np.array(
        [[p["therapy_modifier"].get(c) if t else None for t in therapy] for c in axes.cohorts],
        dtype=object,
    )
    rules = p["extra_modifiers"]
    extra = [
        [[_extra_modifier(rules, c, code, y) for y in axes.payers] for code in axes.codes]
        for c in axes.cohorts
    ]
    extra_mod = np.array([[[m for m, _ in r] for r in row] for row in extra], dtype=object)
    extra_pct = np.array([[[pct for _, pct in r] for r in row] for row in extra], dtype=np.int32)
    pools = provider_pools(spec)
    pool_start = pools["pool_start"].to_numpy().reshape(n_cohorts, len(axes.states))
    pool_size = pools["pool_size"].to_numpy().reshape(n_cohorts, len(axes.states))
    days = np.array([calendar.monthrange(m.year, m.month)[1] for m in axes.months])

    if n.max(initial=0) >= MAX_CELL_LINES or slot.max() >= MAX_SLOTS:
        raise CalibrationError("too many lines per cell or codes per cohort for claim numbers")
    key = np.stack([month_i, cohort_i, state_i, payer_i])
    new_group = np.r_[True, np.any(key[:, 1:] != key[:, :-1], axis=0)]
    before = np.cumsum(n) - n
    # UBIGINT like hash(): a modulo of mixed types would go through 128-bit division.
    return pd.DataFrame(
        {
            "cohort": np.array(axes.cohorts)[cohort_i],
            "cohort_idx": cohort_i.astype(np.int32),
            "month": np.array(axes.months, dtype="datetime64[D]")[month_i],
            "days": days[month_i].astype(np.uint64),
            "code": np.array(axes.codes)[code_i],
            "state": np.array(axes.states)[state_i],
            "payer": np.array(axes.payers)[payer_i],
            "n": n.astype(np.int64),
            "grp": (np.cumsum(new_group) - 1).astype(np.int64),
            "slot": slot[cohort_i, code_i],
            "timed": timed[code_i],
            "modifier_base": base[cohort_i, code_i],
            "modifier_extra": extra_mod[cohort_i, code_i, payer_i],
            "modifier_extra_pct": extra_pct[cohort_i, code_i, payer_i],
            "pool_start": pool_start[cohort_i, state_i].astype(np.int64),
            "pool_size": pool_size[cohort_i, state_i].astype(np.uint64),
            "batch": (before // batch_lines).astype(np.int32),
            **_fee_columns(np.array(axes.codes)[code_i], np.array(axes.payers)[payer_i]),
        }
    )


def fee_table(data_dir: Path = DATA_DIR) -> pd.DataFrame:
    """data/demo_fees.csv: whole cents per unit billed, per code and payer (charge,
    allowed, paid)."""
    fees = pd.read_csv(data_dir / "demo_fees.csv", comment="#", dtype={"code": str})
    for column in ("charge", "allowed", "paid"):
        # cents from the written dollars, exactly (no binary fraction carried over)
        fees[column] = [round(Decimal(str(v)) * 100) for v in fees[column]]
    return fees.set_index(["code", "payer"])


def _fee_columns(codes: np.ndarray, payers: np.ndarray) -> dict[str, np.ndarray]:
    """Each cell's fees per unit in cents; every demo code and payer must be priced."""
    fees = fee_table()
    keys = list(zip(codes.tolist(), payers.tolist(), strict=True))
    unpriced = sorted({k for k in keys if k not in fees.index})
    if unpriced:
        raise CalibrationError(f"demo_fees.csv has no fee for {unpriced[:5]}")
    picked = fees.loc[keys]
    return {
        f"fee_{column}": picked[column].to_numpy(dtype=np.int64)
        for column in ("charge", "allowed", "paid")
    }


def bucket_lists(spec: DemoSpec) -> dict[str, list]:
    """The 100-bucket mixes demo_lines.sql looks up: taxonomy and place of service (100
    per cohort, in COHORTS order) and units of timed codes."""
    catalog = load_catalog()
    p = spec.params
    taxonomy = [t for c in COHORTS for t in _bucket_table(p["taxonomy_mix"][c], "t")["t"]]
    wrong = {
        t: c for i, t in enumerate(taxonomy) if catalog.taxonomy.get(t) != (c := COHORTS[i // 100])
    }
    if wrong:
        raise CalibrationError(f"demo taxonomy codes not mapped to their cohort: {wrong}")
    return {
        "taxonomy_buckets": taxonomy,
        "pos_buckets": [
            s for c in COHORTS for s in _bucket_table(p["place_of_service"][c], "s")["s"]
        ],
        "units_buckets": [int(u) for u in _bucket_table(p["timed_units"], "u")["u"]],
        "facility_places": sorted(catalog.facility_places),
    }


# ---------------------------------------------------------------------------- build


class RealDataPresent(StartupError):
    """The database holds real (non-demo) sources that a demo build would replace."""


def _refuse_real_data(path: Path) -> None:
    """Raises RealDataPresent when the file at `path` holds anything but the demo, or
    cannot be read to tell (a demo build must never destroy loaded files by surprise)."""
    if not path.exists():
        return
    try:
        con = db.open_reader(path)
    except db.DatabaseProblem as exc:
        raise RealDataPresent(
            f"cannot tell what {path} holds ({exc}); add --replace-real-data to replace it anyway"
        ) from None
    try:
        real = con.execute(
            "SELECT source_id, name, rows_loaded FROM sources WHERE kind <> 'demo' "
            "ORDER BY source_id"
        ).fetchall()
    except duckdb.Error as exc:
        raise RealDataPresent(
            f"cannot tell what {path} holds ({str(exc).splitlines()[0]}); add "
            "--replace-real-data to replace it anyway"
        ) from None
    finally:
        con.close()
    if real:
        listed = "; ".join(f"#{sid} {name} ({int(n or 0):,} claim lines)" for sid, name, n in real)
        raise RealDataPresent(
            f"{path} holds real data that a demo build would delete: {listed}. Add "
            "--replace-real-data to replace it anyway, or build the demo elsewhere with --db"
        )


def build_demo(
    path: str | os.PathLike,
    lines: int = DEFAULT_LINES,
    progress: bool = True,
    *,
    replace_real_data: bool = False,
    wait: float = 0.0,
) -> DemoStats:
    """Writes the demo database at `path` (replacing a demo database there) and returns
    its stats.

    It is a writer like ingest (data.writer): it takes the writer lock (waiting `wait`
    seconds for another writer), builds the new file beside the database and renames it
    over the path at the end, so an interrupted build changes nothing and a bot reading
    the old file moves to the new one. A file holding real sources is refused unless
    `replace_real_data`."""
    from toprank.data import writer

    if lines < MIN_LINES:
        raise ValueError(f"the demo needs at least {MIN_LINES:,} lines (asked for {lines:,})")
    started = time.perf_counter()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with writer.writing(path, writer.command_line(), copy=False, wait=wait) as draft:
        if not replace_real_data:
            _refuse_real_data(path)
        _build_and_publish(draft, lines, progress)
    return DemoStats(
        path=path,
        lines=lines,
        seconds=time.perf_counter() - started,
        bytes=path.stat().st_size,
    )


def _build_and_publish(draft, lines: int, progress: bool) -> None:
    """Build the demo into the draft (data.writer.Draft) and rename it over the database."""
    from tqdm import tqdm

    from toprank.data import writer

    steps = tqdm(total=4, desc="demo data", unit="step", disable=not progress, file=sys.stderr)
    try:
        _build_into(draft.path, draft.scratch("spill"), lines, steps)
    finally:
        steps.close()
    with writer.interrupts_deferred():
        draft.publish()


def _build_into(target: Path, spill: Path, lines: int, steps) -> None:
    """The demo database, written to `target` (a new file) and checkpointed."""
    from tqdm import tqdm

    spec = load_spec()
    steps.set_postfix_str("quotas")
    counts = code_year_counts(spec, lines)
    problems = calibration_problems(counts, spec)
    if problems and lines >= CALIBRATED_FROM_LINES:
        raise CalibrationError("; ".join(problems))
    cells = cell_table(spec, *quota_index_cells(spec, counts))
    if int(cells["n"].sum()) != lines:
        raise CalibrationError(f"quotas add up to {int(cells['n'].sum()):,}, not {lines:,}")
    steps.update()

    con = duckdb.connect(
        str(target),
        config={
            # Row order inside a batch carries no meaning; dropping it lets the insert
            # run in parallel. Batches still go in month order, so zone maps on
            # service_date stay useful.
            "preserve_insertion_order": False,
            "memory_limit": MEMORY_LIMIT,
            "temp_directory": str(spill),
        },
    )
    try:
        # DuckDB prints its own bar on stdout for slow statements; stdout carries
        # answers only (the first `toprank ask --json` builds the demo).
        con.execute("SET enable_progress_bar = false")
        db.create_schema(con)
        con.register("cells_frame", cells)
        con.execute(
            "CREATE TEMP TABLE demo_cells AS"
            " SELECT * REPLACE (CAST(month AS DATE) AS month) FROM cells_frame"
        )
        con.unregister("cells_frame")
        steps.update()
        steps.set_postfix_str("claim lines")
        sql = (DATA_DIR / "demo_lines.sql").read_text(encoding="utf-8")
        buckets = bucket_lists(spec)
        batch_lines = cells.groupby("batch")["n"].sum()
        with tqdm(
            total=lines,
            desc="claim lines",
            unit=" lines",
            unit_scale=True,
            disable=steps.disable,
            file=sys.stderr,
            leave=False,
        ) as bar:
            for batch, n in batch_lines.items():
                con.execute(sql, {"batch": int(batch), "source_id": SOURCE_ID, **buckets})
                bar.update(int(n))
        loaded = db.fetch_one(con.execute("SELECT count(*) FROM claim_lines"))[0]
        if loaded != lines:
            raise RuntimeError(f"built {loaded:,} claim lines, expected {lines:,}")
        con.execute(
            "INSERT INTO sources (source_id, name, kind, fingerprint, rows_read, rows_loaded,"
            " rows_rejected, first_date, last_date, loaded_at)"
            " VALUES ($id, $name, 'demo', $fp, $n, $n, 0, $first, $last, now())",
            {
                "id": SOURCE_ID,
                "name": SOURCE_NAME,
                "fp": f"demo:v{spec.params['version']}:lines={lines}",
                "n": lines,
                "first": spec.first_date,
                "last": spec.last_date,
            },
        )
        con.execute("DROP TABLE demo_cells")
        steps.update()
        steps.set_postfix_str("rollups")
        db.rebuild_rollups(con)
        con.execute("CHECKPOINT")
        steps.update()
    finally:
        con.close()


# A first question waits this long for another process building the demo data.
FIRST_USE_WAIT_SECONDS = 600.0


def ensure_database(path: str | os.PathLike | None = None) -> Path:
    """The database path (--db, TOPRANK_DB, data/claims.duckdb); builds the demo there
    first if no file exists yet. Several processes starting at once build it once: the
    others wait for the writer lock, then find the file there."""
    from toprank.data import writer

    target = db.db_path(path)
    if target.exists():
        return target
    with writer.writing(target, "first use", copy=False, wait=FIRST_USE_WAIT_SECONDS) as draft:
        if target.exists():  # built by the process that held the lock
            return target
        print(
            f"building the demo database (about a million claim lines) at {target} ...",
            file=sys.stderr,
        )
        _build_and_publish(draft, DEFAULT_LINES, sys.stderr.isatty())
    return target


def human_bytes(size: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"
