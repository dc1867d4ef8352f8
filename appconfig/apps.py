from django.apps import AppConfig


class AppconfigConfig(AppConfig):
    name = "appconfig"
    verbose_name = "App config"
