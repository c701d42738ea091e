"""A minimal Django 5 project: the contestant of bench/over_waitress.py.

Database sessions (``django.contrib.sessions``, the default database backend),
``django.contrib.auth``'s real login view, and one page behind
``login_required`` that answers "Signed in as <username>". Its database comes
from the environment (see ``settings.py``); over_waitress.py sets it.
"""
