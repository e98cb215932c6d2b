"""Field conversions the boards need."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from scraping_app.sources.parsing import (
    epoch_to_utc,
    html_list_items,
    html_to_text,
    iso_to_utc,
    mojibake_fix,
    salary_text_parse,
    url_clean,
)


def test_epoch_seconds_and_milliseconds_give_the_same_instant():
    assert epoch_to_utc(1778529611) == epoch_to_utc(1778529611000) == datetime(2026, 5, 11, 20, 0, 11, tzinfo=UTC)
    assert epoch_to_utc(0) is None and epoch_to_utc("soon") is None
    assert epoch_to_utc(1e300) is None and epoch_to_utc(float("nan")) is None  # nonsense is no date, not a crash


def test_iso_without_timezone_is_utc_and_offsets_are_converted():
    assert iso_to_utc("2026-02-19T13:03:51") == datetime(2026, 2, 19, 13, 3, 51, tzinfo=UTC)
    assert iso_to_utc("2026-06-10T08:50:56-04:00") == datetime(2026, 6, 10, 12, 50, 56, tzinfo=UTC)
    assert iso_to_utc("2026-04-07T17:12:35.753Z").tzinfo == UTC
    assert iso_to_utc("yesterday") is None


def test_html_becomes_sanitized_text_with_line_breaks():
    html = ('<h3>About</h3><p>We use <b>Python</b> &amp; Go.<script>alert(1)</script></p>'
            '<ul><li>One</li><li>Two</li></ul><img src="https://track/pixel.gif">'
            'Find more <a href="x">jobs</a> on Arbeitnow</a>')
    text = html_to_text(html)
    assert "<" not in text and "alert" not in text
    assert text.splitlines()[:4] == ["About", "We use Python & Go.", "One", "Two"]
    assert text.endswith("Find more jobs on Arbeitnow")


def test_entity_escaped_html_is_unescaped_first():
    assert html_to_text("&lt;p&gt;Hello &amp;amp; welcome&lt;/p&gt;", escaped=True) == "Hello & welcome"


def test_mojibake_is_repaired_and_clean_text_left_alone():
    assert mojibake_fix("You\u00e2\u0080\u0099ll join") == "You\u2019ll join"
    assert mojibake_fix("Caf\u00e9 M\u00fcnchen") == "Caf\u00e9 M\u00fcnchen"


D = Decimal


@pytest.mark.parametrize("text, expected", [
    ("$30k - $100k", (D(30000), D(100000), "USD", "year")),
    ("$18 - $22/hr", (D(18), D(22), "USD", "hour")),
    ("\u20ac50,000 per year", (D(50000), D(50000), "EUR", "year")),
    # The three: European thousands, an equity percentage, Swiss apostrophes.
    ("\u20ac65.000 - \u20ac80.000", (D(65000), D(80000), "EUR", "year")),
    ("$150,000 - $180,000 + 0.5% equity", (D(150000), D(180000), "USD", "year")),
    ("CHF 120'000", (D(120000), D(120000), "CHF", "year")),
    ("CHF 120\u2019000 - 140\u2019000", (D(120000), D(140000), "CHF", "year")),
    # Their kin.
    ("\u00a345k\u2013\u00a355k", (D(45000), D(55000), "GBP", "year")),
    ("\u00a345K \u2014 \u00a355K", (D(45000), D(55000), "GBP", "year")),
    ("65.000 \u20ac", (D(65000), D(65000), "EUR", "year")),
    ("120 000 EUR", (D(120000), D(120000), "EUR", "year")),
    ("120\u00a0000 EUR", (D(120000), D(120000), "EUR", "year")),
    ("45\u202f000 \u2013 55\u202f000 \u20ac", (D(45000), D(55000), "EUR", "year")),
    ("$45/hr", (D(45), D(45), "USD", "hour")),
    ("$45 per hour", (D(45), D(45), "USD", "hour")),
    ("USD 80,000.50", (D("80000.50"), D("80000.50"), "USD", "year")),
    ("$100k to $120k", (D(100000), D(120000), "USD", "year")),
    ("50,000 to 60,000 EUR per year", (D(50000), D(60000), "EUR", "year")),
    ("1.234.567,89 \u20ac", (D("1234567.89"), D("1234567.89"), "EUR", "year")),
    ("\u20ac 4.500 - 5.500 / month", (D(4500), D(5500), "EUR", "month")),
    ("\u20ac22,50 - \u20ac25,50 hourly", (D("22.50"), D("25.50"), "EUR", "hour")),
    ("$1.5k/week", (D(1500), D(1500), "USD", "week")),
    ("CA$90,000 - CA$110,000", (D(90000), D(110000), "CAD", "year")),
    ("usd 95k", (D(95000), D(95000), "USD", "year")),
    ("$120,000-$150,000 + 10% bonus", (D(120000), D(150000), "USD", "year")),
    ("$100k + 401k match", (D(100000), D(100000), "USD", "year")),
    ("$300 - $400 per day", (D(300), D(400), "USD", "day")),
    ("80k-100k", (D(80000), D(100000), "", "year")),
    ("", (None, None, "", "")),
    ("competitive", (None, None, "", "")),
    ("0.5% equity", (None, None, "", "")),
])
def test_free_text_salaries(text, expected):
    assert salary_text_parse(text) == expected


def test_html_list_items_read_li_items_or_lines_once_unescaped():
    assert html_list_items("<ul><li>Python &amp; SQL</li>\n<li><b>Go</b></li></ul>") == ["Python & SQL", "Go"]
    assert html_list_items("<p>5 &amp;lt; 6</p><p>Second</p>") == ["5 &lt; 6", "Second"]  # unescaped once
    assert html_list_items("".join(f"<li>{n}</li>" for n in range(80))) == [str(n) for n in range(50)]
    assert html_list_items(None) == [] and html_list_items("  ") == []


@pytest.mark.parametrize("value, clean", [
    ("https://cdn.example/a.png", "https://cdn.example/a.png"),
    (" http://cdn.example/a.png\n", "http://cdn.example/a.png"),
    ("javascript:alert(1)", ""), ("data:image/png;base64,AAAA", ""), ("//cdn.example/a.png", ""), ("/a.png", ""),
    ("https://cdn.example/a b.png", ""), ('https://x.example/"onerror="x', ""), ("https://[::1", ""), ("https://", ""),
    (42, ""), (None, ""), ("https://x.example/" + "a" * 1000, ""),
])
def test_url_clean(value, clean):
    assert url_clean(value) == clean
