"""The next-runs preview around the 2026 and 2027 daylight-saving transitions of Europe/Berlin and America/New_York:
the exact instants, offsets, abbreviations and notes, written out (not computed by the code under test)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from scheduler_app.models import JobDefinition
from scheduler_app.selectors import definition_next_runs, job_next_runs, next_runs_start_parse

pytestmark = pytest.mark.django_db


def _preview(start: str, count: int, **fields) -> dict:
    definition = JobDefinition(job_id="x", name="x", timeout_minutes=1, **fields)
    return definition_next_runs(definition=definition, start=next_runs_start_parse(start), count=count)


def _rows(preview: dict) -> list[tuple]:
    return [(run["at"], run["utc"], run["abbreviation"], run["note"]) for run in preview["runs"]]


MISSING_0230 = "02:30 does not exist (DST starts); runs at 03:00"
FIRST_OF_TWO = "first of two {} (DST ends); the second is skipped"
LATER_BERLIN = "UTC offset +02:00 -> +01:00 since the previous fire (DST ends)"
LATER_NEW_YORK = "UTC offset -04:00 -> -05:00 since the previous fire (DST ends)"

DAILY = [
    # Europe/Berlin, 02:30: missing at spring-forward, twice at fall-back
    ("Europe/Berlin", "30 2 * * *", "2026-03-28T00:00", [
        ("2026-03-28T02:30:00+01:00", "2026-03-28T01:30:00+00:00", "CET", ""),
        ("2026-03-29T03:00:00+02:00", "2026-03-29T01:00:00+00:00", "CEST", MISSING_0230),
        ("2026-03-30T02:30:00+02:00", "2026-03-30T00:30:00+00:00", "CEST", "")]),
    ("Europe/Berlin", "30 2 * * *", "2026-10-24T00:00", [
        ("2026-10-24T02:30:00+02:00", "2026-10-24T00:30:00+00:00", "CEST", ""),
        ("2026-10-25T02:30:00+02:00", "2026-10-25T00:30:00+00:00", "CEST", FIRST_OF_TWO.format("02:30")),
        ("2026-10-26T02:30:00+01:00", "2026-10-26T01:30:00+00:00", "CET", LATER_BERLIN)]),
    ("Europe/Berlin", "30 2 * * *", "2027-03-27T00:00", [
        ("2027-03-27T02:30:00+01:00", "2027-03-27T01:30:00+00:00", "CET", ""),
        ("2027-03-28T03:00:00+02:00", "2027-03-28T01:00:00+00:00", "CEST", MISSING_0230),
        ("2027-03-29T02:30:00+02:00", "2027-03-29T00:30:00+00:00", "CEST", "")]),
    ("Europe/Berlin", "30 2 * * *", "2027-10-30T00:00", [
        ("2027-10-30T02:30:00+02:00", "2027-10-30T00:30:00+00:00", "CEST", ""),
        ("2027-10-31T02:30:00+02:00", "2027-10-31T00:30:00+00:00", "CEST", FIRST_OF_TWO.format("02:30")),
        ("2027-11-01T02:30:00+01:00", "2027-11-01T01:30:00+00:00", "CET", LATER_BERLIN)]),
    # America/New_York: 02:30 is missing at spring-forward, 01:30 occurs twice at fall-back
    ("America/New_York", "30 2 * * *", "2026-03-07T00:00", [
        ("2026-03-07T02:30:00-05:00", "2026-03-07T07:30:00+00:00", "EST", ""),
        ("2026-03-08T03:00:00-04:00", "2026-03-08T07:00:00+00:00", "EDT", MISSING_0230),
        ("2026-03-09T02:30:00-04:00", "2026-03-09T06:30:00+00:00", "EDT", "")]),
    ("America/New_York", "30 1 * * *", "2026-10-31T00:00", [
        ("2026-10-31T01:30:00-04:00", "2026-10-31T05:30:00+00:00", "EDT", ""),
        ("2026-11-01T01:30:00-04:00", "2026-11-01T05:30:00+00:00", "EDT", FIRST_OF_TWO.format("01:30")),
        ("2026-11-02T01:30:00-05:00", "2026-11-02T06:30:00+00:00", "EST", LATER_NEW_YORK)]),
    ("America/New_York", "30 2 * * *", "2027-03-13T00:00", [
        ("2027-03-13T02:30:00-05:00", "2027-03-13T07:30:00+00:00", "EST", ""),
        ("2027-03-14T03:00:00-04:00", "2027-03-14T07:00:00+00:00", "EDT", MISSING_0230),
        ("2027-03-15T02:30:00-04:00", "2027-03-15T06:30:00+00:00", "EDT", "")]),
    ("America/New_York", "30 1 * * *", "2027-11-06T00:00", [
        ("2027-11-06T01:30:00-04:00", "2027-11-06T05:30:00+00:00", "EDT", ""),
        ("2027-11-07T01:30:00-04:00", "2027-11-07T05:30:00+00:00", "EDT", FIRST_OF_TWO.format("01:30")),
        ("2027-11-08T01:30:00-05:00", "2027-11-08T06:30:00+00:00", "EST", LATER_NEW_YORK)]),
]


@pytest.mark.parametrize("zone, cron, start, expected", DAILY, ids=[f"{z}-{s[:10]}-{c[:4]}" for z, c, s, _ in DAILY])
def test_a_daily_job_at_the_ambiguous_or_missing_time(zone, cron, start, expected):
    assert _rows(_preview(start, 3, cron=cron, time_zone=zone)) == expected


def _hourly_fall(zone: str, day: str, hour: int, utc_hours: list[str], before: str, after: str) -> tuple:
    """Four hourly fires from the hour before the repeated one: ..., first, second, the next."""
    h = f"{hour:02d}"
    return (zone, f"{day}T{hour - 1:02d}:00", [
        (f"{day}T{hour - 1:02d}:00:00{before}", f"{utc_hours[0]}:00:00+00:00", _abbr(zone, dst=True), ""),
        (f"{day}T{h}:00:00{before}", f"{utc_hours[1]}:00:00+00:00", _abbr(zone, dst=True),
         f"first of two {h}:00 (DST ends)"),
        (f"{day}T{h}:00:00{after}", f"{utc_hours[2]}:00:00+00:00", _abbr(zone, dst=False),
         f"second {h}:00 (DST ends): an every-hour schedule fires in both passes of the repeated hour"),
        (f"{day}T{hour + 1:02d}:00:00{after}", f"{utc_hours[3]}:00:00+00:00", _abbr(zone, dst=False), "")])


def _abbr(zone: str, *, dst: bool) -> str:
    return {"Europe/Berlin": ("CET", "CEST"), "America/New_York": ("EST", "EDT")}[zone][dst]


HOURLY = [
    # spring-forward: the hour after 01:00 is 03:00, one real hour later
    ("Europe/Berlin", "2026-03-29T01:00", [
        ("2026-03-29T01:00:00+01:00", "2026-03-29T00:00:00+00:00", "CET", ""),
        ("2026-03-29T03:00:00+02:00", "2026-03-29T01:00:00+00:00", "CEST",
         "UTC offset +01:00 -> +02:00 since the previous fire (DST starts)"),
        ("2026-03-29T04:00:00+02:00", "2026-03-29T02:00:00+00:00", "CEST", "")]),
    ("Europe/Berlin", "2027-03-28T01:00", [
        ("2027-03-28T01:00:00+01:00", "2027-03-28T00:00:00+00:00", "CET", ""),
        ("2027-03-28T03:00:00+02:00", "2027-03-28T01:00:00+00:00", "CEST",
         "UTC offset +01:00 -> +02:00 since the previous fire (DST starts)"),
        ("2027-03-28T04:00:00+02:00", "2027-03-28T02:00:00+00:00", "CEST", "")]),
    ("America/New_York", "2026-03-08T01:00", [
        ("2026-03-08T01:00:00-05:00", "2026-03-08T06:00:00+00:00", "EST", ""),
        ("2026-03-08T03:00:00-04:00", "2026-03-08T07:00:00+00:00", "EDT",
         "UTC offset -05:00 -> -04:00 since the previous fire (DST starts)"),
        ("2026-03-08T04:00:00-04:00", "2026-03-08T08:00:00+00:00", "EDT", "")]),
    ("America/New_York", "2027-03-14T01:00", [
        ("2027-03-14T01:00:00-05:00", "2027-03-14T06:00:00+00:00", "EST", ""),
        ("2027-03-14T03:00:00-04:00", "2027-03-14T07:00:00+00:00", "EDT",
         "UTC offset -05:00 -> -04:00 since the previous fire (DST starts)"),
        ("2027-03-14T04:00:00-04:00", "2027-03-14T08:00:00+00:00", "EDT", "")]),
    # fall-back: the repeated hour fires twice, one real hour apart
    _hourly_fall("Europe/Berlin", "2026-10-25", 2, ["2026-10-24T23", "2026-10-25T00", "2026-10-25T01",
                                                    "2026-10-25T02"], "+02:00", "+01:00"),
    _hourly_fall("Europe/Berlin", "2027-10-31", 2, ["2027-10-30T23", "2027-10-31T00", "2027-10-31T01",
                                                    "2027-10-31T02"], "+02:00", "+01:00"),
    _hourly_fall("America/New_York", "2026-11-01", 1, ["2026-11-01T04", "2026-11-01T05", "2026-11-01T06",
                                                       "2026-11-01T07"], "-04:00", "-05:00"),
    _hourly_fall("America/New_York", "2027-11-07", 1, ["2027-11-07T04", "2027-11-07T05", "2027-11-07T06",
                                                       "2027-11-07T07"], "-04:00", "-05:00"),
]


@pytest.mark.parametrize("zone, start, expected", HOURLY, ids=[f"{z}-{s[:10]}" for z, s, _ in HOURLY])
def test_an_hourly_job_across_each_transition(zone, start, expected):
    assert _rows(_preview(start, len(expected), cron="0 * * * *", time_zone=zone)) == expected


def test_an_interval_job_stays_n_seconds_apart_across_the_fall_back():
    preview = _preview("2026-10-25T02:00", 4, trigger_type="interval", interval_seconds=1800, time_zone="Europe/Berlin")
    assert _rows(preview) == [
        ("2026-10-25T02:00:00+02:00", "2026-10-25T00:00:00+00:00", "CEST", "first of two 02:00 (DST ends)"),
        ("2026-10-25T02:30:00+02:00", "2026-10-25T00:30:00+00:00", "CEST", "first of two 02:30 (DST ends)"),
        ("2026-10-25T02:00:00+01:00", "2026-10-25T01:00:00+00:00", "CET",
         "second 02:00 (DST ends); interval fires stay 1800 s apart"),
        ("2026-10-25T02:30:00+01:00", "2026-10-25T01:30:00+00:00", "CET",
         "second 02:30 (DST ends); interval fires stay 1800 s apart")]


def test_an_interval_job_stays_n_seconds_apart_across_the_spring_forward():
    preview = _preview("2027-03-14T01:00", 3, trigger_type="interval", interval_seconds=3600,
                       time_zone="America/New_York")
    assert _rows(preview) == [
        ("2027-03-14T01:00:00-05:00", "2027-03-14T06:00:00+00:00", "EST", ""),
        ("2027-03-14T03:00:00-04:00", "2027-03-14T07:00:00+00:00", "EDT",
         "DST starts: UTC offset -05:00 -> -04:00; interval fires stay 3600 s apart"),
        ("2027-03-14T04:00:00-04:00", "2027-03-14T08:00:00+00:00", "EDT", "")]


def test_each_entry_has_the_instant_wall_time_offset_and_abbreviation():
    preview = _preview("2026-10-24T12:00:00+00:00", 1, cron="30 2 * * *", time_zone="Europe/Berlin")
    assert preview["from"] == "2026-10-24T14:00:00+02:00"  # an aware start is shown in the job's zone
    assert preview["runs"] == [{"at": "2026-10-25T02:30:00+02:00", "utc": "2026-10-25T00:30:00+00:00",
                                "local": "2026-10-25 02:30:00", "utc_offset": "+02:00", "abbreviation": "CEST",
                                "note": "first of two 02:30 (DST ends); the second is skipped"}]
    assert (preview["time_zone"], preview["schedule_words"], preview["reason"]) == (
        "Europe/Berlin", "daily at 02:30 Europe/Berlin", None)


def test_a_naive_start_in_the_repeated_hour_means_its_first_occurrence():
    # 02:45 on 2026-10-25 Berlin is 00:45 UTC (CEST) and 01:45 UTC (CET): the first
    preview = _preview("2026-10-25T02:45", 1, cron="0 * * * *", time_zone="Europe/Berlin")
    assert preview["from"] == "2026-10-25T02:45:00+02:00"
    assert preview["runs"][0]["utc"] == "2026-10-25T01:00:00+00:00"  # 02:00 CET, the second pass


def test_a_job_that_does_not_fire_has_no_runs_and_says_why(settings):
    settings.TIME_ZONE = "UTC"
    assert _preview("2026-01-01T00:00", 5, cron="")["reason"].startswith("The job has no schedule")
    disabled = _preview("2026-01-01T00:00", 5, cron="0 9 * * *", enabled=False)
    assert disabled["runs"] == [] and "disabled" in disabled["reason"]
    broken = _preview("2026-01-01T00:00", 5, cron="0 9 * * *", time_zone="Nowhere/Land")
    assert broken["runs"] == [] and "Unknown time zone 'Nowhere/Land'" in broken["reason"]


def test_job_next_runs_reads_the_definition_by_id(settings):
    settings.TIME_ZONE = "UTC"
    JobDefinition.objects.filter(job_id="check_follow_ups_task").update(cron="0 9 * * *", time_zone="Asia/Tokyo")
    preview = job_next_runs(job_id="check_follow_ups_task", start=datetime(2026, 6, 1, tzinfo=ZoneInfo("UTC")),
                            count=2)
    # 09:00 JST is 00:00 UTC: a fire at the start instant itself is included
    assert [run["utc"] for run in preview["runs"]] == ["2026-06-01T00:00:00+00:00", "2026-06-02T00:00:00+00:00"]
    assert preview["runs"][0]["abbreviation"] == "JST"
    assert job_next_runs(job_id="no_such_job") is None


@pytest.mark.parametrize("text", ["yesterday", "2026-13-01T00:00", "", "2026-10-25T01:30:61Z", "\\\x0e|Z"])
def test_a_bad_start_is_a_value_error(text):
    with pytest.raises(ValueError):
        next_runs_start_parse(text)


@pytest.mark.parametrize(("text", "expected"), [
    ("2026-10-25t01:30:00z", datetime(2026, 10, 25, 1, 30, tzinfo=UTC)),  # RFC 3339 allows lower case
    ("2026-06-30T23:59:60Z", datetime(2026, 6, 30, 23, 59, 59, tzinfo=UTC)),  # a leap second
    ("0001-01-01T00:00:00+12:00", datetime(1970, 1, 1, tzinfo=UTC)),  # before the years a preview covers
    ("9999-12-31T23:59:59-12:00", datetime(9000, 1, 1, tzinfo=UTC)),
    ("1200-01-01T00:00", datetime(1970, 1, 1)),  # naive stays naive (the job's zone)
])
def test_every_rfc_3339_start_is_accepted(text, expected):
    """The API's schema says `from` is an RFC 3339 date-time: every such value must be answered, not refused."""
    assert next_runs_start_parse(text) == expected
