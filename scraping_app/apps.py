from django.apps import AppConfig


class ScrapingAppConfig(AppConfig):
    name = "scraping_app"
    verbose_name = "Job search"
