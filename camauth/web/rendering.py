"""Page rendering with Jinja2 (autoescaping) from the top-level ``templates/`` folder.

camauth keeps its own Jinja2 environment rather than a renderer registered by
file extension, so a host application's own ``.jinja2``/``.html`` renderers and
template names never collide with camauth's.
"""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from pyramid.config import Configurator
from pyramid.request import Request
from pyramid.response import Response
from pyramid.settings import asbool

from ..resources import resource_dir
from ..services import password_policy, plain_words
from .local_times import time_element
from .navigation import home_path
from .stencil import keep_stencils

TEMPLATE_ENV = "camauth.templates"
_LINKS_CACHE = "camauth.links"


def make_environment(reload_templates: bool = False, override_dir: str = "") -> Environment:
    """Templates from ``override_dir`` (``camauth.templates.directory``) win over
    camauth's own, so a deployment can replace the terms text or any page."""
    folders = [override_dir] if override_dir else []
    folders.append(str(resource_dir("templates")))
    environment = Environment(
        loader=FileSystemLoader(folders),
        # checking every template file's mtime on every render is for development only
        auto_reload=reload_templates,
        # plain-text mails are not HTML: escaping would turn "&" into "&amp;"
        autoescape=select_autoescape(
            disabled_extensions=("txt",), default=True, default_for_string=True
        ),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    # machine names in words a person reads (services/plain_words.py)
    environment.filters["event_words"] = plain_words.event_words
    environment.filters["failure_words"] = plain_words.failure_words
    environment.filters["user_agent_summary"] = plain_words.user_agent_summary
    environment.globals["untrusted_clients"] = plain_words.UNTRUSTED_CLIENTS
    environment.filters["strength_words"] = password_policy.strength_words
    # times in the viewer's zone, UTC on hover (web/local_times.py)
    environment.globals["local_time"] = time_element
    return environment


def application_root(request: Request) -> str:
    """The application's root as the WSGI server gave it, the key of what is kept
    per root (links, the login page's stencils): the raw value serves as a key,
    and WebOb's property decodes it each time."""
    root: str = request.environ.get("SCRIPT_NAME", "")
    return root


def _links(request: Request) -> dict[str, str]:
    """URLs every page needs, generated once per application root and then reused
    (generating them costs more than the rest of a page view)."""
    cache: dict[str, dict[str, str]] = request.registry[_LINKS_CACHE]
    root = application_root(request)
    links = cache.get(root)
    if links is None:
        settings = request.registry["camauth.settings"]
        static = str(resource_dir("static"))
        links = {
            "bootstrap_css": request.static_path("deform:static/css/bootstrap.min.css"),
            "form_css": request.static_path("deform:static/css/form.css"),
            "camauth_css": request.static_path(f"{static}/camauth.css"),
            "passkeys_js": request.static_path(f"{static}/passkeys.js"),
            "favicon": settings.favicon_path or request.static_path(f"{static}/favicon.svg"),
            "login": request.route_path("camauth.login"),
            "logout": request.route_path("camauth.logout"),
            "account": request.route_path("camauth.account"),
            "account_profile": request.route_path("camauth.account.profile"),
            "account_email": request.route_path("camauth.account.email"),
            "account_password": request.route_path("camauth.account.password"),
            "account_terms": request.route_path("camauth.account.terms"),
            "account_two_factor": request.route_path("camauth.account.two_factor"),
            "account_sessions": request.route_path("camauth.account.sessions"),
            "account_passkeys": request.route_path("camauth.account.passkeys"),
            "login_passkey": request.route_path("camauth.login.passkey"),
            "login_passkey_options": request.route_path("camauth.login.passkey.options"),
            "forgot_password": request.route_path("camauth.password.forgot"),
            "register": request.route_path("camauth.register"),
            "admin": request.route_path("camauth.admin"),
            "admin_users": request.route_path("camauth.admin.users"),
            "admin_lockouts": request.route_path("camauth.admin.lockouts"),
            "admin_sessions": request.route_path("camauth.admin.sessions"),
            "admin_audit": request.route_path("camauth.admin.audit"),
            "home": home_path(request),
        }
        cache[root] = links
    return links


def render_page(
    request: Request, template: str, status: int = 200, *, use_session: bool = True, **values: Any
) -> Response:
    """Render a page; ``use_session=False`` for pages that must not touch the database."""
    user = request.user if use_session else None
    return html_response(page_html(request, template, user, **values), status)


def page_html(request: Request, template: str, user: Any, **values: Any) -> str:
    """The page ``template`` as ``user`` (None: a visitor) sees it."""
    environment: Environment = request.registry[TEMPLATE_ENV]
    return environment.get_template(template).render(
        request=request,
        user=user,
        csrf_token=request.session.get_csrf_token() if user is not None else "",
        flashes=request.session.pop_flash() if user is not None else [],
        links=_links(request),
        **values,
    )


def html_response(page: str | bytes, status: int = 200) -> Response:
    """An HTML page; ``page`` as text, or already encoded in UTF-8."""
    return Response(page, status=status, content_type="text/html", charset="utf-8")


def form_html(rendered: str) -> Markup:
    """deform renders with its own (escaping) templates; only its output is marked safe."""
    return Markup(rendered)  # noqa: S704 - deform escapes every value it renders


def includeme(config: Configurator) -> None:
    reload_templates = asbool(config.get_settings().get("pyramid.reload_templates", False))
    settings = config.registry["camauth.settings"]
    environment = make_environment(reload_templates, settings.templates_directory)
    # the site's name and logo on every page and in every mail
    environment.globals["brand"] = {"name": settings.site_name, "logo": settings.logo_path}
    config.registry[TEMPLATE_ENV] = environment
    config.registry[_LINKS_CACHE] = {}
    # pages rendered once and filled per request (web/stencil.py), unless templates
    # reload: an edited template must show at once
    keep_stencils(config.registry, keep=not reload_templates)
