"""Field conversions the boards need."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from scraping_app.sources.parsing import epoch_to_utc, html_to_text, iso_to_utc, mojibake_fix, salary_text_parse


def test_epoch_seconds_and_milliseconds_give_the_same_instant():
    assert epoch_to_utc(1778529611) == epoch_to_utc(1778529611000) == datetime(2026, 5, 11, 20, 0, 11, tzinfo=UTC)
    assert epoch_to_utc(0) is None and epoch_to_utc("soon") is None


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


@pytest.mark.parametrize("text, expected", [
    ("$30k - $100k", (Decimal(30000), Decimal(100000), "USD", "year")),
    ("$18 - $22/hr", (Decimal(18), Decimal(22), "USD", "hour")),
    ("\u20ac50,000 per year", (Decimal(50000), Decimal(50000), "EUR", "year")),
    ("", (None, None, "", "")),
    ("competitive", (None, None, "", "")),
])
def test_free_text_salaries(text, expected):
    assert salary_text_parse(text) == expected
