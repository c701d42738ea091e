"""camauth: login, sessions and account security for Pyramid applications.

``main`` serves camauth on its own (``pserve development.ini``);
``config.include("camauth")`` adds it to another Pyramid application.
"""

from __future__ import annotations

import sys
from typing import Any

from pyramid.config import Configurator
from pyramid.router import Router
from sqlalchemy.orm import configure_mappers

from .clock import utcnow
from .resources import resource_dir
from .services.oidc_client import ProviderClient
from .services.oidc_providers import providers_from_settings
from .services.passwords import Passwords
from .services.session_lookup import SessionLookup
from .settings import SettingsError, parse_settings


def includeme(config: Configurator) -> None:
    registry = config.registry
    settings = parse_settings(config.get_settings())
    registry["camauth.settings"] = settings
    registry.setdefault("camauth.clock", utcnow)
    registry["camauth.passwords"] = Passwords(settings)
    config.include(".db")
    # SQLAlchemy would configure the mappers at the first ORM query; the session
    # lookup builds users without one, so a fresh process's first logged-in request
    # would fail. Do it now, before any request.
    configure_mappers()
    registry["camauth.session_lookup"] = SessionLookup(registry["camauth.engine"])
    registry["camauth.oidc"] = {
        name: ProviderClient(provider)
        for name, provider in providers_from_settings(config.get_settings()).items()
    }
    config.include(".web")
    # not "static": a host application's own static view of that name would win
    config.add_static_view("camauth_static", str(resource_dir("static")), cache_max_age=3600)
    config.add_static_view("deform_static", "deform:static/", cache_max_age=3600)


def make_config(settings: dict[str, Any]) -> Configurator:
    config = Configurator(settings=settings)
    config.include(includeme)
    config.add_route("camauth.home", "/")
    config.scan(".web.views.home")
    return config


def main(global_config: dict[str, Any] | None = None, **settings: Any) -> Router:
    """The paste app factory behind ``pserve``."""
    try:
        config = make_config(settings)
    except SettingsError as error:
        # one line naming the key, not a traceback
        sys.exit(f"camauth: {error}")
    return config.make_wsgi_app()
