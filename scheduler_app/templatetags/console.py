"""Template filters for times in the console: `{{ value|when }}` (relative, then absolute with seconds and zone),
`|relative`, `|absolute`, and `{% console_zone %}` for the page header. Values may be datetimes, ISO strings or
epoch floats (see jobsite.timefmt)."""

from django import template

from jobsite import timefmt
from scheduler_app import admin_display

register = template.Library()


@register.filter
def when(value):
    return timefmt.when_html(value)


@register.filter
def relative(value):
    return timefmt.relative(value)


@register.filter
def absolute(value):
    return timefmt.absolute(value)


@register.filter
def seconds(value):
    """Seconds as '850 ms', '12 s', '4 min'."""
    if value is None or value == "":
        return "-"
    value = float(value)
    return f"{value * 1000:.0f} ms" if value < 1 else timefmt.duration_text(value)


@register.simple_tag
def console_zone():
    return timefmt.zone_label()


@register.filter
def milliseconds(value):
    """A duration in ms (JobRun.duration_ms) as the `seconds` filter shows it."""
    return "-" if value is None or value == "" else seconds(float(value) / 1000)


@register.filter
def status_badge(value):
    return admin_display.status_badge(value)
