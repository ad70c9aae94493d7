"""The API under /api/v1/ (each app's apis.py holds the views)."""

from django.urls import path

urlpatterns: list = []
