from django.apps import AppConfig


class TcpConfig(AppConfig):
    name = "tcp"
    verbose_name = "Parity core"
