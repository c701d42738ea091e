"""The WSGI entry point waitress serves."""

from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "django_contestant.settings")

application = get_wsgi_application()
