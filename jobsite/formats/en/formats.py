# Every date-time the admin prints (list columns, read-only fields) with seconds and the zone, in TIME_ZONE:
# "2026-12-01 08:40:12 UTC" rather than English's "Dec. 1, 2026, 8:40 a.m.". The page header names the zone.
DATETIME_FORMAT = "Y-m-d H:i:s T"
SHORT_DATETIME_FORMAT = "Y-m-d H:i:s T"
