"""Personal data in French and English text: regex candidates, confirmed by checksums and validators.

Why not Presidio: its analyzer loads spaCy and a language model (hundreds of MB, and a pipeline run
over every prompt, milliseconds each) mostly to guess person names, while its recognizers for IBANs,
cards and phones confirm candidates with the same checks used here (mod 97, Luhn, `phonenumbers`). On the
request path the budget is about 1 ms per 2 kB prompt, and the names that matter to a business
(customers, project code names) are known in advance: configured lists find them exactly.

How: each kind has one pre-compiled pattern for the shapes people write ("06 12 34 56 78",
"FR76 3000 …", "732 829 320 00074"); only those candidates reach a validator (`stdnum`,
`phonenumbers`, `ipaddress`), so ordinary digits never cost a validator call. Rules:

- A number is a whole run of digit groups: "732 829 320" followed by " 00075" is not a SIREN, and
  "06 12 34 56 78" inside "06 12 34 56 78 90" is not a phone. Groups are separated by one space
  (also no-break spaces), dot or dash, as each kind allows. A number right after or before a
  currency ("732 829 320 €", "$ 4111…") is an amount, whatever its checksum says.
- Phones: French national numbers (10 digits from 0, separators between pairs) and international
  numbers written with "+", each confirmed by `phonenumbers`. A French 10-digit number that
  `phonenumbers` accepts is a phone whatever the context: masking an order number costs less than
  leaking a phone. National formats of other countries ("020 7946 0958") and "00" prefixes are not
  looked for.
- IPv4: four dotted decimal octets (0–255, no leading zero), not inside a longer dotted run, and
  not right after a word that makes it a version or a section number ("version", "v", "build",
  "release", "firmware", "section", "chapitre", "§"…): "version 1.2.3.4" is not an IP,
  "serveur 1.2.3.4" is. IPv6: what `ipaddress` accepts, with at least two colons and one decimal
  digit (so "dead::beef" and times like "12:30:45" are not addresses).
- Terms: whole words, case- and accent-insensitive ("societe generale" finds "Société Générale"),
  spaces, dashes and apostrophes interchangeable, the longest term winning.
- Overlaps go to the higher priority: EMAIL (it may contain digits and names), then the checksummed
  kinds IBAN > CARD > NIR > SIRET > SIREN, then PHONE, IP, and the configured terms last.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from types import MappingProxyType

import phonenumbers
from stdnum import iban, luhn
from stdnum.fr import nir, siren, siret

__all__ = ["BUILTIN_KINDS", "Finding", "PiiDetector"]

BUILTIN_KINDS = ("EMAIL", "IBAN", "CARD", "NIR", "SIRET", "SIREN", "PHONE", "IP")
_PRIORITY = {kind: rank for rank, kind in enumerate(BUILTIN_KINDS)}
_TERM_PRIORITY = len(BUILTIN_KINDS)
_KIND_NAME = re.compile(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*")
_NO_TERMS: Mapping[str, Sequence[str]] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Finding:
    """One detected value: `text[start:end] == value`."""

    kind: str
    start: int
    end: int
    value: str


# Horizontal spaces French typography uses between digit groups (no-break and narrow no-break).
_SP = "[ \u00a0\u202f]"
_SPC = " \u00a0\u202f"
# A candidate number must be a whole run: no word character or "+" before it, no digit group glued
# to it by a separator on either side.
_LEFT = rf"(?<![\w+])(?<!\d[{_SPC}.\-,/])"
_RIGHT = rf"(?!\w)(?![{_SPC}.\-,/]\d)"

# Where numbers may be: runs of digits and separators, at least 7 characters. Each kind's pattern
# then runs only over these windows, which costs far less than scanning the text once per kind.
_RUN = re.compile(rf"\d[\d(){_SPC}.\-/ABab]{{6,}}")
_IBAN = re.compile(rf"[A-Z](?<!\w[A-Z])[A-Z]\d\d(?:{_SP}?[A-Z0-9]{{4}}){{2,7}}(?:{_SP}?[A-Z0-9]{{1,4}})?(?!\w)")
_CARD = re.compile(
    rf"{_LEFT}(?:\d{{13,19}}|\d{{4}}(?:[{_SPC}\-]\d{{4}}){{2,3}}(?:[{_SPC}\-]\d{{1,4}})?"
    rf"|\d{{4}}[{_SPC}\-]\d{{6}}[{_SPC}\-]\d{{4,5}}){_RIGHT}")
_NIR = re.compile(
    rf"{_LEFT}[1-478]{_SP}?\d\d{_SP}?(?:0[1-9]|1[0-2]|[2-9]\d){_SP}?(?:\d\d|2[ABab]){_SP}?"
    rf"\d{{3}}{_SP}?\d{{3}}{_SP}?\d\d{_RIGHT}")
_SIRET = re.compile(rf"{_LEFT}\d{{3}}[{_SPC}.]?\d{{3}}[{_SPC}.]?\d{{3}}[{_SPC}.]?\d{{5}}{_RIGHT}")
_SIREN = re.compile(rf"{_LEFT}\d{{3}}[{_SPC}.]?\d{{3}}[{_SPC}.]?\d{{3}}{_RIGHT}")
_PHONE_FR = re.compile(rf"{_LEFT}0[1-9](?:[{_SPC}.\-]?\d\d){{4}}{_RIGHT}")
# Possessive digit groups: a long run of digits after "+" must not make the engine try every split.
_PHONE_INTL = re.compile(
    rf"(?<![\w+])\+[1-9]\d{{0,2}}+(?:[{_SPC}.\-]?\(0\))?"
    rf"(?>[{_SPC}.\-]?(?:\(\d{{1,4}}+\)|\d{{1,4}}+)){{2,7}}{_RIGHT}")
_IPV4 = re.compile(r"(?<![\w.])\d{1,3}(?:\.\d{1,3}){3}(?![\w]|\.\d)")
_IPV6 = re.compile(
    r"(?<![\w:.])(?=[0-9A-Fa-f]{0,4}:[0-9A-Fa-f]{0,4}:)[0-9A-Fa-f:]{2,39}"
    r"(?:(?<=:)\d{1,3}(?:\.\d{1,3}){3})?(?:%[0-9A-Za-z]+)?(?![\w:]|\.\d)")
_IPV6_HINT = re.compile(r":[0-9A-Fa-f]{1,4}:")      # starts with a literal: a fast scan
_VERSION_CUE = re.compile(
    r"(?:\b(?:v|vers?|version|release|build|firmware|rev|revision|révision|patch|section|chapter|chapitre"
    r"|article|art|paragraphe?|clause|step|étape)\.?|§)\s*(?:n°|no\.?|#|:)?\s*$",
    re.IGNORECASE)
# E-mail addresses are found from their "@": the local part backwards (on the reversed text), the
# domain forwards. A pattern scanning every word for a possible local part costs ten times more.
_EMAIL_LOCAL_REVERSED = re.compile(r"[\w.%+\-]{1,64}")
_EMAIL_DOMAIN = re.compile(r"(?:[^\W_](?:[^\W_]|-){0,62}\.)+[A-Za-z]{2,24}(?![\w\-]|\.[^\W_])")
_CURRENCY_AFTER = re.compile(rf"{_SP}?(?:[€$£¥]|(?:EUR|USD|GBP|CHF|euros?|dollars?|k€|M€)(?!\w))", re.IGNORECASE)
_CURRENCY_BEFORE = re.compile(rf"(?:[€$£¥]|\b(?:EUR|USD|GBP|CHF)){_SP}?$", re.IGNORECASE)
_DIGIT = re.compile(r"\d")
_NON_DIGIT = re.compile(r"\D")
_NON_ALNUM = re.compile(r"[^0-9A-Za-z]")
_SPACE = re.compile(_SP)


def _card_ok(digits: str) -> bool:
    """Known issuer prefix (IIN) with one of its lengths, then Luhn: fewer false hits than Luhn alone."""
    n = len(digits)
    two, three, four = int(digits[:2]), int(digits[:3]), int(digits[:4])
    if digits[0] == "4":
        brand = n in (13, 16, 19)                                   # Visa
    elif 51 <= two <= 55 or 2221 <= four <= 2720:
        brand = n == 16                                             # Mastercard
    elif two in (34, 37):
        brand = n == 15                                             # American Express
    elif four == 6011 or two == 65 or 644 <= three <= 649 or 3528 <= four <= 3589 or two == 62:
        brand = 16 <= n <= 19                                       # Discover, JCB, UnionPay
    elif 300 <= three <= 305 or two in (36, 38, 39):
        brand = 14 <= n <= 19                                       # Diners Club
    elif two in (50, 56, 57, 58, 63, 67):
        brand = 13 <= n <= 19                                       # Maestro
    else:
        brand = False
    # A 14-digit card number can also be a valid SIRET: French business text has far more SIRETs
    # than 14-digit (Diners, Maestro) cards, so those go to SIRET.
    return brand and luhn.is_valid(digits) and not (n == 14 and siret.is_valid(digits))


def _phone_ok(candidate: str, region: str | None) -> bool:
    try:
        number = phonenumbers.parse(candidate, region)
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.is_valid_number(number)


def _iban_end(text: str, start: int, end: int) -> int:
    """End of the longest valid IBAN in text[start:end], dropping trailing groups ("… 189 EUR"); 0 if none."""
    candidate = text[start:end]
    cuts = [end] + [start + match.start() for match in _SPACE.finditer(candidate)][::-1]
    for cut in cuts:
        if cut - start >= 15 and iban.is_valid(text[start:cut]):
            return cut
    return 0


def _ipv4_ok(text: str, start: int, value: str) -> bool:
    try:
        ipaddress.IPv4Address(value)
    except ValueError:
        return False
    return not _VERSION_CUE.search(text, max(0, start - 24), start)


def _ipv6_ok(value: str) -> bool:
    if not _DIGIT.search(value):
        return False
    try:
        ipaddress.IPv6Address(value)
    except ValueError:
        return False
    return True


def _amount(text: str, start: int, end: int) -> bool:
    return bool(_CURRENCY_AFTER.match(text, end) or _CURRENCY_BEFORE.search(text, max(0, start - 5), start))


def _email_spans(text: str) -> list[tuple[int, int]]:
    spans = []
    at = text.find("@")
    while at >= 0:
        local = _EMAIL_LOCAL_REVERSED.match(text[max(0, at - 64):at][::-1])
        domain = _EMAIL_DOMAIN.match(text, at + 1)
        if local and domain:
            start = at - local.end()
            while text[start] == ".":
                start += 1
            if start < at:
                spans.append((start, domain.end()))
        at = text.find("@", at + 1)
    return spans


# Checksummed numbers and phones: (kind, pattern, fewest digits in the run, validator on the candidate).
_NUMBERS: tuple[tuple[str, re.Pattern[str], int, Callable[[str], bool]], ...] = (
    ("CARD", _CARD, 13, lambda value: _card_ok(_NON_DIGIT.sub("", value))),
    ("NIR", _NIR, 13, lambda value: nir.is_valid(_NON_ALNUM.sub("", value))),
    ("SIRET", _SIRET, 14, lambda value: siret.is_valid(_NON_DIGIT.sub("", value))),
    ("SIREN", _SIREN, 9, lambda value: siren.is_valid(_NON_DIGIT.sub("", value))),
    ("PHONE", _PHONE_FR, 10, lambda value: _phone_ok(value, "FR")),
)

# Candidates are (priority, start, end, kind).
_Candidate = tuple[int, int, int, str]


class PiiDetector:
    """Finds personal data in text; build once (patterns are compiled here), call `find` per text.

    `terms` maps a kind name (upper case, e.g. "CUSTOMER") to the names or terms of that kind.
    """

    __slots__ = ("_term_kinds", "_terms", "kinds")

    def __init__(self, terms: Mapping[str, Sequence[str]] = _NO_TERMS) -> None:
        self._term_kinds: dict[str, str] = {}
        for kind, values in terms.items():
            if not _KIND_NAME.fullmatch(kind) or kind in _PRIORITY:
                raise ValueError(f"term kind {kind!r} must be upper case (A-Z, 0-9, _) and not one of "
                                 f"{', '.join(BUILTIN_KINDS)}")
            for value in values:
                key = _term_key(_fold(value))
                if key:
                    self._term_kinds.setdefault(key, kind)
        self._terms = _terms_pattern(self._term_kinds) if self._term_kinds else None
        self.kinds: tuple[str, ...] = BUILTIN_KINDS + tuple(terms)

    def find(self, text: str) -> list[Finding]:
        """Non-overlapping findings, in text order.

        A number next to one already found ("… 7890 189 06 12 34 56 78" after an IBAN) is a run of
        its own: found values are masked and the text is searched again, so that replacing them
        never uncovers a value that was not found.
        """
        found = self._find_once(text)
        if not found:
            return []
        for _ in range(_MAX_PASSES - 1):
            if not any(_glued(text, start, end) for start, end, _ in found):
                break
            masked = _mask(text, found)
            more = self._find_once(masked)
            if not more:
                break
            found = sorted(found + more)
        return [Finding(kind, start, end, text[start:end]) for start, end, kind in found]

    def _find_once(self, text: str) -> list[tuple[int, int, str]]:
        candidates: list[_Candidate] = []
        if "@" in text:
            candidates += [(0, start, end, "EMAIL") for start, end in _email_spans(text)]
        if _DIGIT.search(text):
            self._numbers(text, candidates)
        if self._terms is not None:
            self._find_terms(text, candidates)
        return _resolve(candidates) if candidates else []

    def _numbers(self, text: str, candidates: list[_Candidate]) -> None:
        for match in _IBAN.finditer(text):
            end = _iban_end(text, match.start(), match.end())
            if end:
                candidates.append((_PRIORITY["IBAN"], match.start(), end, "IBAN"))
        size = len(text)
        for run in _RUN.finditer(text):
            start, end = run.span()
            digits = end - start - len(_NON_DIGIT.findall(run[0]))
            endpos = min(size, end + 2)
            for kind, pattern, fewest, valid in _NUMBERS:
                if digits >= fewest:
                    priority = _PRIORITY[kind]
                    candidates += [(priority, m.start(), m.end(), kind) for m in pattern.finditer(text, start, endpos)
                                   if valid(m[0]) and not _amount(text, m.start(), m.end())]
            if start and text[start - 1] == "+" and digits >= 6:
                candidates += [(_PRIORITY["PHONE"], m.start(), m.end(), "PHONE")
                               for m in _PHONE_INTL.finditer(text, start - 1, endpos) if _phone_ok(m[0], None)]
            if digits >= 4 and "." in run[0]:
                candidates += [(_PRIORITY["IP"], m.start(), m.end(), "IP") for m in _IPV4.finditer(text, start, endpos)
                               if _ipv4_ok(text, m.start(), m[0])]
        if "::" in text or _IPV6_HINT.search(text):
            candidates += [(_PRIORITY["IP"], m.start(), m.end(), "IP") for m in _IPV6.finditer(text) if _ipv6_ok(m[0])]

    def _find_terms(self, text: str, candidates: list[_Candidate]) -> None:
        assert self._terms is not None
        lowered = text.lower()
        if len(lowered) != len(text):           # a few letters lower to two characters ("İ")
            lowered = _fold(text)
        for match in self._terms.finditer(lowered):
            kind = self._term_kinds.get(_term_key(_fold(match[0])))
            if kind is not None:
                candidates.append((_TERM_PRIORITY, match.start(), match.end(), kind))


_MAX_PASSES = 3
_MASK = "\x00"          # in no pattern's classes: a masked value neither joins nor bounds a run


# What a found value's neighbours may be for it to hide another value behind a boundary rule: a
# character that glues (a letter, a digit, "+", a bracket), or a separator between digits.
_GLUED_BEFORE = re.compile(rf"(?:[\w)+]|\d[{_SPC}.\-,/]|\w\.)$")
_GLUED_AFTER = re.compile(rf"[\w+(]|[{_SPC}.\-,/][\d+]")


def _glued(text: str, start: int, end: int) -> bool:
    """Whether a found value touches other digits or letters, which masking it may set free."""
    return bool(_GLUED_BEFORE.search(text, max(0, start - 2), start) or _GLUED_AFTER.match(text, end))


def _mask(text: str, found: list[tuple[int, int, str]]) -> str:
    pieces: list[str] = []
    last = 0
    for start, end, _ in found:
        pieces += (text[last:start], _MASK * (end - start))
        last = end
    pieces.append(text[last:])
    return "".join(pieces)


def _resolve(candidates: list[_Candidate]) -> list[tuple[int, int, str]]:
    """Keep the best candidates that do not overlap: higher priority first, then longer, then earlier."""
    if len(candidates) == 1:
        _, start, end, kind = candidates[0]
        return [(start, end, kind)]
    candidates.sort(key=lambda c: (c[0], c[1] - c[2], c[1]))
    kept: list[tuple[int, int, str]] = []
    for _, start, end, kind in candidates:
        if all(end <= other_start or start >= other_end for other_start, other_end, _ in kept):
            kept.append((start, end, kind))
    kept.sort()
    return kept


# Terms are matched on the lower-cased text, each letter standing for its accented forms, so
# offsets are the text's own. A matched span is then folded (accents dropped, typographic
# apostrophes, dashes and spaces made plain) to find its kind.
_TERM_SEP = r"[\s'\-]+"
_TERM_SEP_CLASS = "[\\s'\u2019\u2018\u02bc\u00b4`\\-\u2010\u2011\u2012\u2013\u2014]+"
_TERM_SPLIT = re.compile(_TERM_SEP)


@cache
def _fold_table() -> dict[int, str]:
    table: dict[int, str] = {}
    for code in range(0x250):
        char = chr(code)
        lower = char.lower()
        if len(lower) == 1 and (base := unicodedata.normalize("NFD", lower)[0]) != char:
            table[code] = base
    table.update({ord(c): "'" for c in "\u2019\u2018\u02bc\u00b4`"})
    table.update({ord(c): "-" for c in "\u2010\u2011\u2012\u2013\u2014"})
    table.update({ord(c): " " for c in "\u00a0\u202f\u2009"})
    return table


@cache
def _variants() -> dict[str, str]:
    """Base letter → itself and its lower-case accented forms ("e" → "eèéêë…")."""
    forms: dict[str, str] = {}
    for code, base in _fold_table().items():
        char = chr(code)
        if char.islower() and base.isascii() and base.isalpha():
            forms[base] = forms.get(base, base) + char
    return forms


def _fold(text: str) -> str:
    return text.translate(_fold_table())


def _term_key(folded: str) -> str:
    return " ".join(word for word in _TERM_SPLIT.split(folded) if word)


_Trie = dict[str, "_Trie"]


def _terms_pattern(keys: Mapping[str, str]) -> re.Pattern[str]:
    """One pattern for every term, as a trie: scanning costs about the same for 5 terms or 5,000.

    The pattern starts with the class of every first letter, so the engine skips quickly to them.
    """
    trie: _Trie = {}
    for key in keys:
        node = trie
        for char in key:
            node = node.setdefault(char, {})
        node[""] = {}
    variants = _variants()
    firsts = "".join(dict.fromkeys("".join(variants.get(char, char) for char in trie)))
    branches = "|".join(f"(?<={_token(char)}){_trie_regex(child)}" for char, child in sorted(trie.items()))
    return re.compile(f"[{re.escape(firsts)}](?<!\\w.)(?:{branches})(?!\\w)")


def _token(char: str) -> str:
    if char == " ":
        return _TERM_SEP_CLASS
    forms = _variants().get(char)
    return f"[{forms}]" if forms else re.escape(char)


def _trie_regex(node: _Trie) -> str:
    ends = "" in node
    branches = [_token(char) + _trie_regex(child) for char, child in sorted(node.items()) if char]
    if not branches:
        return ""
    if len(branches) == 1 and not ends:
        return branches[0]
    return "(?:" + "|".join(branches) + ")" + ("?" if ends else "")
