"""The reference data under data/ as loaded by data.catalog: well-formed and consistent."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from toprank.data.catalog import DATA_DIR, REHAB_FIRST, REHAB_LAST, Catalog, load_catalog


def test_every_rehab_code_sits_in_a_subgroup_of_its_span(catalog: Catalog) -> None:
    spans = {s.key: (s.first, s.last) for s in catalog.subgroups}
    rehab = [c for c in catalog.codes.values() if REHAB_FIRST <= c.code <= REHAB_LAST]
    assert len(rehab) > 60
    for info in rehab:
        assert info.category in spans, (info.code, info.category)
        first, last = spans[info.category]
        assert first <= info.code <= last, (info.code, info.category)


def test_code_fields_hold_what_their_names_say(catalog: Catalog) -> None:
    for info in catalog.codes.values():
        assert info.timed in {"yes", "no", "na"}, (info.code, info.timed)
        assert info.description and len(info.description) <= 60, info.code
        assert info.long_description.strip() == info.long_description, info.code
    wound = catalog.codes["97605"]
    assert wound.description == "Negative pressure wound therapy (DME, up to 50 sq cm)"
    assert wound.category == "active_wound_care"


def test_a_row_with_an_unquoted_comma_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(DATA_DIR, data, ignore=shutil.ignore_patterns("*.duckdb*", "__pycache__"))
    codes = data / "codes.csv"
    lines = codes.read_text(encoding="utf-8").splitlines(keepends=True)
    lines.append("97999,Broken, unquoted,long,other_rehab,no,\n")
    codes.write_text("".join(lines), encoding="utf-8")
    with pytest.raises(ValueError, match=rf"codes.csv line {len(lines)}: expected 6 fields"):
        load_catalog(data)


def test_every_vocabulary_pattern_compiles_and_a_broken_one_is_named() -> None:
    """The lexicon compiles its patterns on first use; a bot compiles them all at start
    (Toprank.warm_up), where a broken pattern in data/vocabulary.yaml must show."""
    import dataclasses
    import re

    from toprank.data.vocab import load_vocab
    from toprank.intents.lexicon import Lexicon

    vocab = load_vocab()
    lexicon = Lexicon(load_catalog(), vocab)
    lexicon.compile_patterns()
    for name, pattern in lexicon.patterns().items():
        assert isinstance(pattern.compiled(), re.Pattern), name
    assert len(lexicon.patterns()) == len(vocab.cues) + 4
    broken = dataclasses.replace(vocab, cues={**vocab.cues, "top": ("top(",)})
    with pytest.raises(ValueError, match="cue:top does not compile"):
        Lexicon(load_catalog(), broken).compile_patterns()
