"""One real job, many boards: the normalised key that finds a posting's copies, the description check that confirms
them, and the rule that links each posting to the canonical posting of its job. Pure functions: no database, so the
upsert (services/dedupe.py), the backfill migration and the benchmark share them.

Two postings are copies of one job when
1. their dedupe keys are equal: sha256 of the normalised company, title and place (dedupe_key), and
2. their descriptions agree: description_similarity >= DEDUPE_SIMILARITY_THRESHOLD (default 0.6). When either side
   has no description to compare (fewer than SHINGLE words), the key alone decides: there is nothing to tell them
   apart by.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings

DEFAULT_SIMILARITY_THRESHOLD = 0.6
SHINGLE = 3  # words per shingle

# Legal forms, as tokens after dots are dropped ("S.L." -> "sl", "Inc." -> "inc"); stripped from the end only.
COMPANY_SUFFIXES = {
    "inc", "incorporated", "llc", "llp", "lp", "ltd", "limited", "gmbh", "mbh", "ag", "kg", "kgaa", "ug", "ohg",
    "se", "sa", "sas", "sarl", "sasu", "bv", "nv", "oy", "oyj", "ab", "as", "asa", "aps", "corp", "corporation",
    "co", "company", "plc", "sl", "slu", "srl", "spa", "sro", "pty", "pte", "pvt", "kk", "bhd", "sdn", "zoo", "sp",
}
# "GmbH & Co. KG" and kin: after the symbols go, these joiners between suffixes go too.
_SUFFIX_JOINERS = {"and", "und", "&"}

# (m/w/d), (f/m/x), (w/m/d), (h/f), (m/f/div), m/w/d without brackets, (all genders), (gn), (d/f/m) ...
_GENDER_TAG = re.compile(
    r"[(\[]\s*(?:[mwfdhxi]|div|divers|diverse)(?:\s*/\s*(?:[mwfdhxi]|div|divers|diverse))+\s*[)\]]"
    r"|(?<![\w/])(?:[mwfdhx])(?:\s*/\s*(?:[mwfdhx]|div))+(?![\w/])"
    r"|[(\[]\s*(?:all genders?|any gender|gn|m|w|f|d|x|genderless|gender neutral)\s*[)\]]",
    re.IGNORECASE)
# Compounds the boards spell three ways: "Back-end", "Back end", "Backend".
_COMPOUNDS = [(re.compile(rf"\b{first}\s+{second}\b"), first + second) for first, second in (
    ("back", "end"), ("front", "end"), ("full", "stack"), ("dev", "ops"), ("sec", "ops"),
    ("on", "call"), ("e", "commerce"), ("web", "site"), ("data", "base"), ("ml", "ops"), ("fin", "tech"))]
_SENIORITY_SYNONYMS = {
    "sr": "senior", "snr": "senior", "sen": "senior", "jr": "junior", "jnr": "junior", "jun": "junior",
    "midlevel": "mid", "intermediate": "mid", "mid": "mid", "entrylevel": "junior", "mgr": "manager",
    "eng": "engineer", "engr": "engineer", "dev": "developer", "swe": "software engineer",
}
_MIDLEVEL = re.compile(r"\b(mid|entry)\s+level\b")

# Country names and codes -> one name. Small on purpose: the common ones on the boards we read.
COUNTRIES = {
    "germany": "germany", "deutschland": "germany", "de": "germany", "deu": "germany",
    "austria": "austria", "osterreich": "austria", "at": "austria",
    "switzerland": "switzerland", "schweiz": "switzerland", "suisse": "switzerland", "ch": "switzerland",
    "united kingdom": "united kingdom", "uk": "united kingdom", "gb": "united kingdom", "great britain":
        "united kingdom", "england": "united kingdom", "scotland": "united kingdom",
    "united states": "united states", "united states of america": "united states", "usa": "united states",
    "us": "united states", "america": "united states",
    "canada": "canada", "ca": "canada", "france": "france", "fr": "france", "netherlands": "netherlands",
    "the netherlands": "netherlands", "nl": "netherlands", "holland": "netherlands", "spain": "spain",
    "es": "spain", "espana": "spain", "portugal": "portugal", "pt": "portugal", "italy": "italy", "it": "italy",
    "ireland": "ireland", "ie": "ireland", "poland": "poland", "pl": "poland", "sweden": "sweden", "se": "sweden",
    "denmark": "denmark", "dk": "denmark", "norway": "norway", "no": "norway", "finland": "finland",
    "fi": "finland", "belgium": "belgium", "be": "belgium", "czech republic": "czechia", "czechia": "czechia",
    "cz": "czechia", "india": "india", "in": "india", "singapore": "singapore", "sg": "singapore",
    "australia": "australia", "au": "australia", "japan": "japan", "jp": "japan", "brazil": "brazil",
    "br": "brazil", "mexico": "mexico", "mx": "mexico", "israel": "israel", "il": "israel",
    "european union": "europe", "eu": "europe", "europe": "europe", "emea": "europe", "worldwide": "worldwide",
    "anywhere": "worldwide", "global": "worldwide",
}
# US states and Canadian provinces after a city ("Austin, TX") say the country.
_REGIONS = {"ny": "united states", "ca": "united states", "tx": "united states", "wa": "united states",
            "ma": "united states", "il": "united states", "co": "united states", "ga": "united states",
            "fl": "united states", "or": "united states", "nj": "united states", "pa": "united states",
            "on": "canada", "bc": "canada", "qc": "canada", "ab": "canada"}
CITY_ALIASES = {"munchen": "munich", "koln": "cologne", "wien": "vienna", "zurich": "zurich", "nyc": "new york",
                "new york city": "new york", "sf": "san francisco", "frankfurt am main": "frankfurt",
                "frankfurt a m": "frankfurt", "lisboa": "lisbon", "praha": "prague", "warszawa": "warsaw",
                "den haag": "the hague", "bengaluru": "bangalore", "dusseldorf": "dusseldorf", "roma": "rome",
                "milano": "milan", "kobenhavn": "copenhagen", "bruxelles": "brussels", "brussel": "brussels"}
_REMOTE_WORDS = {"remote", "remotely", "work from home", "wfh", "distributed", "telecommute", "home office",
                 "fully remote", "100 remote", "remote first"}
_WORK_MODES = {"hybrid", "onsite", "on site", "in office", "office", "flexible"}


def _fold(text: str) -> str:
    """Lower case, no diacritics ("Zürich" -> "zurich", "ß" -> "ss")."""
    if text.isascii():  # the common case, and a 3 KB description's: no per-character pass
        return text.lower()
    text = unicodedata.normalize("NFKD", (text or "").replace("ß", "ss"))
    return "".join(ch for ch in text if not unicodedata.combining(ch)).lower()


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9&]+", text)


def company_normalize(company: str) -> str:
    """"Acme Inc.", "ACME GmbH", "Acme, LLC" and "Acme" -> "acme". Legal forms go from the end only, so a company
    named "Co" or "AB InBev" keeps its name."""
    words = _words(_fold(company).replace(".", ""))
    while len(words) > 1 and (words[-1] in COMPANY_SUFFIXES or words[-1] in _SUFFIX_JOINERS):
        words.pop()
    if len(words) > 1 and words[0] == "the":
        words.pop(0)
    return " ".join(words)


def title_normalize(title: str) -> str:
    """"Sr. Back-end Engineer (m/w/d)" and "Senior Backend Engineer" -> "senior backend engineer"."""
    text = _GENDER_TAG.sub(" ", _fold(title))
    text = re.sub(r"[-_/]+", " ", text.replace(".", " "))
    text = " ".join(_words(text))
    text = _MIDLEVEL.sub(lambda match: match.group(1) + "level", text)
    for pattern, joined in _COMPOUNDS:
        text = pattern.sub(joined, text)
    return " ".join(_SENIORITY_SYNONYMS.get(word, word) for word in text.split())


def location_normalize(location: str) -> tuple[str, str]:
    """(city, country): "Berlin, Germany", "Berlin, DE" and "Berlin" -> ("berlin", "germany" or ""); "Germany" ->
    ("", "germany"); "Remote", "Remote (EU)", "Remote - US" -> ("remote", ...). Work modes ("Hybrid") go."""
    text = _fold(location)
    remote = "remote" in text or any(word in text for word in ("work from home", "wfh", "anywhere"))
    text = re.sub(r"[()\[\]]", ",", text)
    parts = [" ".join(_words(part.replace(".", ""))) for part in re.split(r"[,;|/]|\s[-–—]\s|\s[-–—]|[-–—]\s", text)]
    city, country = "", ""
    for part in parts:
        if not part or part in _REMOTE_WORDS or part in _WORK_MODES:
            continue
        if "remote" in part.split():  # "remote us", "us remote": the rest may name a country
            part = " ".join(word for word in part.split() if word not in ("remote", "only", "fully"))
            country = country or COUNTRIES.get(part, "")
            continue
        if part in COUNTRIES:
            country = country or COUNTRIES[part]
        elif city and part in _REGIONS:
            country = country or _REGIONS[part]
        elif not city:
            city = CITY_ALIASES.get(part, part)
    if remote and not city:
        city = "remote"
    return city, country


def place_normalize(location: str) -> str:
    """The place part of the key: the city, else the country (a posting that names only a country), else "remote",
    else "". "Berlin" and "Germany" are two places: a country alone does not say which city."""
    city, country = location_normalize(location)
    return city or country


def dedupe_key(*, company: str, title: str, location: str) -> str:
    parts = (company_normalize(company), title_normalize(title), place_normalize(location))
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


def shingles(text: str) -> frozenset[tuple[str, ...]]:
    """Hashed word 3-grams of the folded text; empty when the text has fewer than SHINGLE words."""
    words = _words(_fold(text))
    return frozenset(zip(*(words[i:] for i in range(SHINGLE)), strict=False))  # word triples, hashed in C


def description_similarity(a: str | frozenset, b: str | frozenset) -> float:
    """How much of the shorter description the longer one contains (the overlap of their word 3-grams, 0..1):
    a copy that a board truncated or padded with its own footer stays near 1, and two openings that share only a
    company's boilerplate stay low. 1.0 when either side has nothing to compare (the key alone decides)."""
    first = a if isinstance(a, frozenset) else shingles(a)
    second = b if isinstance(b, frozenset) else shingles(b)
    if not first or not second:
        return 1.0
    return len(first & second) / min(len(first), len(second))


def similarity_threshold() -> float:
    return float(getattr(settings, "DEDUPE_SIMILARITY_THRESHOLD", DEFAULT_SIMILARITY_THRESHOLD))


@dataclass
class DedupeRow:
    """One posting as the linking rule sees it."""

    id: int
    company: str
    title: str
    location: str
    description: str
    key: str = ""  # as stored ("" never deduped)
    duplicate_of: int | None = None  # as stored
    has_copies: bool = False  # other postings point at it

    def __post_init__(self) -> None:
        self._shingles: frozenset | None = None

    @property
    def text_shingles(self) -> frozenset:
        if self._shingles is None:
            self._shingles = shingles(self.description)
        return self._shingles


def dedupe_resolve(*, rows: Iterable[DedupeRow], canonicals: Iterable[DedupeRow], threshold: float,
                   merge_canonicals: bool = False) -> dict[int, tuple[str, int | None]]:
    """{id: (dedupe_key, duplicate_of)} for `rows`, oldest (lowest id) first.

    `canonicals` are the stored canonical postings (duplicate_of empty) whose key is among the rows' keys, not
    among `rows`. A row links to the oldest canonical of its key whose description is similar enough, else it is
    canonical itself (and a candidate for the rows after it). So `duplicate_of` only ever names a canonical posting:
    - a row whose key did not change keeps what it was (a re-upsert moves nothing), except that with
      `merge_canonicals` (the dedupe_postings command) a canonical row is matched again against older canonicals;
    - a row that other postings copy stays canonical (making it a copy would make a chain).
    """
    pool: dict[str, list[DedupeRow]] = {}
    for canonical in sorted(canonicals, key=lambda row: row.id):
        pool.setdefault(canonical.key, []).append(canonical)
    resolved: dict[int, tuple[str, int | None]] = {}
    for row in sorted(rows, key=lambda row: row.id):
        key = dedupe_key(company=row.company, title=row.title, location=row.location)
        unchanged = bool(row.key) and row.key == key
        if unchanged and row.duplicate_of is not None:
            resolved[row.id] = (key, row.duplicate_of)
            continue
        target = None
        if not row.has_copies and not (unchanged and not merge_canonicals):
            target = next((candidate for candidate in pool.get(key, ())
                           if candidate.id != row.id and (not merge_canonicals or candidate.id < row.id)
                           and description_similarity(row.text_shingles, candidate.text_shingles) >= threshold),
                          None)
        if target is None:
            resolved[row.id] = (key, None)
            row.key = key
            bucket = pool.setdefault(key, [])
            if all(candidate.id != row.id for candidate in bucket):
                bucket.append(row)
                bucket.sort(key=lambda candidate: candidate.id)
        else:
            target.has_copies = True
            resolved[row.id] = (key, target.id)
    return resolved
