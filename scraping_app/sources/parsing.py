"""Field conversions the boards need: dates in three formats, HTML to sanitized text, free-text salaries."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit

import nh3

_BLOCK_END = re.compile(r"(?i)<\s*(br\s*/?|/p|/div|/li|/h[1-6]|/tr)\s*>")
_SPACES = re.compile(r"[ \t\r\f\v]+")
_BLANK_LINES = re.compile(r"\n\s*\n+")


def html_to_text(value: str | None, *, escaped: bool = False) -> str:
    """Sanitized plain text from board HTML. `escaped`: the HTML itself is entity-escaped (Greenhouse)."""
    if not value:
        return ""
    if escaped:
        value = html.unescape(value)
    value = _BLOCK_END.sub("\n", value)
    text = html.unescape(nh3.clean(value, tags=set(), clean_content_tags={"script", "style"}))
    lines = [_SPACES.sub(" ", line).strip() for line in text.splitlines()]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def mojibake_fix(value: str) -> str:
    """RemoteOK serves some UTF-8 text decoded as Latin-1 (â\x80\x99 for ’); undo it when that is what it is."""
    if not value or not any("\x80" <= ch <= "\x9f" or ch == "Ã" or ch == "â" for ch in value):
        return value
    try:
        return value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return value


def epoch_to_utc(value: Any) -> datetime | None:
    """Epoch seconds or milliseconds (told apart by size) to an aware UTC datetime."""
    if value in (None, "", 0):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if number > 1e11:  # milliseconds: 1e11 seconds is the year 5138
        number /= 1000
    try:
        return datetime.fromtimestamp(number, tz=UTC)
    except (OverflowError, OSError, ValueError):  # a board's nonsense (1e300, nan) is no date, not a crash
        return None


def iso_to_utc(value: Any) -> datetime | None:
    """ISO 8601 to aware UTC; a value without a timezone (Remotive) is taken as UTC."""
    if not value or not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def decimal_or_none(value: Any) -> Decimal | None:
    """A positive amount, or None (boards use 0, null and '' for "no salary")."""
    if value in (None, "", 0):
        return None
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return amount if amount > 0 else None


_CURRENCY_CODES = ("USD", "EUR", "GBP", "CHF", "CAD", "AUD", "NZD", "SEK", "NOK", "DKK", "PLN", "CZK", "INR", "JPY",
                   "SGD", "BRL", "MXN", "ZAR")
_CURRENCY_SIGNS = {"US$": "USD", "CA$": "CAD", "C$": "CAD", "AU$": "AUD", "A$": "AUD", "NZ$": "NZD", "S$": "SGD",
                   "R$": "BRL", "$": "USD", "€": "EUR", "£": "GBP", "₹": "INR", "¥": "JPY"}
_CURRENCY_MARK = "|".join([*(re.escape(sign) for sign in _CURRENCY_SIGNS), rf"\b(?:{'|'.join(_CURRENCY_CODES)})\b"])
_CURRENCY = re.compile(_CURRENCY_MARK, re.IGNORECASE)
_CURRENCY_BEFORE = re.compile(rf"(?:{_CURRENCY_MARK})\s*$", re.IGNORECASE)
_CURRENCY_AFTER = re.compile(rf"\s*(?:{_CURRENCY_MARK})", re.IGNORECASE)
# An amount: grouped thousands ("65.000", "150,000", "120'000", "120 000", "80,000.50", "1.234.567,89": one
# separator throughout, then an optional decimal part), or a plain number ("45", "22,50", "1.5"); either may end in
# "k" (thousands). A single separator followed by exactly three digits groups thousands.
_AMOUNT = re.compile(r"""
    (?: (?P<grouped>\d{1,3}(?P<sep>[.,'’\ \u00a0\u202f\u2009])\d{3}(?:(?P=sep)\d{3})*)(?P<fraction>[.,]\d{1,2})?
      | (?P<plain>\d+(?:[.,]\d+)?) )
    (?!\d)
    (?:\ ?(?P<k>[kK])(?![A-Za-z]))?
""", re.VERBOSE)
_PERCENT = re.compile(r"\d+(?:[.,]\d+)?\s*%")  # "+ 0.5% equity", "10% bonus": never an amount
_PERIOD_WORDS = re.compile(r"""
      (?P<hour>hourly|\bper\s+hour|\ban\s+hour|/\s*(?:hour|hr|h)\b|\bhrs?\b|\bhour\b|stunde)
    | (?P<day>daily|\bper\s+day|/\s*(?:day|d)\b)
    | (?P<week>weekly|\bper\s+week|/\s*(?:week|wk)\b|\bweek\b)
    | (?P<month>monthly|\bper\s+month|/\s*(?:month|mo)\b|\bmonth\b|monat)
    | (?P<year>yearly|annual|annum|\bp\.a\.?|/\s*(?:year|yr)\b|\byear\b|\byr\b|jahr)
""", re.VERBOSE | re.IGNORECASE)
# Between a range's two ends, once currency marks and periods are left out: a dash, "to", "bis" or "and".
_RANGE_GAP = re.compile(r"\s*(?:-|–|—|~|to|bis|and|und)\s*", re.IGNORECASE)


def salary_text_parse(text: str | None) -> tuple[Decimal | None, Decimal | None, str, str]:
    """Free-text salary -> (min, max, currency, period); one amount is both min and max; unknown parts stay empty.

    Reads '$30k - $100k', '€65.000 - €80.000', "CHF 120'000", '120 000 EUR', '65.000 €', '£45k–£55k',
    '$18 - $22/hr', 'USD 80,000.50' and '$100k to $120k'. A percentage (equity, bonus) is never an amount. Of
    several amounts or ranges, the first written with a currency wins ('$100k + 401k match' is 100000), else the
    first. Without a period word, an amount of 1,000 or more is yearly.
    """
    if not text:
        return None, None, "", ""
    text = _PERCENT.sub(" ", text)
    groups: list[list[re.Match]] = []  # single amounts and two-ended ranges, in text order
    for match in _AMOUNT.finditer(text):
        last = groups[-1] if groups else None
        if last is not None and len(last) == 1 and _RANGE_GAP.fullmatch(_unmarked(text[last[0].end():match.start()])):
            last.append(match)
        else:
            groups.append([match])
    if not groups:
        return None, None, "", ""
    chosen, currency = groups[0], ""
    for group in groups:
        currency = next((code for match in group if (code := _attached_currency(text, match))), "")
        if currency:
            chosen = group
            break
    if not currency and (mark := _CURRENCY.search(text)):
        currency = _currency_code(mark.group(0))
    amounts = [_amount(match) for match in chosen]
    found = _PERIOD_WORDS.search(text)
    period = next(name for name, value in found.groupdict().items() if value) if found else ""
    if not period and max(amounts) >= 1000:
        period = "year"
    return min(amounts), max(amounts), currency, period


def _amount(match: re.Match) -> Decimal:
    if match["grouped"]:
        number = match["grouped"].replace(match["sep"], "") + (match["fraction"] or "").replace(",", ".")
    else:
        number = match["plain"].replace(",", ".")
    return Decimal(number) * (1000 if match["k"] else 1)


def _unmarked(gap: str) -> str:
    """The text between two amounts without its currency marks and period words ("/hr - $" is " - ")."""
    return _PERIOD_WORDS.sub("", _CURRENCY.sub("", gap))


def _attached_currency(text: str, match: re.Match) -> str:
    """The currency written right before or after an amount ("€65.000", "65.000 €", "CHF 120'000"), or ""."""
    mark = _CURRENCY_BEFORE.search(text, 0, match.start()) or _CURRENCY_AFTER.match(text, match.end())
    return _currency_code(mark.group(0).strip()) if mark else ""


def _currency_code(mark: str) -> str:
    return _CURRENCY_SIGNS.get(mark.upper(), mark.upper())


def text_clean(value: Any, limit: int) -> str:
    return " ".join(str(value).split())[:limit] if value not in (None, "") else ""


def text_list_clean(value: Any) -> list[str]:
    if not isinstance(value, list):
        return []
    return [text_clean(item, 100) for item in value if isinstance(item, str | int | float) and str(item).strip()]


# Caps on what one posting may carry, so a hostile or broken board cannot bloat a row.
URL_MAX_LENGTH = 1000
LOCATIONS_MAX = 50
LOCATION_MAX_LENGTH = 300
SECTIONS_MAX = 20
SECTION_ITEMS_MAX = 50
SECTION_TITLE_MAX_LENGTH = 200
SECTION_ITEM_MAX_LENGTH = 1000
_URL_UNSAFE = re.compile(r"[\s<>\"'`\\\x00-\x1f\x7f]")
_LIST_ITEM = re.compile(r"(?i)<li\b[^>]*>")


def as_list(value: Any) -> list:
    """A board's list field, or [] when it sent something else (null, a string, an object)."""
    return value if isinstance(value, list) else []


def url_clean(value: Any, limit: int = URL_MAX_LENGTH) -> str:
    """An absolute http(s) URL (trimmed), or "": never javascript:, data: or a relative path, nothing with spaces,
    quotes or angle brackets (it ends up in an <img src>), nothing longer than the column."""
    if not isinstance(value, str):
        return ""
    value = value.strip()
    if not value or len(value) > limit or _URL_UNSAFE.search(value):
        return ""
    try:
        parts = urlsplit(value)
    except ValueError:
        return ""
    return value if parts.scheme.lower() in ("http", "https") and parts.hostname else ""


def locations_clean(values: Any, *, primary: str = "") -> list[str]:
    """A posting's further locations: strings trimmed, blanks, repeats and the primary location left out, at most
    LOCATIONS_MAX of them."""
    if not isinstance(values, list):
        return []
    seen = {primary.casefold()} if primary else set()
    out: list[str] = []
    for value in values:
        text = text_clean(value, LOCATION_MAX_LENGTH) if isinstance(value, str | int | float) else ""
        if text and text.casefold() not in seen:
            seen.add(text.casefold())
            out.append(text)
            if len(out) >= LOCATIONS_MAX:
                break
    return out


def html_list_items(value: Any, limit: int = SECTION_ITEMS_MAX) -> list[str]:
    """The first `limit` items of an HTML list ("<li>Python</li><li>SQL</li>") as sanitized plain text, each on one
    line; HTML without <li> gives its non-empty lines."""
    if not isinstance(value, str) or not value.strip():
        return []
    parts = _LIST_ITEM.split(value)
    # Each <li> chunk is HTML; lines of html_to_text are already text (a second pass would unescape them twice).
    texts = (html_to_text(chunk) for chunk in parts[1:]) if len(parts) > 1 else html_to_text(value).splitlines()
    out: list[str] = []
    for chunk in texts:
        if text := " ".join(chunk.split()):
            out.append(text[:SECTION_ITEM_MAX_LENGTH])
            if len(out) >= limit:
                break
    return out


def section_clean(title: Any, items: list[str]) -> dict | None:
    """One requirement section, capped: {"title", "items"}, or None when it has no items."""
    kept = [item[:SECTION_ITEM_MAX_LENGTH] for item in items[:SECTION_ITEMS_MAX] if item]
    title = text_clean(title, SECTION_TITLE_MAX_LENGTH) if isinstance(title, str | int | float) else ""
    return {"title": title, "items": kept} if kept else None


def sections_clean(value: Any) -> list[dict]:
    """Requirement sections already in the project's shape ([{"title", "items": [str]}]), sanitised and capped."""
    sections = []
    for entry in as_list(value)[:SECTIONS_MAX]:
        if isinstance(entry, dict):
            items = [text_clean(item, SECTION_ITEM_MAX_LENGTH)
                     for item in as_list(entry.get("items"))[:SECTION_ITEMS_MAX] if isinstance(item, str)]
            if section := section_clean(entry.get("title"), items):
                sections.append(section)
    return sections
