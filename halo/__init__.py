"""Halo: the project package (settings, URLs, ASGI/WSGI and Celery apps) and the tenancy and people models."""

from halo.celery import app as celery_app

__all__ = ["celery_app"]
