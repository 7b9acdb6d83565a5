"""Question text -> tokens: strips Slack markup, emoji and punctuation, keeps case.

Two views of the same tokens are kept: `orig` (the user's case, needed to tell the
state code "IN" from the word "in") and `low` (lower case, later spell-corrected).
"""

from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import dataclass

# Slack's markup (https://docs.slack.dev/messaging/formatting-message-text):
# <@U012ABC>, <@U012ABC|name>, <!here>, <!subteam^S1|@team>: mentions, removed;
# <https://example.com|label>, <#C123|general>: links and channels, their label kept;
# a bare <https://...>, <mailto:...> or <#C123>: removed.
_SLACK_MENTION = re.compile(r"<[@!][^>]*>")
_SLACK_LABELLED = re.compile(r"<(?:https?:|mailto:|#)[^>|]*\|([^>]*)>")
_SLACK_BARE = re.compile(r"<(?:https?:|mailto:|#)[^>|]*>")
_SLASH = re.compile(r"^\s*/\s*toprank\b", re.I)
# Emoji, symbols, control characters, private use: word breaks.
_DROP_CATEGORIES = frozenset({"So", "Sk", "Cc", "Cs", "Co", "Cn"})
# Invisible (zero-width, format) and combining characters: removed, so "202\u200b2" is
# still 2022.
_INVISIBLE_CATEGORIES = frozenset({"Cf", "Mn", "Me"})
_DASHES = dict.fromkeys(
    map(ord, "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d"), "-"
)
_QUOTES = dict.fromkeys(map(ord, "\u2018\u2019\u201a\u201b\u2032\u00b4`"), "'")

_POSSESSIVE = re.compile(r"'s\b", re.I)
_SHORT_YEAR = re.compile(r"(?<![\w])'(\d{2})\b")
_ABBREV_DOTS = re.compile(r"\b(?:[A-Za-z]\.){2,}")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}\b)")
_WORD_HYPHEN = re.compile(r"(?<=[^\W\d_])-(?=[^\W\d_])")
_SLASH_SEP = re.compile(r"\s*/\s*")
_GLUED_NUMBER = re.compile(r"\b(top|first|last|past|since|in|for|from|thru|through)(\d+)\b", re.I)
_GLUED_PERIOD = re.compile(r"\b(\d{4})([qh]\d)\b", re.I)
# "ot2022", "rehab2023": a word glued to a year (not "fy2022", a fiscal year, and never a
# HCPCS code such as "g0283": those have one letter)
_GLUED_YEAR = re.compile(r"\b(?!fy\d)([a-z]{2,})((?:19|20)\d\d)\b", re.I)
_NOT_TOKEN = re.compile(r"[^\w\s\-/]|_")


@dataclass(frozen=True)
class Tokens:
    orig: tuple[str, ...]  # as typed (case kept)
    low: tuple[str, ...]  # lower case
    slash: bool  # the text began with "/toprank": the rest are command arguments
    question: bool  # ended with "?"
    shouting: bool  # mostly capitals: upper case tells nothing about state codes
    lowered: str  # the whole text, NFKC-normalised and lower-cased (for refusal checks)


def _slash_token(m: re.Match[str]) -> str:
    """ "6/2022" keeps its slash (a month); "ot/pt" or "hot/cold" becomes two words."""
    s, i, j = m.string, m.start(), m.end()
    between_digits = i > 0 and s[i - 1].isdigit() and j < len(s) and s[j].isdigit()
    return " / " if between_digits else " "


def strip_slack_markup(text: str) -> str:
    """Slack's wire text -> what the user typed: mentions removed, links and channels
    replaced by their labels, &amp; &lt; &gt; unescaped (so "PM&amp;R" is "PM&R" again).
    The one place Slack's inbound markup is read: the listeners and the parser use it."""
    text = _SLACK_MENTION.sub(" ", text or "")
    text = _SLACK_LABELLED.sub(r" \1 ", text)
    text = _SLACK_BARE.sub(" ", text)
    return html.unescape(text)


def clean(text: str) -> str:
    """Unicode-normalise, drop Slack markup, emoji and control characters, remove
    invisible and combining characters (accents go: "fémur" reads as "femur")."""
    if not text.isascii():
        text = unicodedata.normalize("NFKD", text)
        text = "".join(c for c in text if unicodedata.category(c) not in _INVISIBLE_CATEGORIES)
    text = unicodedata.normalize("NFKC", text)
    text = strip_slack_markup(text)
    text = text.translate(_DASHES).translate(_QUOTES)
    if not text.isascii() or any(c < " " for c in text):
        text = "".join(
            "" if cat in _INVISIBLE_CATEGORIES else " " if cat in _DROP_CATEGORIES else c
            for c, cat in ((c, unicodedata.category(c)) for c in text)
        )
    return " ".join(text.split())


# Lower-case words and single spaces: every rewrite below leaves such a text as it is
# (no digits, marks, capitals or markup), so its tokens are its words. Most phrases of
# the lexicon are like this, and building the lexicon is most of a first question's time.
_PLAIN = re.compile(r"[a-z]+(?: [a-z]+)*")


def tokenize(text: str) -> Tokens:
    if _PLAIN.fullmatch(text):
        words = tuple(text.split(" "))
        return Tokens(words, words, False, False, False, text)
    text = clean(text)
    slash = bool(_SLASH.match(text))
    if slash:
        text = _SLASH.sub(" ", text, count=1)
    question = text.rstrip().endswith("?")
    lowered = text.lower()
    s = text.replace("&", " and ").replace("+", " and ")
    s = _POSSESSIVE.sub("", s)
    s = _SHORT_YEAR.sub(r"20\1", s)
    s = s.replace("'", "")
    s = s.replace("%", " percent ").replace("#", " ")
    s = _ABBREV_DOTS.sub(lambda m: m.group(0).replace(".", ""), s)
    s = _THOUSANDS.sub("", s)
    s = _WORD_HYPHEN.sub(" ", s)
    if "/" in s:
        s = _SLASH_SEP.sub(_slash_token, s)
    s = _GLUED_NUMBER.sub(r"\1 \2", s)
    s = _GLUED_PERIOD.sub(r"\1 \2", s)
    s = _GLUED_YEAR.sub(r"\1 \2", s)
    s = _NOT_TOKEN.sub(" ", s)
    s = s.replace("-", " - ")
    orig = tuple(s.split())
    low = tuple(t.lower() for t in orig)
    letters = [t for t in orig if t.isalpha() and len(t) > 1]
    upper = sum(1 for t in letters if t.isupper())
    shouting = len(letters) >= 3 and upper * 2 > len(letters)
    return Tokens(orig, low, slash, question, shouting, lowered)
