"""The Parity project package and the core every app needs."""

from tcp.celery import app as celery_app

__all__ = ["celery_app"]
