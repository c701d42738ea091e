"""Roles and groups on the Pyramid side (PRODUCT §17).

- ``config.add_camauth_permission(name, description)`` declares a host
  application's permission (as the ``camauth.permissions`` setting does);
- ``request.camauth_holdings``: the roles, groups and permissions the user holds
  through them, read with one query the first time a request asks, never kept
  for the next request (a grant or revocation counts from the next request on);
- ``request.camauth_permissions``: the permissions the user may use now. An
  administrator holds every declared permission; someone who owes a required
  action holds none until it is done; a visitor none.
"""

from __future__ import annotations

from pyramid.config import Configurator
from pyramid.exceptions import ConfigurationError
from pyramid.request import Request

from ..services.permissions import (
    CAMAUTH_PERMISSIONS,
    NOTHING,
    Holdings,
    catalogue,
    permission_problem,
)
from ..services.session_lookup import SessionLookup
from .context import app_settings
from .security import VIEW, owed_action

PERMISSIONS = "camauth.permissions"  # the registry's catalogue: name -> description


def add_camauth_permission(config: Configurator, name: str, description: str = "") -> None:
    """Declare a permission (a dotted lower-case name) for roles to hold."""
    problem = permission_problem(name)
    if problem is not None:
        raise ConfigurationError(f"add_camauth_permission: {problem}")

    def register() -> None:
        config.registry[PERMISSIONS][name] = description.strip() or name

    # in configuration order, after camauth's own catalogue exists
    config.action(None, register)


def request_holdings(request: Request) -> Holdings:
    """``request.camauth_holdings`` (nothing for a visitor or for someone owing an action)."""
    user = request.user
    if user is None or owed_action(request) is not None:
        return NOTHING
    lookup: SessionLookup = request.registry["camauth.session_lookup"]
    return lookup.holdings(user.id)


def request_permissions(request: Request) -> frozenset[str]:
    """``request.camauth_permissions``."""
    user = request.user
    if user is None or owed_action(request) is not None:
        return frozenset()
    if user.is_admin:
        return frozenset(request.registry[PERMISSIONS])
    holdings: Holdings = request.camauth_holdings
    # a role may list camauth's own permissions, but camauth decides those itself
    # (camauth.admin is is_admin's): the set says only what the policy allows
    return frozenset(p for p in holdings.permissions if p not in CAMAUTH_PERMISSIONS) | {VIEW}


def includeme(config: Configurator) -> None:
    config.registry[PERMISSIONS] = catalogue(app_settings(config.registry))
    config.add_directive("add_camauth_permission", add_camauth_permission)
    config.add_request_method(request_holdings, "camauth_holdings", reify=True)
    config.add_request_method(request_permissions, "camauth_permissions", reify=True)
