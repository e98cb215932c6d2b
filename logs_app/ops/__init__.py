"""Operations: /healthz, /metrics and `manage.py healthcheck`. They read the other apps through their selectors."""
