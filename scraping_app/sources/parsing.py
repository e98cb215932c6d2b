"""Field conversions the boards need: dates in three formats, HTML to sanitized text, free-text salaries."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

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
    return datetime.fromtimestamp(number, tz=UTC)


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


_CURRENCY_SIGNS = {"$": "USD", "€": "EUR", "£": "GBP"}
_AMOUNT = re.compile(r"(\d+(?:[.,]\d+)?)\s*([kK])?")
_PERIODS = (("/hr", "hour"), ("hour", "hour"), ("/h", "hour"), ("month", "month"), ("/mo", "month"),
            ("year", "year"), ("/yr", "year"), ("annual", "year"))


def salary_text_parse(text: str | None) -> tuple[Decimal | None, Decimal | None, str, str]:
    """'$30k - $100k', '$18 - $22/hr', '€50,000' -> (min, max, currency, period). Unknown parts stay empty."""
    if not text:
        return None, None, "", ""
    amounts = []
    for number, thousands in _AMOUNT.findall(text):
        number = number.replace(",", "") if len(number.split(",")[-1]) == 3 else number.replace(",", ".")
        try:
            amount = Decimal(number) * (1000 if thousands else 1)
        except InvalidOperation:
            continue
        amounts.append(amount)
    if not amounts:
        return None, None, "", ""
    currency = next((code for sign, code in _CURRENCY_SIGNS.items() if sign in text), "")
    match = re.search(r"\b(USD|EUR|GBP|CAD|AUD|CHF)\b", text.upper())
    if match:
        currency = match.group(1)
    lowered = text.lower()
    period = next((name for marker, name in _PERIODS if marker in lowered), "")
    if not period and max(amounts) >= 1000:
        period = "year"
    return min(amounts), max(amounts), currency, period


def text_clean(value: Any, limit: int) -> str:
    return " ".join(str(value).split())[:limit] if value not in (None, "") else ""


def text_list_clean(value: Any) -> list[str]:
    if not isinstance(value, list):
        return []
    return [text_clean(item, 100) for item in value if isinstance(item, str | int | float) and str(item).strip()]
