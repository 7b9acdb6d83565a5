"""Answers to data questions: a resolved spec, its plan and the rows it returned ->
rows of the contract, a title, the answer in sentences, the rows as text lines, and
notes. Pure.

One builder per SQL family (ranked, total, breakdown, time, movers). Each row carries
its group keys (code, cohort, state, payer, year, quarter "2022-Q1", month "2022-03",
place_of_service, period) and its measure under its own name (procedures, units or
claims), share_pct and rank. Small counts are suppressed (bot.suppress) before any
text is written, so no surface can show them.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from toprank.bot.columns import write
from toprank.bot.knowledge import Knowledge
from toprank.bot.suppress import Group, strip_raw, suppress
from toprank.data.catalog import Catalog
from toprank.intents.model import Coverage, Period
from toprank.intents.periods import describe_period, month_end
from toprank.intents.resolve import MOVERS_MIN_VOLUME, Resolved
from toprank.intents.spec import Spec
from toprank.sql.compile import Plan

TEXT_ROWS = 10
SERIES_TEXT_ROWS = 5
MEASURE_NOUN = {
    "procedures": "procedures",
    "units": "units",
    "claims": "visits",
    "payments": "payments",
    "allowed": "allowed amounts",
    "charges": "charges",
    "beneficiaries": "beneficiaries",
}
# What an amount is, said once under the answer (registry: one line per measure).
AMOUNT_NOTES = {
    "payments": "Payments are what was paid, in US dollars (a claim file's paid_amount; the "
    "CMS file's Medicare payment, Tot_Srvcs x Avg_Mdcr_Pymt_Amt).",
    "allowed": "Allowed amounts are what the payer allowed, in US dollars (a claim file's "
    "allowed_amount; the CMS file's Tot_Srvcs x Avg_Mdcr_Alowd_Amt).",
    "charges": "Charges are what providers submitted, in US dollars (a claim file's "
    "charge_amount; the CMS file's Tot_Srvcs x Avg_Sbmtd_Chrg).",
    "beneficiaries": "Beneficiaries (the CMS file's Tot_Benes) are counted per provider: summed "
    "here across providers, codes and months, a person seen by several providers counts once "
    "for each, so this is more than the number of distinct people.",
}
MONEY = frozenset({"payments", "allowed", "charges"})
DIMENSION_NOUN = {
    "state": "state",
    "payer": "payer",
    "cohort": "specialty",
    "place_of_service": "place of service",
    "year": "year",
    "quarter": "quarter",
    "month": "month",
    "code": "code",
}


def fmt_count(value: Any) -> str:
    """A count in a sentence, as every table writes it ("94,964", "<11")."""
    return write("procedures", value)


def fmt_dollars(cents: Any) -> str:
    """Whole cents (or a fraction of them, for an average) as "$1,234.50"."""
    if isinstance(cents, str):
        return cents
    if cents is None:
        return "-"
    return f"${cents / 100:,.2f}"


def fmt_pct(value: Any) -> str:
    """A share in a sentence, as every table writes it ("47.6%")."""
    return write("share_pct", value)


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _pct(value: float | None) -> float | None:
    return None if value is None else round(float(value), 2)


def _share(value: Any, total: Any) -> float | None:
    if not isinstance(value, (int, float)) or not total:
        return None
    return _pct(100.0 * value / total)


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


@dataclass
class Built:
    """What a family builder returns (bot.answer wraps it into an Answer)."""

    rows: list[dict[str, Any]]
    title: str
    summary: list[str] = field(default_factory=list)  # the answer in sentences
    lines: list[str] = field(default_factory=list)  # the rows as text (the JSON `text`)
    notes: list[str] = field(default_factory=list)
    empty_text: str = ""  # nothing matched: a no_data answer that says this


@dataclass
class DataContext:
    r: Resolved
    plan: Plan
    records: list[dict[str, Any]]
    catalog: Catalog
    knowledge: Knowledge
    coverage: Coverage
    min_cell: int

    @property
    def spec(self) -> Spec:
        return self.r.spec

    @property
    def measure(self) -> str:
        return self.spec.measure

    @property
    def noun(self) -> str:
        return MEASURE_NOUN[self.measure]

    @property
    def amount(self) -> bool:
        """An amount carried by some sources (money, beneficiaries), with `procedures`."""
        return self.measure in AMOUNT_NOTES

    @property
    def count_noun(self) -> str:
        """What a small count is of: an amount is hidden by its procedures."""
        if self.measure == "beneficiaries":
            return "beneficiaries or procedures"
        return "procedures" if self.money else self.noun

    @property
    def money(self) -> bool:
        return self.measure in MONEY

    @property
    def average_key(self) -> str | None:
        return f"avg_{self.measure}" if self.spec.average and self.measure in MONEY else None

    def fmt(self, value: Any) -> str:
        """A value of the measure as the text says it: dollars for money."""
        return fmt_dollars(value) if self.measure in MONEY else fmt_count(value)

    def base_fields(self, rec: dict[str, Any], value: Any = None) -> dict[str, Any]:
        """An amount's procedures (those carrying it) and the scope's, and its average
        (the amount over those procedures: a ratio of sums) when asked."""
        if not self.amount:
            return {}
        base = int(rec.get("base") or 0)
        out: dict[str, Any] = {"procedures": base, "_base_total": int(rec.get("base_total") or 0)}
        key = self.average_key
        if key:
            out[key] = value / base if base and isinstance(value, int) else None
        return out

    def amount_words(self, row: dict[str, Any]) -> str:
        """ " ($64.32 per procedure, 29,802 procedures)" beside an amount."""
        if not self.amount:
            return ""
        procedures = fmt_count(row.get("procedures"))
        key = self.average_key
        if key:
            return f" ({fmt_dollars(row.get(key))} per procedure, {procedures} procedures)"
        return f" ({procedures} procedures)"

    def suppress(self, rows: list[dict[str, Any]], groups: Sequence[Group]) -> None:
        """Small cells hidden. Money rides on its procedures: when a row's count is hidden
        its amount and average are too (else the count could be worked out from them),
        and each series' procedures are a group as counts are. Beneficiaries are a count
        of their own (their groups are the builder's), with their procedures beside."""
        if not self.amount:
            suppress(rows, (self.measure,), ("share_pct",), self.min_cell, groups)
            return
        by_procedures = _base_groups(rows)
        if self.money:
            hidden_with = [k for k in (self.measure, "share_pct", self.average_key) if k]
            suppress(rows, ("procedures",), hidden_with, self.min_cell, by_procedures)
            return
        counts = ("beneficiaries", "procedures")
        suppress(rows, counts, ("share_pct",), self.min_cell, groups)
        suppress(rows, counts[::-1], ("share_pct",), self.min_cell, by_procedures)

    # --- naming things -----------------------------------------------------------

    def cohort_noun(self, cohort: str) -> str:
        noun = self.knowledge.phrase(cohort).noun
        return "" if noun == "all" else noun

    def scope_noun(self) -> str:
        """ "OT", "OT and PT", "" (all): what a measure belongs to."""
        if self.plan.series_by in ("cohort", "cohort_index") or "cohorts" in self.spec.subset:
            return ""
        return " and ".join(n for n in (self.cohort_noun(c) for c in self.r.cohorts) if n)

    def what(self) -> str:
        """ "OT procedures", "procedures", "OT and PT visits"."""
        return f"{self.scope_noun()} {self.noun}".strip()

    def codes_what(self) -> str:
        """The codes asked about as a subject: "97110 procedures" when the cohort was not
        asked (the default for the codes), "97110 OT procedures" when it was."""
        scope = self.scope_noun() if self.spec.cohorts else ""
        return " ".join(p for p in (self.codes_label(), scope, self.noun) if p)

    def codes_label(self) -> str:
        parts = []
        for s in self.spec.codes:
            if s.kind == "code" or s.is_range:
                parts.append(s.codes[0] if s.kind == "code" else s.label)
            else:
                parts.append(f"{s.label} ({_code_list(s.codes)})")
        return " and ".join(parts)

    def filter_words(self) -> list[str]:
        """ "Texas", "excluding Medicare", "at office", "without modifier 59"..."""
        spec, catalog, by = self.spec, self.catalog, self.plan.series_by
        part = set(spec.subset)  # the part of a share is said as the part, not the scope
        places = {k: p.name.lower() for k, p in catalog.places.items()}
        names: dict[str, Callable[[str], str]] = {
            "states": lambda v: catalog.states.get(v, v),
            "payers": lambda v: catalog.payer_names.get(v, v),
            "places": lambda v: places.get(v, v),
            "settings": lambda v: f"{v} settings",
            "modifiers": lambda v: v,
        }
        lead = {
            "states": "",
            "payers": "",
            "places": "at ",
            "settings": "in ",
            "modifiers": "with modifier ",
        }
        out: list[str] = []
        for name in ("states", "payers", "places", "settings", "modifiers"):
            sel = getattr(spec, name)
            if name in part:
                continue
            if sel.include and by != name[:-1]:
                out.append(lead[name] + " or ".join(names[name](v) for v in sel.include))
            if sel.exclude:
                word = "without modifier " if name == "modifiers" else "excluding "
                out.append(word + " or ".join(names[name](v) for v in sel.exclude))
        if spec.exclude_cohorts:
            out.append(
                "excluding what "
                + " and ".join(self.cohort_noun(k) or k for k in spec.exclude_cohorts)
                + " billed"
            )
        if spec.exclude_codes:
            out.append(
                "excluding "
                + " and ".join(
                    s.codes[0] if s.kind == "code" else s.label for s in spec.exclude_codes
                )
            )
        return out

    def period_label(self, period: Period | None = None) -> str:
        p = period or self.r.period
        return describe_period(p, self.coverage) or p.label

    def scope_line(self) -> str:
        """ "Texas, excluding Medicare, 2022": filters then the period."""
        parts = self.filter_words()
        if self.plan.series_by != "period":
            parts.append(self.period_label())
        return ", ".join(p for p in parts if p)

    def series_label(self, key: Any) -> str:
        by = self.plan.series_by
        if by is None:
            return ""
        if by == "period":
            return self.period_label(self.r.periods[int(key)])
        if by == "cohort_index":
            return self.cohort_noun(self.r.cohorts[int(key)]) or "all"
        if by == "cohort":
            return self.cohort_noun(str(key)) or "all"
        return group_name(self, by, key)

    def series_fields(self, key: Any) -> dict[str, Any]:
        """The row keys of a series value."""
        by = self.plan.series_by
        if by is None or by == "code":
            return {} if by is None else {"code": str(key)}
        if by == "period":
            p = self.r.periods[int(key)]
            out: dict[str, Any] = {"period": self.period_label(p)}
            whole_year = (p.start.month, p.start.day, p.end.month, p.end.day) == (1, 1, 12, 31)
            cut_year = p.start.month == 1 and p.start.day == 1 and p.end == self.coverage.end
            if p.start.year == p.end.year and (whole_year or cut_year):
                out["year"] = p.start.year
            return out
        if by == "cohort_index":
            return {"cohort": self.r.cohorts[int(key)]}
        return group_fields(by, key)

    def ordered(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Series in the order asked (cohorts, states, payers, codes as named)."""
        keys = list(self.plan.series_keys)
        if not keys or self.plan.series_by in ("period", "cohort_index"):
            return records
        position = {k: i for i, k in enumerate(keys)}
        return sorted(records, key=lambda r: position.get(r["series"], len(keys)))

    def complete(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Every period or cohort asked for, in the order asked: one the data has no lines
        for comes back from SQL as no row at all, and is shown as 0, never left out
        ("Q1 2022 vs 2021" with nothing in Q1 2022 must not read as 2021 alone)."""
        by = self.plan.series_by
        if by not in ("period", "cohort_index"):
            return records
        have = {int(r["series"]) for r in records}
        zeros = [
            {"series": k, "value": 0, "total": 0}
            for k in range(len(self.plan.series_keys))
            if k not in have
        ]
        return sorted([*records, *zeros], key=lambda r: int(r["series"]))

    def empty(self) -> Built:
        """Nothing in the data matches: said with what was asked and what is held."""
        from toprank.bot.answer import annual_note  # the note is shared with the wrapper

        filters = self.filter_words()
        where = f" ({', '.join(filters)})" if filters else ""
        what = self.what()
        if self.spec.codes:
            what = f"{self.codes_label()} in {what}"
        note = annual_note(self.r.periods, self.coverage)
        return Built(
            [],
            "",
            empty_text=(
                f"No {what}{where} in {self.period_label()}. The data covers "
                f"{self.coverage.start.isoformat()} through {self.coverage.end.isoformat()}."
                + (f" {note}" if note else "")
            ),
        )


def _code_list(codes: Sequence[str]) -> str:
    if len(codes) <= 4:
        return ", ".join(codes)
    return f"{codes[0]}-{codes[-1]}, {len(codes)} codes"


def group_fields(by: str, key: Any) -> dict[str, Any]:
    """Row keys for a group or series value of dimension `by` (time keys arrive as one
    integer: 2022, 20221 for 2022-Q1, 202203 for 2022-03)."""
    if by == "year":
        return {"year": int(key)}
    if by == "quarter":
        y, q = divmod(int(key), 10)
        return {"year": y, "quarter": f"{y}-Q{q}"}
    if by == "month":
        y, m = divmod(int(key), 100)
        return {"year": y, "month": f"{y}-{m:02d}"}
    return {by: key}


def group_name(ctx: DataContext, by: str, key: Any) -> str:
    catalog = ctx.catalog
    if by == "state":
        return catalog.states.get(str(key), str(key))
    if by == "payer":
        return catalog.payer_names.get(str(key), str(key))
    if by == "cohort":
        return ctx.cohort_noun(str(key)) or str(key)
    if by == "place_of_service":
        place = catalog.places.get(str(key))
        return f"{place.name} ({key})" if place else f"place of service {key or 'unknown'}"
    if by in ("year", "quarter", "month"):
        return str(group_fields(by, key)[by])
    return str(key)


def time_fields(ctx: DataContext, year: int, part: int, by: str) -> dict[str, Any]:
    """Row keys of a time bucket, with a label that says when the data covers it only in
    part ("2023 (Jan-Sep)"): from the coverage, never from which months hold rows."""
    if by == "year":
        start, end = date(year, 1, 1), date(year, 12, 31)
        fields: dict[str, Any] = {"year": year}
        label = str(year)
    elif by == "quarter":
        start, end = date(year, 3 * part - 2, 1), month_end(year, 3 * part)
        fields = {"year": year, "quarter": f"{year}-Q{part}"}
        label = fields["quarter"]
    else:
        start, end = date(year, part, 1), month_end(year, part)
        fields = {"year": year, "month": f"{year}-{part:02d}"}
        label = fields["month"]
    span = ctx.r.period
    lo = max(start, ctx.coverage.start, span.start)
    hi = min(end, ctx.coverage.end, span.end)
    annual = year in ctx.coverage.annual_years  # an annual file covers its whole year
    if (lo, hi) != (start, end) and lo <= hi and not annual and by != "month":
        short = calendar.month_abbr
        label += (
            f" ({short[lo.month]}-{short[hi.month]})"
            if lo.month != hi.month
            else f" ({short[lo.month]})"
        )
    fields["period"] = label
    return fields


def _split_series(rows: list[dict[str, Any]]) -> dict[Any, list[dict[str, Any]]]:
    out: dict[Any, list[dict[str, Any]]] = {}
    for row in rows:
        out.setdefault(row["_series"], []).append(row)
    return out


def _series_groups(rows: list[dict[str, Any]], measure: str, listed_all: bool) -> list[Group]:
    """Each series is a group of cells adding up to its total, ranked by the count; it is
    complete when every member is listed (the rows add up to the total)."""
    by: dict[Any, list[int]] = {}
    for i, row in enumerate(rows):
        by.setdefault(row["_series"], []).append(i)
    groups = []
    for ix in by.values():
        ix.sort(key=lambda i: (rows[i].get("rank") is None, rows[i].get("rank") or 0, i))
        values = [rows[i].get(measure) for i in ix]
        total = rows[ix[0]]["_total"]
        counts = [v for v in values if isinstance(v, int)]
        adds_up = len(counts) == len(values) and sum(counts) == total
        groups.append(Group(tuple(ix), total, complete=listed_all or adds_up, ordered=True))
    return groups


def _adds_up(rows: list[dict[str, Any]], group: Group, measure: str, total_key: str) -> bool:
    values = [rows[i].get(measure) for i in group.rows]
    counts = [v for v in values if isinstance(v, int)]
    return len(counts) == len(values) and sum(counts) == rows[group.rows[0]][total_key]


def _part_groups(rows: list[dict[str, Any]]) -> list[Group]:
    """A count of part of a scope with the scope's total: the rest of the scope is a
    cell too."""
    return [Group((i,), row["_total"], complete=False) for i, row in enumerate(rows)]


def _period_groups(ctx: DataContext, rows: list[dict[str, Any]]) -> list[Group]:
    """Codes picked out of a scope, period by period: in each period the codes shown (one
    per series when the series are codes) and the rest of the scope add up to its total."""
    by: dict[Any, list[int]] = {}
    for i, row in enumerate(rows):
        series = None if ctx.plan.series_by == "code" else row["_series"]
        by.setdefault((row["period"], series), []).append(i)
    return [Group(tuple(ix), rows[ix[0]]["_total"], complete=False) for ix in by.values()]


def _rank_by_average(ctx: DataContext, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """ "Highest average payment": each series ranked by the average (the amount over its
    procedures), cut to the rows asked for; an average of a small count is no ranking's
    leader (it is hidden), so it goes last."""
    key, n, out = ctx.average_key or "", ctx.r.n, []
    for srows in _split_series(rows).values():
        srows.sort(
            key=lambda r: (
                r["procedures"] < ctx.min_cell,
                -(r.get(key) or 0),
                str(r.get("code") or r.get("name")),
            )
        )
        for i, row in enumerate(srows, 1):
            row["rank"] = i
        out.extend(srows[:n] if n else srows)
    return out


def _base_groups(rows: list[dict[str, Any]]) -> list[Group]:
    """An amount's rows by series (and period): their procedures add up to the scope's
    procedures that carry the amount, as a count's cells add up to its total."""
    by: dict[Any, list[int]] = {}
    for i, row in enumerate(rows):
        by.setdefault((row.get("_series"), row.get("period")), []).append(i)
    groups = []
    for ix in by.values():
        total = rows[ix[0]].get("_base_total")
        listed = sum(rows[i].get("procedures") or 0 for i in ix)
        groups.append(Group(tuple(ix), total, complete=listed == total, total_key="_base_total"))
    return groups


def _finish(rows: list[dict[str, Any]], measure: str = "procedures") -> None:
    """Drop the builder's private keys (raw counts, totals) before rows leave; money
    leaves in dollars (it is summed in whole cents)."""
    strip_raw(rows)
    for row in rows:
        for key in [k for k in row if k.startswith("_")]:
            del row[key]
        if measure in MONEY:
            for key in (measure, f"avg_{measure}", f"{measure}_before"):
                if isinstance(row.get(key), (int, float)):
                    row[key] = round(row[key] / 100, 2)


def _total_phrase(ctx: DataContext, total: int | None, what: str | None = None) -> str:
    what = what or ctx.what()
    if total is None:  # withheld: it would let a small count be worked out
        return f"all {what}"
    if 0 < total < ctx.min_cell and not ctx.money:
        return f"fewer than {ctx.min_cell} {what}"
    return f"all {ctx.fmt(total)} {what}"


def _series_noun(ctx: DataContext) -> str:
    by = ctx.plan.series_by
    if by in ("cohort", "cohort_index"):
        return "cohort"
    return DIMENSION_NOUN.get(by or "", by or "group")


# --------------------------------------------------------------------------- ranked


def build_ranked(ctx: DataContext) -> Built:
    """Codes ranked: a top list, a ranking within named codes, where asked codes stand,
    codes compared, each per series when there are several."""
    spec, measure = ctx.spec, ctx.measure
    records = ctx.ordered(ctx.records)
    if not records:
        return ctx.empty()
    asked = set(spec.all_codes)
    among = bool(spec.codes) and spec.ask == "rank" and spec.code_mode != "compared"
    rows: list[dict[str, Any]] = []
    for rec in records:
        value, total = int(rec["value"]), int(rec["total"] or 0)
        code = str(rec["code"])
        row: dict[str, Any] = {
            **ctx.series_fields(rec["series"]),
            "rank": int(rec["rank"]) if among or not asked else int(rec["cohort_rank"]),
            "code": code,
            "description": ctx.catalog.describe(code),
            "share_pct": _share(value, total),
            measure: value,
            **ctx.base_fields(rec, value),
        }
        if among or spec.exclude_codes:
            row["cohort_rank"] = int(rec["cohort_rank"])
        if asked and not among:
            row["asked"] = code in asked
        row.update(_series=rec["series"], _total=total, _selected=int(rec["selected"] or 0))
        rows.append(row)
    if ctx.average_key and not asked:
        rows = _rank_by_average(ctx, rows)
    groups = _series_groups(rows, measure, listed_all=False)
    if among:  # the set's own total is stated too ("together the 3 codes were ...")
        groups += [
            Group(
                g.rows,
                rows[g.rows[0]]["_selected"],
                complete=_adds_up(rows, g, measure, "_selected"),
                ordered=True,
                total_key="_selected",
            )
            for g in groups
        ]
    ctx.suppress(rows, groups)
    totals = {row["_series"]: row["_total"] for row in rows}
    by_series = _split_series(rows)
    if spec.ask == "share" or spec.code_mode == "compared":
        built = _standings(ctx, by_series, totals)
    else:
        built = _top_list(ctx, by_series, totals, among)
    _finish(rows, measure)
    built.rows = rows
    return built


def _top_list(
    ctx: DataContext,
    by_series: dict[Any, list[dict[str, Any]]],
    totals: dict[Any, int | None],
    among: bool,
) -> Built:
    n = ctx.r.n
    lines: list[str] = []
    notes: list[str] = []
    for key, srows in by_series.items():
        label = ctx.series_label(key)
        if label:
            lines.append(
                f"{label}: "
                + "; ".join(
                    f"{r['rank']}. {r['code']} {fmt_pct(r['share_pct'])}"
                    for r in srows[:SERIES_TEXT_ROWS]
                )
            )
        else:
            lines.extend(_ranked_lines(srows, ctx))
    if among:
        notes.extend(_set_notes(ctx, by_series, totals))
    notes.extend(_denominator_notes(ctx, totals))
    if ctx.plan.series_by is None and n and len(by_series.get(0, [])) < n and not ctx.money:
        what = "of these codes were" if among else "codes were"
        notes.append(f"Only {len(by_series.get(0, []))} {what} billed in this scope and period.")
    return Built([], _ranked_title(ctx, n, among), lines=lines, notes=notes)


def _ranked_title(ctx: DataContext, n: int | None, among: bool) -> str:
    spec = ctx.spec
    cohorts = ctx.r.cohorts
    by = ctx.plan.series_by
    if among:
        label = " and ".join(s.label for s in spec.codes)
        head = f"{label}: top {n} in {ctx.what()}"
    elif by in ("cohort", "cohort_index"):
        head = f"Top {n} codes: " + " vs ".join(ctx.cohort_noun(c) or "all" for c in cohorts)
    elif len(cohorts) == 1:
        title = ctx.knowledge.phrase(cohorts[0]).title
        head = f"Top {n} {title}" if n != 1 else f"Top {title.replace('codes', 'code', 1)}"
    else:
        head = f"Top {n} codes of {ctx.scope_noun()} combined"
    if spec.measure != "procedures":
        head += f" by {ctx.noun}"
    if spec.per_group:
        head += f", in each {DIMENSION_NOUN[spec.per_group]}"
    elif by not in (None, "cohort", "cohort_index"):
        labels = [ctx.series_label(k) for k in ctx.plan.series_keys]
        if labels:
            head += ": " + " vs ".join(labels)
    return f"{head}, {ctx.scope_line()}"


def _ranked_lines(rows: Sequence[dict[str, Any]], ctx: DataContext) -> list[str]:
    out = []
    for row in rows[:TEXT_ROWS]:
        rank = f"{row['rank']}." if row.get("rank") is not None else "-"
        if ctx.amount:
            out.append(
                f"{rank} {row['code']} {row['description']}: {ctx.fmt(row[ctx.measure])} "
                f"({fmt_pct(row['share_pct'])}){ctx.amount_words(row)}"
            )
            continue
        out.append(
            f"{rank} {row['code']} {row['description']}: {fmt_pct(row['share_pct'])} "
            f"({fmt_count(row[ctx.measure])})"
        )
    return out


def _code_phrase(ctx: DataContext, code: str) -> str:
    description = ctx.catalog.describe(code)
    return f"{code}, {description}," if "(" in description else f"{code} ({description})"


def _standings(
    ctx: DataContext, by_series: dict[Any, list[dict[str, Any]]], totals: dict[Any, int | None]
) -> Built:
    """Where asked codes stand: share and rank in the whole scope, and together."""
    spec, measure = ctx.spec, ctx.measure
    asked_codes = list(spec.all_codes)
    summary: list[str] = []
    lines: list[str] = []
    for key, srows in by_series.items():
        label = ctx.series_label(key)
        series_what = (
            f"{label} {ctx.noun}"
            if label and ctx.plan.series_by in ("cohort", "cohort_index")
            else ctx.what()
        )
        prefix = f"{label}: " if label else ""
        asked_rows = {r["code"]: r for r in srows if r.get("asked")}
        total = totals.get(key)
        of_total = "" if total is None else f" of {ctx.fmt(total)}"
        parts = []
        for code in asked_codes:
            row = asked_rows.get(code)
            if row is None:
                parts.append(f"{_code_phrase(ctx, code)} was not billed in {series_what}")
            elif row.get("share_pct") is None:
                parts.append(
                    f"{_code_phrase(ctx, code)} ranked {ordinal(row['rank'])} among "
                    f"{series_what}, with fewer than {ctx.min_cell} {ctx.count_noun} "
                    "(share withheld)"
                )
            else:
                parts.append(
                    f"{_code_phrase(ctx, code)} was {fmt_pct(row['share_pct'])} of "
                    f"{series_what}: ranked {ordinal(row['rank'])}, "
                    f"{ctx.fmt(row[measure])}{of_total}{ctx.amount_words(row)}"
                )
        shown = [asked_rows.get(c) for c in asked_codes]
        if len(asked_codes) > 1 and all(
            r is not None and isinstance(r[measure], int) and not isinstance(r[measure], bool)
            for r in shown
        ):
            together = sum(r[measure] for r in shown if r is not None)
            parts.append(
                f"together {fmt_pct(_share(together, total or 0))} of {series_what} "
                f"({ctx.fmt(together)}{of_total})"
            )
        summary.append(prefix + "; ".join(parts) + ".")
        if len(by_series) == 1 and spec.code_mode != "compared":
            lines.append("Top codes for context:")
            lines.extend(_ranked_lines(srows, ctx))
    title = f"{ctx.codes_label()} in {ctx.what()}".replace(" in  ", " in ")
    if ctx.plan.series_by in ("cohort", "cohort_index"):
        title = f"{ctx.codes_label()}: " + " vs ".join(ctx.series_label(k) for k in by_series)
    notes = _denominator_notes(ctx, totals)
    if ctx.r.cohorts == ("rehab",):
        outside = [c for c in asked_codes if not ("97010" <= c <= "97799" and c.isdigit())]
        if outside:
            notes.append(
                f"{', '.join(outside)} is outside the rehab range (97010-97799), so "
                "it is never in the rehab cohort."
            )
    return Built([], f"{title}, {ctx.scope_line()}", summary=summary, lines=lines, notes=notes)


def _set_notes(
    ctx: DataContext, by_series: dict[Any, list[dict[str, Any]]], totals: dict[Any, int | None]
) -> list[str]:
    """A ranking within named codes: what the whole set was, and where its first stands."""
    out = []
    label = " and ".join(s.label for s in ctx.spec.codes)
    count = len(ctx.spec.all_codes)
    for key, srows in by_series.items():
        selected, total = srows[0]["_selected"], totals.get(key)
        if selected is None:
            out.append(
                f"The total of the codes of {label} is withheld (it would reveal a small count)."
            )
        elif 0 < selected < ctx.min_cell and not ctx.money:
            out.append(f"The codes of {label} had fewer than {ctx.min_cell} {ctx.noun}.")
        elif count:
            out.append(
                f"Together the {count} codes of {label} were "
                f"{fmt_pct(_share(selected, total or 0))} of {ctx.what()} "
                f"({ctx.fmt(selected)}{'' if total is None else ' of ' + ctx.fmt(total)})."
            )
        first = srows[0]
        if first.get("cohort_rank"):
            out.append(
                f"Ranks are within this set of {count or len(srows)} codes; the first, "
                f"{first['code']}, is {ordinal(first['cohort_rank'])} among all codes."
            )
    return out


def _denominator_notes(ctx: DataContext, totals: dict[Any, int | None]) -> list[str]:
    if not totals:
        return []
    if len(totals) > 1:
        return [f"Each {_series_noun(ctx)}'s shares are of its own {ctx.noun} in the period."]
    total = next(iter(totals.values()))
    if total is None:
        return [
            f"Shares are of all {ctx.what()}, {ctx.scope_line()}; the total is withheld "
            "because it would reveal a small count."
        ]
    if 0 < total < ctx.min_cell and not ctx.money:
        return [f"Fewer than {ctx.min_cell} {ctx.what()} in all: shares are withheld."]
    kept = " (codes left out still count in it)" if ctx.spec.exclude_codes else ""
    return [f"Shares are of all {ctx.fmt(total)} {ctx.what()}, {ctx.scope_line()}{kept}."]


# --------------------------------------------------------------------------- total


def subset_label(ctx: DataContext) -> str:
    """The part of a share: "Medicare", "Home (12)", "PT", "modifier KX"."""
    spec, catalog = ctx.spec, ctx.catalog
    parts = []
    for name in spec.subset:
        if name == "cohorts":
            parts.append(" and ".join(ctx.cohort_noun(c) or "all" for c in ctx.r.cohorts))
            continue
        sel = getattr(spec, name)

        def word(v: str, name: str = name) -> str:
            if name == "payers":
                return catalog.payer_names.get(v, v)
            if name == "states":
                return catalog.states.get(v, v)
            if name == "places":
                place = catalog.places.get(v)
                return f"{place.name} ({v})" if place else v
            if name == "settings":
                return f"{v} settings"
            return f"modifier {v}"

        text = " or ".join(word(v) for v in sel.include)
        if sel.exclude:
            text = (
                (text + ", " if text else "") + "not " + " or ".join(word(v) for v in sel.exclude)
            )
        parts.append(text)
    return ", ".join(p for p in parts if p)


def build_total(ctx: DataContext) -> Built:
    """How many: of the whole scope, of the codes asked about (with their share), or of
    part of the scope as a share of it; side by side when there are series."""
    spec, measure = ctx.spec, ctx.measure
    records = ctx.complete(ctx.ordered(ctx.records))
    if not records or all(not rec["total"] for rec in records):
        return ctx.empty()
    picked = bool(spec.codes or spec.exclude_codes or spec.subset)
    part = subset_label(ctx) if spec.subset else ""
    rows = []
    for rec in records:
        value, total = int(rec["value"] or 0), int(rec["total"] or 0)
        row: dict[str, Any] = {
            **ctx.series_fields(rec["series"]),
            measure: value,
            **ctx.base_fields(rec, value),
        }
        if picked:
            row["share_pct"] = _share(value, total)
        if part:
            row["part"] = part
        elif spec.codes:
            row["codes"] = ctx.codes_label()
        row.update(_series=rec["series"], _total=total)
        rows.append(row)
    ctx.suppress(rows, _part_groups(rows) if picked else ())
    what = ctx.what()
    whole = f"{ctx.codes_label()} {ctx.noun}" if spec.codes and part else what
    subject = part or ctx.codes_label() or what
    summary: list[str] = []
    lines: list[str] = []
    for row in rows:
        label = ctx.series_label(row["_series"])
        prefix = f"{label}: " if label else ""
        value = row[measure]
        words = ctx.amount_words(row)
        if ctx.amount and row.get("suppressed"):
            summary.append(
                f"{prefix}{_cap(subject)}: withheld, because it would reveal a count of fewer "
                f"than {ctx.min_cell}."
            )
        elif isinstance(value, str):
            summary.append(f"{prefix}{_cap(subject)}: fewer than {ctx.min_cell} {ctx.noun}.")
        elif value is None:
            summary.append(
                f"{prefix}{_cap(subject)}: withheld, because the rest of {whole} would be "
                f"fewer than {ctx.min_cell} {ctx.noun}."
            )
        elif part:
            summary.append(
                f"{prefix}{_cap(part)} was {fmt_pct(row['share_pct'])} of {whole}: "
                f"{ctx.fmt(value)} of {ctx.fmt(row['_total'])}{words}."
            )
        elif picked:
            summary.append(
                f"{prefix}{_cap(subject)}: {ctx.fmt(value)} {ctx.noun}{words}, "
                f"{fmt_pct(row['share_pct'])} of {_total_phrase(ctx, row['_total'])}."
            )
        else:
            summary.append(f"{prefix}{ctx.fmt(value)} {what}{words}.")
    if len(rows) == 2 and all(isinstance(r[measure], int) for r in rows):
        summary.append(_two_way_line(ctx, rows, measure))
    title = f"{_cap(part)} as a share of {whole}" if part else _cap(subject if spec.codes else what)
    if ctx.plan.series_by is not None:
        title += ": " + " vs ".join(ctx.series_label(r["_series"]) for r in rows)
    _finish(rows, measure)
    return Built(rows, f"{title}, {ctx.scope_line()}".rstrip(", "), summary=summary, lines=lines)


def _two_way_line(ctx: DataContext, rows: list[dict[str, Any]], measure: str) -> str:
    """How two figures differ. Two periods: the change from the earlier to the later,
    whatever order the question named them in ("2022 vs 2021" grew if 2022 is higher),
    with a warning when the periods differ in length. Anything else (OT vs PT): the
    second named minus the first, as a difference, never a "change"."""
    first, second = rows
    if ctx.plan.series_by == "period":
        p1, p2 = (ctx.r.periods[int(r["_series"])] for r in rows)
        if (p2.start, p2.end) < (p1.start, p1.end):
            first, second = second, first
            p1, p2 = p2, p1
        a, b = first[measure], second[measure]
        line = (
            f"Change from {ctx.series_label(first['_series'])} to "
            f"{ctx.series_label(second['_series'])}: {_signed(ctx, b - a)}{_relative(a, b)}"
        )
        days1, days2 = ((p.end - p.start).days + 1 for p in (p1, p2))
        if abs(days1 - days2) > 3:  # a month's length aside: 28 to 31 days
            line += (
                f", between periods of different length ({_span(days1)} and "
                f"{_span(days2)}): not a like-for-like change"
            )
        return line + "."
    a, b = first[measure], second[measure]
    one, two = (ctx.series_label(r["_series"]) for r in (first, second))
    return f"Difference, {two} minus {one}: {_signed(ctx, b - a)}{_relative(a, b, one)}."


def _relative(a: int, b: int, of: str = "") -> str:
    """ " (+4.2%)" of the first figure; nothing when it is 0 (no percentage of none)."""
    if not a:
        return ""
    return f" ({100.0 * (b - a) / a:+.1f}%{' of ' + of if of else ''})"


def _signed(ctx: DataContext, difference: int) -> str:
    return f"{'+' if difference >= 0 else '-'}{ctx.fmt(abs(difference))}"


def _span(days: int) -> str:
    months = round(days / 30.4)
    return f"{months} months" if months >= 2 else f"{days} days"


# --------------------------------------------------------------------------- breakdown


def build_breakdown(ctx: DataContext) -> Built:
    """The measure by state, payer, specialty or place of service, ranked, with shares of
    the whole (per series when there are several)."""
    spec, measure = ctx.spec, ctx.measure
    if not ctx.records:
        return ctx.empty()
    by = spec.group_by or "state"
    rows = []
    for rec in ctx.records:
        value, total = int(rec["value"]), int(rec["total"] or 0)
        row: dict[str, Any] = {
            **ctx.series_fields(rec["series"]),
            **group_fields(by, rec["grp"]),
            "name": group_name(ctx, by, rec["grp"]),
            "rank": int(rec["rank"]),
            "share_pct": _share(value, total),
            measure: value,
            **ctx.base_fields(rec, value),
        }
        row.update(_series=rec["series"], _total=total)
        rows.append(row)
    if ctx.average_key:
        rows = _rank_by_average(ctx, rows)
    ctx.suppress(rows, _series_groups(rows, measure, listed_all=ctx.r.n is None))
    by_series = _split_series(rows)
    whole = ctx.codes_what() if spec.codes else ctx.what()
    title = f"{_cap(whole)} by {DIMENSION_NOUN[by]}, {ctx.scope_line()}"
    summary: list[str] = []
    lines: list[str] = []
    for key, srows in by_series.items():
        label = ctx.series_label(key)
        if label:
            lines.append(
                f"{label}: "
                + "; ".join(
                    f"{r['name']} {fmt_pct(r['share_pct'])}" for r in srows[:SERIES_TEXT_ROWS]
                )
            )
            continue
        top = srows[0]
        if ctx.r.n == 1 and ctx.average_key:
            summary.append(
                f"{top['name']} had the highest average: "
                f"{fmt_dollars(top[ctx.average_key])} per procedure ({ctx.fmt(top[measure])} "
                f"{ctx.noun} over {fmt_count(top['procedures'])} procedures)."
            )
        elif ctx.r.n == 1:
            summary.append(
                f"{top['name']} had the most: {ctx.fmt(top[measure])} {ctx.noun}"
                f"{ctx.amount_words(top)} "
                f"({fmt_pct(top['share_pct'])} of "
                f"{_total_phrase(ctx, top['_total'], whole)})."
            )
        else:
            lines.extend(
                f"{r['rank']}. {r['name']}: {ctx.fmt(r[measure])} ({fmt_pct(r['share_pct'])})"
                f"{ctx.amount_words(r)}"
                for r in srows[:TEXT_ROWS]
            )
    notes = []
    if len(by_series) == 1:
        total = next(iter(by_series.values()))[0]["_total"]
        if total is not None and (ctx.money or not 0 < total < ctx.min_cell):
            notes.append(f"Shares are of all {ctx.fmt(total)} {whole} in the period.")
    else:
        notes.append(f"Each {_series_noun(ctx)}'s shares are of its own {ctx.noun}.")
    if by == "cohort":
        notes.append(
            "Specialties are the rendering providers' (OT, PT, SLP, physiatry, "
            "chiropractic, other)."
        )
    _finish(rows, measure)
    return Built(rows, title, summary=summary, lines=lines, notes=notes)


# --------------------------------------------------------------------------- time


def build_time(ctx: DataContext) -> Built:
    """The measure by year, quarter or month: of the codes asked about with their share
    of the scope then, or of the whole scope; per series when there are several."""
    spec, measure = ctx.spec, ctx.measure
    records = [r for r in ctx.records if r["total"]]
    if not records:
        return ctx.empty()
    by = spec.group_by or "year"
    picked = bool(spec.codes or spec.exclude_codes)
    single = spec.all_codes[0] if len(spec.all_codes) == 1 and not spec.exclude_codes else None
    rows = []
    for rec in ctx.ordered(records):
        value, total = int(rec["value"] or 0), int(rec["total"] or 0)
        row: dict[str, Any] = {
            **ctx.series_fields(rec["series"]),
            **time_fields(ctx, int(rec["year"]), int(rec["part"]), by),
        }
        if ctx.plan.series_by == "code":
            row["description"] = ctx.catalog.describe(str(rec["series"]))
        if single:
            row.update(
                code=single,
                description=ctx.catalog.describe(single),
                rank=int(rec["rank"]) if rec["rank"] is not None and value else None,
            )
        row[measure] = value
        row.update(ctx.base_fields(rec, value))
        if picked:
            row["share_pct"] = _share(value, total)
        row.update(_series=rec["series"], _total=total)
        rows.append(row)
    ctx.suppress(rows, _period_groups(ctx, rows) if picked else ())
    subject = ctx.codes_label()
    what = ctx.what()
    if picked and ctx.plan.series_by in ("cohort", "cohort_index"):
        head = f"{subject} {ctx.noun}"
    elif picked:
        head = f"{subject} in {what}" if subject else what
    else:
        head = what
    title = f"{_cap(head)} by {DIMENSION_NOUN[by]}, {ctx.scope_line()}"
    lines: list[str] = []
    notes: list[str] = []
    for key, srows in _split_series(rows).items():
        label = ctx.series_label(key)
        if label:
            lines.append(f"{label}:")
        for r in srows:
            share = f" ({fmt_pct(r['share_pct'])})" if picked else ""
            lines.append(
                f"{'  ' if label else ''}{r['period']}: {ctx.fmt(r[measure])} {ctx.noun}{share}"
                f"{ctx.amount_words(r)}"
            )
        first, last = srows[0], srows[-1]
        if (
            picked
            and len(srows) > 1
            and first.get("share_pct") is not None
            and last.get("share_pct") is not None
        ):
            change = last["share_pct"] - first["share_pct"]
            direction = "up" if change > 0.05 else "down" if change < -0.05 else "about flat"
            notes.append(
                f"{label + ': ' if label else ''}From {fmt_pct(first['share_pct'])} in "
                f"{first['period']} to {fmt_pct(last['share_pct'])} in "
                f"{last['period']} ({direction}, {change:+.1f} points)."
            )
    if any("(" in r["period"] for r in rows):
        notes.append("Periods marked with months are only partly covered by the data.")
    if picked:
        notes.append(f"Shares are of all {what} in each {DIMENSION_NOUN[by]}.")
    _finish(rows, measure)
    return Built(rows, title, lines=lines, notes=notes)


# --------------------------------------------------------------------------- movers


def build_movers(ctx: DataContext) -> Built:
    """Codes whose share rose or fell the most between two periods, in share points."""
    spec, measure = ctx.spec, ctx.measure
    if not ctx.records:
        return ctx.empty()
    before, after = ctx.r.periods[0], ctx.r.periods[1]
    n = ctx.r.n or 5
    rows: list[dict[str, Any]] = []
    for rec in ctx.records:
        up, down, change = int(rec["up_rank"]), int(rec["down_rank"]), float(rec["change"])
        direction = "up" if change > 0 else "down"
        rank = up if direction == "up" else down
        if rank > n or (spec.direction != "both" and direction != spec.direction):
            continue
        rows.append(
            {
                "rank": rank,
                "direction": direction,
                "code": str(rec["code"]),
                "description": ctx.catalog.describe(str(rec["code"])),
                "share_before_pct": _pct(rec["share_before"]),
                "share_pct": _pct(rec["share_after"]),
                "change_pts": _pct(change),
                measure: int(rec["value_after"]),
                f"{measure}_before": int(rec["value_before"]),
            }
        )
    rows.sort(key=lambda r: (r["direction"] != "up", r["rank"]))
    suppress(
        rows,
        (measure, f"{measure}_before"),
        ("share_pct", "share_before_pct", "change_pts"),
        ctx.min_cell,
    )
    p0, p1 = ctx.period_label(before), ctx.period_label(after)
    verb = {"up": "gained the most share", "down": "lost the most share", "both": "moved the most"}[
        spec.direction
    ]
    codes = f"{ctx.scope_noun()} codes".strip()
    filters = ", ".join(ctx.filter_words())
    title = f"{_cap(codes)} that {verb}, {p0} to {p1}" + (f", {filters}" if filters else "")
    lines = []
    for direction, head in (("up", "Rising"), ("down", "Falling")):
        part = [r for r in rows if r["direction"] == direction]
        if part:
            lines.append(f"{head}:")
            lines.extend(
                f"  {r['code']} {r['description']}: {fmt_pct(r['share_before_pct'])} "
                f"-> {fmt_pct(r['share_pct'])} ({_points(r['change_pts'])})"
                for r in part
            )
    if not rows:
        lines.append("No code's share moved that way.")
    notes = [
        f"Change is in share points: each code's share of {ctx.what()} in {p1} minus "
        f"its share in {p0}. Codes with fewer than {MOVERS_MIN_VOLUME} {ctx.noun} in "
        "both periods are left out."
    ]
    _finish(rows)
    return Built(rows, title, lines=lines, notes=notes)


def _points(value: Any) -> str:
    return write("change_pts", value) + ("" if value is None else " points")


BUILDERS: dict[str, Callable[[DataContext], Built]] = {
    "ranked": build_ranked,
    "total": build_total,
    "breakdown": build_breakdown,
    "time": build_time,
    "movers": build_movers,
}
