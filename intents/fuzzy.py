"""Spelling correction against a fixed word list, fast enough to run on every word.

A delete-neighbourhood index (the SymSpell idea): every word of the list is stored
under each string reachable by deleting up to two letters; a misspelt word's own
deletions then meet its candidates in a few dict lookups, and only those few are
checked with a real (optimal string alignment) edit distance.
"""

from __future__ import annotations

from collections.abc import Iterable


def edit_distance(a: str, b: str, limit: int = 3) -> int:
    """Optimal string alignment distance (adjacent swaps cost 1); stops early above limit."""
    if a == b:
        return 0
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        best = cur[0]
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            v = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                v = min(v, prev2[j - 2] + 1)
            cur[j] = v
            best = min(best, v)
        if best > limit:
            return limit + 1
        prev2, prev = prev, cur
    return prev[-1]


def allowed_distance(word: str) -> int:
    """How many edits a word of this length may carry: none under 5 letters."""
    n = len(word)
    return 0 if n < 5 else 1 if n < 8 else 2


def _deletes(word: str, depth: int) -> set[str]:
    out = {word}
    frontier = {word}
    for _ in range(depth):
        frontier = {w[:i] + w[i + 1 :] for w in frontier for i in range(len(w))}
        out |= frontier
    return out


class SpellIndex:
    """Corrects a word to the closest word of `targets` within allowed_distance()."""

    def __init__(self, targets: Iterable[str]):
        self._index: dict[str, list[str]] = {}
        self._targets = sorted({t for t in targets if len(t) >= 4 and t.isalpha()})
        for t in self._targets:
            for d in _deletes(t, 2 if len(t) >= 7 else 1):
                self._index.setdefault(d, []).append(t)

    def correct(self, word: str) -> str | None:
        limit = allowed_distance(word)
        if not limit:
            return None
        seen: set[str] = set()
        best: tuple[int, int, int, int, str] | None = None
        for d in _deletes(word, limit):
            for t in self._index.get(d, ()):
                if t in seen:
                    continue
                seen.add(t)
                dist = edit_distance(word, t, limit)
                if dist > limit:
                    continue
                # closest first; then same first letter; then longer shared prefix; then
                # the same length ("codez" -> "codes": a slip of one key, not a lost letter)
                prefix = 0
                for x, y in zip(word, t, strict=False):
                    if x != y:
                        break
                    prefix += 1
                key = (dist, 0 if t[0] == word[0] else 1, -prefix, abs(len(t) - len(word)), t)
                if best is None or key < best:
                    best = key
        return best[4] if best else None
