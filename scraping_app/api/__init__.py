"""The job-search HTTP API: views, their fields and serializers, the scrape throttle."""
