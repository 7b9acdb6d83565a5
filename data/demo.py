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
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from data import db
from data.catalog import in_rehab_range, load_catalog

DATA_DIR = Path(__file__).resolve().parent
DEFAULT_LINES = 1_000_000
COHORTS = ("pt", "ot", "slp", "chiro", "pmr", "other")
PAYERS = ("medicare", "medicaid", "commercial", "other")
SOURCE_ID = 1
SOURCE_NAME = "demo: synthetic claims calibrated to published rankings"
# Below this size one procedure moves a share by more than the published rounding
# margin, so the calibration is checked (and enforced) only from here up.
CALIBRATED_FROM_LINES = 100_000
MIN_LINES = 1_000
# Lines inserted per statement: bounds memory and gives the progress bar its steps.
BATCH_LINES = 2_000_000
# Line ids are packed as ((group * 2^GROUP_SHIFT) + i) * 64 + slot // 3; i < 2^GROUP_SHIFT.
GROUP_SHIFT = 24


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
    targets = pd.read_csv(data_dir / "demo_targets.csv", comment="#", dtype={"code": str})
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


def systematic_round(
    group: np.ndarray, total: np.ndarray, weight: np.ndarray, offset: np.ndarray
) -> np.ndarray:
    """Integer counts per row summing exactly to each group's total (rows of a group must be
    contiguous): count = floor(total * cum + u) - floor(total * cum_before + u), with u in
    [0, 1) a fixed offset per group. Each count is the floor or ceiling of its quota, like
    largest remainder, but small totals are spread over rows in proportion to their weight
    instead of always landing on the heaviest rows (small states would otherwise never
    see a rare code)."""
    frame = pd.DataFrame({"g": group, "w": weight})
    wsum = frame.groupby("g", sort=False)["w"].transform("sum").to_numpy()
    if np.any((wsum <= 0) & (total > 0)):
        raise CalibrationError("a group with a positive total has no positive weight")
    share = np.where(wsum > 0, weight / np.where(wsum > 0, wsum, 1.0), 0.0)
    cum = pd.Series(share).groupby(group, sort=False).cumsum().to_numpy()
    last = np.r_[group[1:] != group[:-1], True]
    cum = np.minimum(cum, 1.0)
    cum[last] = 1.0
    upper = np.floor(total * cum + offset)
    lower = np.r_[0.0, upper[:-1]]
    start = np.r_[True, group[1:] != group[:-1]]
    lower[start] = np.floor(offset[start])
    return (upper - lower).astype(np.int64)


def _golden_offsets(k: np.ndarray) -> np.ndarray:
    """A fixed, well spread offset in [0, 1) for group number k."""
    return np.mod(0.5 + k * 0.6180339887498949, 1.0)


def _tilt(keys: list[str], amplitude: float) -> np.ndarray:
    """exp(amplitude * u), u in [-1, 1] from the CRC32 of each key: stable across runs."""
    u = np.array([zlib.crc32(k.encode()) / 2**32 * 2 - 1 for k in keys])
    return np.exp(amplitude * u)


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
    targets = spec.targets[spec.targets["year"] == year]
    if set(targets["cohort"]) != {"rehab"}:
        raise CalibrationError("only rehab-cohort targets can be balanced")
    mix = _mix_for(spec, cohort, year)
    solved = {code for c, code, y in spec.balance if c == cohort and y == year}
    if solved != set(targets["code"]):
        raise CalibrationError(f"{cohort} {year}: balanced codes must be the target codes")
    rehab = mix["code"].map(in_rehab_range)
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
    assert rehab.any()
    out = pd.concat([solved_frame, rest[["code", "n"]], outside[["code", "n"]]])
    return out.assign(cohort=cohort, year=year)


def calibration_problems(counts: pd.DataFrame, spec: DemoSpec) -> list[str]:
    """What is off against the published tables (empty when all of them hold)."""
    problems: list[str] = []
    rehab = counts[counts["code"].map(in_rehab_range)]
    for year, targets in spec.targets.groupby("year"):
        by_code = rehab[rehab["year"] == year].groupby("code")["n"].sum()
        share = 100.0 * by_code / by_code.sum()
        ranked = share.sort_values(ascending=False, kind="stable")
        want = list(targets["code"])
        got = list(ranked.index[: len(want)])
        if got != want:
            problems.append(f"rehab {year} order {got} != {want}")
        for t in targets.itertuples():
            if round(share.get(t.code, 0.0), 1) != round(t.share_pct, 1):
                problems.append(f"rehab {year} {t.code} {share.get(t.code, 0.0):.3f}%")
    published = {  # the provider-cohort lists, calendar 2022 (published_rankings.csv)
        "ot": (
            ["97110", "97140", "97530"],
            {"97110": 34, "97140": 22, "97530": 17, "97162": 2, "97161": 2},
        ),
        "pt": (["97110", "97140", "97530"], {}),
    }
    for cohort, (top, shares) in published.items():
        part = counts[(counts["cohort"] == cohort) & (counts["year"] == 2022)]
        share = (100.0 * part.set_index("code")["n"] / part["n"].sum()).sort_values(
            ascending=False, kind="stable"
        )
        if list(share.index[: len(top)]) != top:
            problems.append(f"{cohort} 2022 top {list(share.index[:3])} != {top}")
        for code, pct in shares.items():
            if round(share.get(code, 0.0)) != pct or code not in share.index[:10]:
                problems.append(f"{cohort} 2022 {code} {share.get(code, 0.0):.2f}%")
    return problems


def _spread(frame: pd.DataFrame, items: pd.DataFrame, weight) -> pd.DataFrame:
    """Shares each row's n over `items` (a cross join), weights aligned to the result."""
    frame = frame.reset_index(drop=True)
    out = frame.merge(items, how="cross")
    group = np.repeat(np.arange(len(frame)), len(items))
    out["n"] = systematic_round(
        group,
        np.repeat(frame["n"].to_numpy(), len(items)),
        weight(out).to_numpy(dtype=float),
        _golden_offsets(group),
    )
    return out[out["n"] > 0]


def quota_cells(spec: DemoSpec, counts: pd.DataFrame) -> pd.DataFrame:
    """Exact line counts per cohort x month x code x state x payer (only positive cells),
    from the cohort x year x code counts."""
    catalog = load_catalog()
    params = spec.params
    counts = counts[counts["n"] > 0]
    unknown = sorted(set(counts["code"]) - set(catalog.codes))
    if unknown:
        raise CalibrationError(f"demo_mix.csv bills codes missing from codes.csv: {unknown}")

    months = month_weights(spec)
    by_month = _spread(
        counts,
        months.rename(columns={"year": "month_year"}),
        lambda f: f["weight"].where(f["month_year"] == f["year"], 0.0),
    )[["cohort", "month", "code", "n"]]

    states = pd.DataFrame(
        {
            "state": list(catalog.states),
            "pop": [catalog.state_population[s] for s in catalog.states],
        }
    )
    amp = params["state_tilt_amplitude"]
    by_state = _spread(
        by_month,
        states,
        lambda f: (
            f["pop"]
            * _tilt_lookup(f["state"] + "|" + f["code"], amp["code"])
            * _tilt_lookup(f["state"] + "|" + f["cohort"], amp["cohort"])
        ),
    )[["cohort", "month", "code", "state", "n"]]

    payer_weight = _payer_weights(spec, list(catalog.states), sorted(set(counts["code"])))
    cells = _spread(
        by_state,
        pd.DataFrame({"payer": PAYERS}),
        lambda f: f.merge(payer_weight, on=["cohort", "code", "state", "payer"], how="left")[
            "weight"
        ],
    )
    return cells[["cohort", "month", "code", "state", "payer", "n"]].reset_index(drop=True)


def _tilt_lookup(keys: pd.Series, amplitude: float) -> pd.Series:
    uniq = pd.unique(keys)
    table = dict(zip(uniq, _tilt(list(uniq), amplitude), strict=True))
    return keys.map(table)


def _payer_weights(spec: DemoSpec, states: list[str], codes: list[str]) -> pd.DataFrame:
    """Payer weight per cohort x code x state x payer: the cohort's payer mix times the
    state's curated and hashed tilts times the code's tilt."""
    p = spec.params
    state_tilt = p.get("payer_state_tilt", {})
    code_tilt = {str(k): v for k, v in p.get("payer_code_tilt", {}).items()}
    frame = pd.DataFrame(
        [(c, s, payer) for c in COHORTS for s in states for payer in PAYERS],
        columns=["cohort", "state", "payer"],
    )
    frame["base"] = (
        frame["cohort"].map(lambda c: p["payer_mix"][c]).combine(frame["payer"], lambda m, y: m[y])
        * [
            state_tilt.get(s, {}).get(y, 1.0)
            for s, y in zip(frame["state"], frame["payer"], strict=True)
        ]
        * _tilt_lookup("payer|" + frame["state"] + "|" + frame["payer"], p["payer_tilt_amplitude"])
    )
    tilts = pd.DataFrame(
        [(c, payer, code_tilt.get(c, {}).get(payer, 1.0)) for c in codes for payer in PAYERS],
        columns=["code", "payer", "tilt"],
    )
    out = frame.merge(tilts, on="payer")
    out["weight"] = out["base"] * out["tilt"]
    return out[["cohort", "code", "state", "payer", "weight"]]


# ---------------------------------------------------------------------------- line details


def _luhn_npis(base9: np.ndarray) -> np.ndarray:
    """10-digit NPIs: the 9-digit base plus its Luhn check digit (with the 80840 prefix)."""
    digits = np.stack([(base9 // 10**k) % 10 for k in range(8, -1, -1)], axis=1)
    doubled = digits[:, 0::2] * 2  # positions 1, 3, 5, 7, 9 from the left
    total = 24 + (doubled // 10 + doubled % 10).sum(axis=1) + digits[:, 1::2].sum(axis=1)
    check = (10 - total % 10) % 10
    return np.char.add(base9.astype(str), check.astype(str))


def _bucket_table(mix: dict, name: str) -> pd.DataFrame:
    """100 buckets (0-99) shared out by percent, in the order given."""
    keys = [str(k) for k in mix]
    counts = _apportion(100, np.array([float(v) for v in mix.values()]))
    return pd.DataFrame({"bucket": np.arange(100), name: np.repeat(keys, counts)})


def providers_table(spec: DemoSpec) -> pd.DataFrame:
    """Provider pools per cohort x state: provider_id, cohort, state, npi, taxonomy."""
    catalog = load_catalog()
    p = spec.params
    states = list(catalog.states)
    pop = np.array([catalog.state_population[s] for s in states], dtype=float)
    frames = []
    for cohort in COHORTS:
        sizes = np.maximum(3, np.rint(p["providers"][cohort] * pop / pop.sum())).astype(int)
        taxonomy = p["taxonomy_mix"][cohort]
        shares = np.cumsum(np.array(list(taxonomy.values()), dtype=float))
        shares /= shares[-1]
        for state, size in zip(states, sizes, strict=True):
            position = (np.arange(size) + 0.5) / size
            frames.append(
                pd.DataFrame(
                    {
                        "cohort": cohort,
                        "state": state,
                        "taxonomy": np.array(list(taxonomy))[np.searchsorted(shares, position)],
                    }
                )
            )
    out = pd.concat(frames, ignore_index=True)
    out["provider_id"] = np.arange(len(out), dtype=np.int64)
    # A bijection onto 9-digit numbers starting with 1 (7919 is prime to 9e7).
    base9 = 100_000_000 + (out["provider_id"].to_numpy() * 7919 + 4_242_424) % 90_000_000
    out["npi"] = _luhn_npis(base9)
    unknown = set(out["taxonomy"]) - set(catalog.taxonomy)
    if unknown:
        raise CalibrationError(f"demo taxonomy codes missing from taxonomy.csv: {unknown}")
    return out[["provider_id", "cohort", "state", "npi", "taxonomy"]]


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
    spec: DemoSpec, cells: pd.DataFrame, providers: pd.DataFrame, batch_lines: int = BATCH_LINES
) -> pd.DataFrame:
    """The quota cells with what demo_lines.sql needs to expand them."""
    catalog = load_catalog()
    p = spec.params
    cells = cells.sort_values(["month", "cohort", "state", "payer", "code"], ignore_index=True)
    cells["days"] = [calendar.monthrange(m.year, m.month)[1] for m in cells["month"]]
    cells["grp"] = cells.groupby(["cohort", "month", "state", "payer"], sort=False).ngroup()
    slots = spec.mix[["cohort", "code"]].copy()
    slots["slot"] = slots.groupby("cohort", sort=False).cumcount().astype(np.int32)
    timed = {code for code, info in catalog.codes.items() if info.timed == "yes"}
    slots["timed"] = slots["code"].isin(timed)
    therapy = slots["code"].map(lambda c: in_rehab_range(c) or c.startswith("92"))
    slots["modifier_base"] = slots["cohort"].map(p["therapy_modifier"]).where(therapy)
    cells = cells.merge(slots, on=["cohort", "code"], how="left")
    combos = cells[["cohort", "code", "payer"]].drop_duplicates(ignore_index=True)
    extra = [_extra_modifier(p["extra_modifiers"], *k) for k in combos.itertuples(index=False)]
    combos["modifier_extra"] = [m for m, _ in extra]
    combos["modifier_extra_pct"] = np.array([pct for _, pct in extra], dtype=np.int32)
    cells = cells.merge(combos, on=["cohort", "code", "payer"], how="left")
    pools = providers.groupby(["cohort", "state"])["provider_id"].agg(["min", "count"])
    pools.columns = ["pool_start", "pool_size"]
    cells = cells.merge(pools, left_on=["cohort", "state"], right_index=True, how="left")
    before = cells["n"].cumsum().to_numpy() - cells["n"].to_numpy()
    cells["batch"] = (before // batch_lines).astype(np.int32)
    return cells


def lookup_tables(spec: DemoSpec) -> dict[str, pd.DataFrame]:
    p = spec.params
    pos = pd.concat(
        [_bucket_table(p["place_of_service"][c], "pos").assign(cohort=c) for c in COHORTS],
        ignore_index=True,
    )
    units = _bucket_table(p["timed_units"], "units")
    units["units"] = units["units"].astype(np.int32)
    return {"demo_pos": pos, "demo_units": units}


# ---------------------------------------------------------------------------- build


def _remove(*paths: Path) -> None:
    for path in paths:
        if path.is_dir():
            for child in path.iterdir():
                child.unlink()
            path.rmdir()
        elif path.exists():
            path.unlink()


def build_demo(
    path: str | os.PathLike, lines: int = DEFAULT_LINES, progress: bool = True
) -> DemoStats:
    """Writes the demo database at `path` (replacing any file there) and returns its stats.

    The database is built in a temporary file next to `path` and renamed at the end, so
    an interrupted build never leaves a half-built database behind."""
    from tqdm import tqdm

    if lines < MIN_LINES:
        raise ValueError(f"the demo needs at least {MIN_LINES:,} lines (asked for {lines:,})")
    started = time.perf_counter()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.stem}.{os.getpid()}.duckdb.tmp")
    tmp_wal = Path(f"{tmp}.wal")
    spill = path.with_name(f"{path.stem}.{os.getpid()}.spill.tmp")
    _remove(tmp, tmp_wal, spill)
    steps = tqdm(total=4, desc="demo data", unit="step", disable=not progress, file=sys.stderr)
    try:
        spec = load_spec()
        steps.set_postfix_str("quotas")
        counts = code_year_counts(spec, lines)
        problems = calibration_problems(counts, spec)
        if problems and lines >= CALIBRATED_FROM_LINES:
            raise CalibrationError("; ".join(problems))
        providers = providers_table(spec)
        cells = cell_table(spec, quota_cells(spec, counts), providers)
        assert int(cells["n"].sum()) == lines
        steps.update()

        con = db.connect_rw(tmp)
        try:
            con.execute("SET preserve_insertion_order = false")
            con.execute(f"SET temp_directory = '{spill.as_posix()}'")
            db.create_schema(con)
            con.register("cells_frame", cells)
            con.execute("CREATE TEMP TABLE demo_cells AS SELECT * FROM cells_frame")
            con.unregister("cells_frame")
            con.register("providers_frame", providers)
            con.execute(
                "CREATE TEMP TABLE demo_providers AS "
                "SELECT provider_id, npi, taxonomy FROM providers_frame"
            )
            con.unregister("providers_frame")
            for name, frame in lookup_tables(spec).items():
                con.register("lookup_frame", frame)
                con.execute(f"CREATE TEMP TABLE {name} AS SELECT * FROM lookup_frame")
                con.unregister("lookup_frame")
            steps.update()
            steps.set_postfix_str("claim lines")
            sql = (DATA_DIR / "demo_lines.sql").read_text(encoding="utf-8")
            batch_lines = cells.groupby("batch")["n"].sum()
            with tqdm(
                total=lines,
                desc="claim lines",
                unit=" lines",
                unit_scale=True,
                disable=not progress,
                file=sys.stderr,
                leave=False,
            ) as bar:
                for batch, n in batch_lines.items():
                    con.execute(sql, {"batch": int(batch), "source_id": SOURCE_ID})
                    bar.update(int(n))
            loaded = con.execute("SELECT count(*) FROM claim_lines").fetchone()[0]
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
            for name in ("demo_cells", "demo_providers", "demo_pos", "demo_units"):
                con.execute(f"DROP TABLE {name}")
            steps.update()
            steps.set_postfix_str("rollups")
            db.rebuild_rollups(con)
            con.execute("CHECKPOINT")
            steps.update()
        finally:
            con.close()
        _remove(Path(f"{path}.wal"), spill)
        os.replace(tmp, path)
    except BaseException:
        _remove(tmp, tmp_wal, spill)
        raise
    finally:
        steps.close()
    return DemoStats(
        path=path,
        lines=lines,
        seconds=time.perf_counter() - started,
        bytes=path.stat().st_size,
    )


def ensure_database(path: str | os.PathLike | None = None) -> Path:
    """The database path (--db, TOPRANK_DB, data/claims.duckdb); builds the demo there
    first if no file exists yet."""
    target = db.db_path(path)
    if not target.exists():
        print(
            f"building the demo database (about a million claim lines) at {target} ...",
            file=sys.stderr,
        )
        build_demo(target, DEFAULT_LINES, progress=sys.stderr.isatty())
    return target


def human_bytes(size: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"


if __name__ == "__main__":  # python -m data.demo [PATH] [LINES]
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else db.db_path()
    n = int(sys.argv[2]) if len(sys.argv) > 2 else DEFAULT_LINES
    stats = build_demo(target, n)
    print(
        f"{stats.lines:,} lines in {stats.seconds:.1f} s, {human_bytes(stats.bytes)}: {stats.path}"
    )
