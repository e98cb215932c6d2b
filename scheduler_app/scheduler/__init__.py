"""The scheduler process (`manage.py runscheduler`): exactly one APScheduler per process, never in web workers."""
