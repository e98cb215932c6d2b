"""One vocabulary for what the boards spell many ways: employment type, seniority, and salary as annual pay in one
currency."""

from __future__ import annotations

from decimal import Decimal

import pytest

from scraping_app.normalize import (
    employment_type_normalize,
    posting_normalized_fields,
    salary_annual,
    salary_annual_range,
    seniority_from_title,
    seniority_normalize,
)


@pytest.mark.parametrize("spelling, kind", [
    ("Full-Time", "full_time"), ("full time", "full_time"), ("FULL_TIME", "full_time"), ("fulltime", "full_time"),
    ("Permanent", "full_time"), ("FullTime", "full_time"), ("full time, berufserfahren", "full_time"),
    ("berufserfahren, Vollzeit", "full_time"), ("Part-time", "part_time"), ("PART_TIME", "part_time"),
    ("Contract", "contract"), ("Contractor", "contract"), ("freelance", "contract"), ("Internship", "internship"),
    ("intern", "internship"), ("Temporary", "temporary"), ("temp", "temporary"), ("Short Term", "temporary"),
    ("Fixed-term contract", "temporary"), ("", ""), ("Remote", ""),
    ("other", ""),
])
def test_employment_type(spelling, kind):
    assert employment_type_normalize(value=spelling) == kind


@pytest.mark.parametrize("value, level", [
    # Himalayas' `seniority` values, and Arbeitnow's level words among its `job_types`.
    ("Entry-level", "junior"), ("Mid-level", "mid"), ("Senior", "senior"), ("Manager", "lead"),
    ("Director", "director"), ("Executive", "director"), ("berufserfahren", "mid"), ("experienced", "mid"),
    ("Berufseinsteiger", "junior"), ("geschäftsleitung", "director"), ("Führungskraft", "lead"),
    ("Praktikant", "intern"), ("", ""), ("Full Time", ""), ("Wizard", ""),
])
def test_seniority_normalize(value, level):
    assert seniority_normalize(value=value) == level


@pytest.mark.parametrize("title, level", [
    ("Senior Backend Engineer", "senior"), ("Sr. Backend Engineer", "senior"), ("SR Data Engineer", "senior"),
    ("Junior Python Developer", "junior"), ("Jr. Designer", "junior"), ("Software Engineer II", "mid"),
    ("Software Engineer III", "senior"), ("Software Engineer I", "junior"), ("Mid-Level Developer", "mid"),
    ("Staff Engineer", "staff"), ("Senior Staff Engineer", "staff"), ("Tech Lead, Payments", "lead"),
    ("Principal Engineer", "principal"), ("Head of Engineering", "director"), ("VP Engineering", "director"),
    ("Engineering Intern", "intern"), ("Werkstudent Data", "intern"), ("Backend Engineer", ""),
    ("I build things", ""), ("Senior-Level Leadership Coach", "senior"), ("Backend Developer (m/w/d)", ""),
])
def test_seniority_from_title(title, level):
    assert seniority_from_title(title=title) == level


class TestSalary:
    @pytest.mark.parametrize("amount, period, annual", [
        ("50", "hour", "104000.00"), ("400", "day", "104000.00"), ("2000", "week", "104000.00"),
        ("10000", "month", "120000.00"), ("120000", "year", "120000.00"), ("120000", "", "120000.00"),
        ("30", "hourly", "62400.00"), ("5000", "Monthly", "60000.00"),
    ])
    def test_periods_to_a_year(self, amount, period, annual):
        assert salary_annual(amount=Decimal(amount), currency="USD", period=period) == Decimal(annual)

    def test_currencies_to_the_base_currency_by_the_rates_setting(self, settings):
        settings.SALARY_RATES = {"USD": "1", "EUR": "1.10", "GBP": "1.25"}
        assert salary_annual(amount=Decimal("100000"), currency="EUR", period="year") == Decimal("110000.00")
        assert salary_annual(amount=Decimal("100000"), currency="", period="year") == Decimal("100000.00")
        settings.SALARY_BASE_CURRENCY = "EUR"
        assert salary_annual(amount=Decimal("110000"), currency="USD", period="year") == Decimal("100000.00")
        assert salary_annual(amount=Decimal("125000"), currency="gbp", period="year") == Decimal("142045.45")

    def test_unknown_currency_or_period_is_not_comparable(self):
        assert salary_annual(amount=Decimal("100"), currency="XYZ", period="year") is None
        assert salary_annual(amount=Decimal("100"), currency="USD", period="fortnight") is None
        assert salary_annual(amount=None, currency="USD", period="year") is None

    def test_a_one_sided_range_fills_both_ends(self):
        assert salary_annual_range(salary_min=Decimal("50"), salary_max=None, currency="USD", period="hour") == (
            Decimal("104000.00"), Decimal("104000.00"))
        assert salary_annual_range(salary_min=None, salary_max=None, currency="USD", period="") == (None, None)

    def test_the_derived_fields_of_a_posting(self):
        assert posting_normalized_fields(title="Sr. Engineer", employment_type="FULL_TIME",
                                         salary_min=Decimal("60"), salary_max=Decimal("80"), salary_currency="USD",
                                         salary_period="hour") == {
            "employment_type_normalized": "full_time", "seniority": "senior",
            "salary_annual_min": Decimal("124800.00"), "salary_annual_max": Decimal("166400.00")}
