"""What a posting's raw fields mean, in one vocabulary: employment type, seniority, and salary as an annual amount in
one base currency. Computed at upsert (services/postings.py) and by the migrations that backfill them, so filters
and sorts compare like with like. Pure functions: no database, no network."""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings

EMPLOYMENT_TYPES = ("full_time", "part_time", "contract", "internship", "temporary")
SENIORITIES = ("intern", "junior", "mid", "senior", "staff", "lead", "principal", "director")

# The boards' spellings, lower-cased with "-", "_", "/" and spaces removed ("Full-Time", "FULL_TIME", "full time").
_EMPLOYMENT_SPELLINGS = {
    "full_time": {"fulltime", "full", "ft", "permanent", "regular", "fixed", "vollzeit", "festanstellung",
                  "permanentfulltime", "fulltimepermanent", "fulltimeemployee", "employee", "salaried"},
    "part_time": {"parttime", "part", "pt", "teilzeit", "minijob", "workingstudent", "werkstudent"},
    "contract": {"contract", "contractor", "contracttohire", "c2h", "freelance", "freelancer", "consultant",
                 "consulting", "selfemployed", "b2b", "contractual"},
    "internship": {"intern", "internship", "praktikum", "trainee", "apprenticeship", "ausbildung", "graduate"},
    "temporary": {"temporary", "temp", "seasonal", "fixedterm", "befristet", "interim", "shortterm",
                  "fixedtermcontract", "limited"},
}
_EMPLOYMENT_LOOKUP = {spelling: kind for kind, spellings in _EMPLOYMENT_SPELLINGS.items() for spelling in spellings}
_NOT_LETTERS = re.compile(r"[\W_]+")


def employment_type_normalize(*, value: str) -> str:
    """One of EMPLOYMENT_TYPES, or "" when the board's text names none. A comma list (Arbeitnow's job_types,
    "full time, berufserfahren") takes its first recognised item."""
    for part in re.split(r"[,;|]", value or ""):
        key = _NOT_LETTERS.sub("", part.lower())
        if key in _EMPLOYMENT_LOOKUP:
            return _EMPLOYMENT_LOOKUP[key]
    return ""


# The levels boards publish as a field (Himalayas `seniority`, Arbeitnow's level words among its `job_types`),
# compared like the employment types: lower-cased, non-letters removed.
_SENIORITY_SPELLINGS = {
    "intern": {"intern", "internship", "trainee", "student", "praktikant", "apprentice"},
    "junior": {"junior", "jr", "entrylevel", "entry", "berufseinsteiger", "einsteiger", "graduate", "associate"},
    "mid": {"midlevel", "mid", "intermediate", "experienced", "berufserfahren", "professional"},
    "senior": {"senior", "sr", "seniorlevel", "expert"},
    "staff": {"staff"},
    "lead": {"lead", "manager", "teamlead", "techlead", "leitend", "führungskraft", "fuhrungskraft"},
    "principal": {"principal", "distinguished"},
    "director": {"director", "executive", "head", "vp", "chief", "geschäftsleitung", "geschaftsleitung"},
}
_SENIORITY_LOOKUP = {spelling: level for level, spellings in _SENIORITY_SPELLINGS.items() for spelling in spellings}


def seniority_normalize(*, value: str) -> str:
    """A board's own level ("Mid-level", "Entry-level", "Director", "berufserfahren") as one of SENIORITIES, or ""
    when it names none."""
    return _SENIORITY_LOOKUP.get(_NOT_LETTERS.sub("", (value or "").lower()), "")


# Title words per level; the highest level named wins ("Senior Staff Engineer" is staff).
_SENIORITY_WORDS = [
    ("director", r"director|head of|vp|vice president|chief|cto|cio|ciso"),
    ("principal", r"principal|distinguished|fellow|architect"),
    ("staff", r"staff"),
    ("lead", r"lead|tech lead|team lead|leader"),
    ("senior", r"senior|sr|snr|iii|iv"),
    ("mid", r"mid|mid level|midlevel|intermediate|ii"),
    ("junior", r"junior|jr|entry level|entry|graduate|grad|associate|i"),
    ("intern", r"intern|internship|trainee|working student|werkstudent|praktikant|apprentice"),
]
_SENIORITY_PATTERNS = [(level, re.compile(rf"(?<![\w-])(?:{words})\.?(?![\w-])", re.IGNORECASE))
                       for level, words in _SENIORITY_WORDS]


def seniority_from_title(*, title: str) -> str:
    """One of SENIORITIES read from the title's words, or "" when the title names no level. "Engineer I" is junior
    only as a trailing numeral (a bare "I" elsewhere is a word)."""
    text = (title or "").replace("-", " ")
    for level, pattern in _SENIORITY_PATTERNS:
        for match in pattern.finditer(text):
            word = match.group(0).rstrip(".").lower()
            if word == "i" and text[match.end():].strip(" .,)]"):
                continue  # "I" as a level only at the end ("Engineer I"), not "I am hiring"
            if word in ("ii", "iii", "iv") and match.group(0) != match.group(0).upper():
                continue  # roman numerals as capitals only
            return level
    return ""


# Periods to a year (documented in docs/scraping.md): 2080 working hours, 260 working days, 52 weeks, 12 months.
PERIOD_FACTORS = {"hour": 2080, "day": 260, "week": 52, "month": 12, "year": 1}
_PERIOD_ALIASES = {"hourly": "hour", "hr": "hour", "h": "hour", "daily": "day", "weekly": "week", "monthly": "month",
                   "mo": "month", "yearly": "year", "annual": "year", "annually": "year", "yr": "year", "": "year"}
# Value of one unit in US dollars (a snapshot; set SALARY_RATES to your own table, no network is ever used).
DEFAULT_SALARY_RATES = {
    "USD": "1", "EUR": "1.08", "GBP": "1.27", "CHF": "1.13", "CAD": "0.73", "AUD": "0.66", "NZD": "0.60",
    "SEK": "0.095", "NOK": "0.093", "DKK": "0.145", "PLN": "0.25", "CZK": "0.043", "INR": "0.012", "JPY": "0.0067",
    "SGD": "0.74", "BRL": "0.18", "MXN": "0.055", "ZAR": "0.054",
}
_CENT = Decimal("0.01")


def salary_base_currency() -> str:
    return getattr(settings, "SALARY_BASE_CURRENCY", "USD").upper()


def salary_rates() -> dict[str, Decimal]:
    rates = getattr(settings, "SALARY_RATES", None) or DEFAULT_SALARY_RATES
    return {code.upper(): Decimal(str(rate)) for code, rate in rates.items()}


def salary_annual(*, amount: Decimal | None, currency: str, period: str) -> Decimal | None:
    """`amount` per `period` in `currency` as a yearly amount in SALARY_BASE_CURRENCY, or None when it cannot be
    compared (no amount, an unknown currency or period). No currency means the base currency; no period, a year."""
    if amount is None:
        return None
    factor = PERIOD_FACTORS.get(_PERIOD_ALIASES.get(period.strip().lower(), period.strip().lower()))
    rates, base = salary_rates(), salary_base_currency()
    code = (currency or base).strip().upper()
    if factor is None or code not in rates or base not in rates or rates[base] == 0:
        return None
    annual = Decimal(amount) * factor * rates[code] / rates[base]
    return annual.quantize(_CENT, rounding=ROUND_HALF_UP) if annual < Decimal("1e12") else None


def salary_annual_range(*, salary_min: Decimal | None, salary_max: Decimal | None, currency: str,
                        period: str) -> tuple[Decimal | None, Decimal | None]:
    """The stored (salary_annual_min, salary_annual_max): a one-sided range fills both ends with its one amount, so
    `salary_min` filters and the salary sort need one column each."""
    low = salary_annual(amount=salary_min if salary_min is not None else salary_max, currency=currency, period=period)
    high = salary_annual(amount=salary_max if salary_max is not None else salary_min, currency=currency, period=period)
    return low, high


def posting_normalized_fields(*, title: str, employment_type: str, salary_min: Decimal | None,
                              salary_max: Decimal | None, salary_currency: str, salary_period: str) -> dict:
    """The derived columns of one posting, by model field name."""
    low, high = salary_annual_range(salary_min=salary_min, salary_max=salary_max, currency=salary_currency,
                                    period=salary_period)
    return {"employment_type_normalized": employment_type_normalize(value=employment_type),
            "seniority": seniority_from_title(title=title), "salary_annual_min": low, "salary_annual_max": high}
