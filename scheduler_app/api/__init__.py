"""REST API v1 for the scheduler: thin views over `scheduler_app.services` and `scheduler_app.selectors`."""
