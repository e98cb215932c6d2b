"""REST API v1 for the logs: thin views over `logs_app.selectors` and the clean-up job."""
