"""The Pyramid side of camauth: session, security policy, headers, views."""

from __future__ import annotations

from pyramid.config import Configurator
from pyramid.events import ApplicationCreated
from pyramid.tweens import INGRESS, MAIN

from .bearer import skip_csrf_for_bearer
from .context import service_context
from .request_class import bake_request_properties
from .routing import use_indexed_routes
from .security import SecurityPolicy, request_user
from .session_factory import session_factory


def includeme(config: Configurator) -> None:
    use_indexed_routes(config)
    config.add_subscriber(bake_request_properties, ApplicationCreated)
    config.include(".access")
    config.include(".rendering")
    config.include(".mail")
    config.set_session_factory(session_factory)
    config.set_security_policy(SecurityPolicy())
    config.set_default_csrf_options(require_csrf=True, callback=skip_csrf_for_bearer)
    config.add_request_method(request_user, "user", reify=True)
    config.add_request_method(service_context, "camauth", reify=True)
    config.add_tween("camauth.web.headers.security_headers_tween_factory")
    # under the exception view: its refusals are rendered like any other error
    config.add_tween("camauth.web.bearer.bearer_tween_factory", over=MAIN)
    # outermost: nothing may read the host or scheme before it is set
    config.add_tween("camauth.web.public_origin.public_origin_tween_factory", under=INGRESS)

    config.add_route("camauth.login", "/login")
    config.add_route("camauth.login.two_factor", "/login/two-factor")
    config.add_route("camauth.login.recovery_code", "/login/recovery-code")
    config.add_route("camauth.login.passkey", "/login/passkey")
    config.add_route("camauth.login.passkey.options", "/login/passkey/options")
    config.add_route("camauth.login.two_factor.passkey", "/login/two-factor/passkey")
    config.add_route(
        "camauth.login.two_factor.passkey.options", "/login/two-factor/passkey/options"
    )
    config.add_route("camauth.login.oidc", r"/login/oidc/{name:[a-z0-9][a-z0-9_-]{0,31}}")
    config.add_route(
        "camauth.login.oidc.callback", r"/login/oidc/{name:[a-z0-9][a-z0-9_-]{0,31}}/callback"
    )
    config.add_route("camauth.logout", "/logout")
    config.add_route("camauth.account", "/account")
    config.add_route("camauth.account.profile", "/account/profile")
    config.add_route("camauth.account.email", "/account/email")
    config.add_route("camauth.account.email.confirm", "/account/email/confirm/{token}")
    config.add_route("camauth.account.password", "/account/password")
    config.add_route("camauth.account.terms", "/account/terms")
    config.add_route("camauth.account.two_factor", "/account/two-factor")
    config.add_route("camauth.account.two_factor.disable", "/account/two-factor/disable")
    config.add_route("camauth.account.recovery_codes", "/account/two-factor/recovery-codes")
    config.add_route(
        "camauth.account.recovery_codes.download", "/account/two-factor/recovery-codes.txt"
    )
    config.add_route(
        "camauth.account.recovery_codes.saved", "/account/two-factor/recovery-codes/saved"
    )
    config.add_route("camauth.reauthenticate", "/account/reauthenticate")
    config.add_route("camauth.reauthenticate.passkey", "/account/reauthenticate/passkey")
    config.add_route(
        "camauth.reauthenticate.passkey.options", "/account/reauthenticate/passkey/options"
    )
    config.add_route("camauth.account.linked", "/account/linked")
    config.add_route(
        "camauth.account.linked.link", r"/account/linked/link/{name:[a-z0-9][a-z0-9_-]{0,31}}"
    )
    config.add_route("camauth.account.linked.unlink", r"/account/linked/{id:\d{1,10}}/unlink")
    config.add_route("camauth.account.passkeys", "/account/passkeys")
    config.add_route("camauth.account.passkeys.options", "/account/passkeys/options")
    config.add_route("camauth.account.passkeys.rename", r"/account/passkeys/{id:\d{1,10}}/rename")
    config.add_route("camauth.account.passkeys.remove", r"/account/passkeys/{id:\d{1,10}}/remove")
    config.add_route("camauth.account.sessions", "/account/sessions")
    config.add_route("camauth.account.sessions.end", r"/account/sessions/{id:\d{1,10}}/end")
    config.add_route("camauth.account.sessions.end_others", "/account/sessions/end-others")
    config.add_route("camauth.password.forgot", "/password/forgot")
    config.add_route("camauth.password.reset", "/password/reset/{token}")
    config.add_route("camauth.password.set", "/password/set/{token}")
    config.add_route("camauth.register", "/register")
    config.add_route("camauth.register.verify", "/register/verify/{token}")
    config.add_route("camauth.healthz", "/healthz")
    config.add_route("camauth.device", "/device")
    config.add_route("camauth.device.confirm", "/device/confirm")
    config.add_route("camauth.oauth.device_authorization", "/oauth/device_authorization")
    config.add_route("camauth.oauth.token", "/oauth/token")
    config.add_route("camauth.api.me", "/api/v1/me")
    config.add_route("camauth.api.sessions", "/api/v1/sessions")
    config.add_route("camauth.api.session_by_id", "/api/v1/sessions/{id}")
    config.add_route("camauth.api.this_session", "/api/v1/session")
    config.add_route("camauth.api.openapi", "/api/v1/openapi.json")
    config.scan(".views.login")
    config.scan(".views.oidc_login")
    config.scan(".views.linked_logins")
    config.scan(".views.account")
    config.scan(".views.my_sessions")
    config.scan(".views.account_centre")
    config.scan(".views.email_confirm")
    config.scan(".views.invitation")
    config.scan(".views.two_factor_login")
    config.scan(".views.passkey_login")
    config.scan(".views.passkeys")
    config.scan(".views.passkey_reauth")
    config.scan(".views.two_factor")
    config.scan(".views.reauth")
    config.scan(".views.recovery")
    config.scan(".views.register")
    config.scan(".views.health")
    config.scan(".views.device_approval")
    config.scan(".views.oauth")
    config.scan(".views.api")
    config.scan(".views.errors")
    config.include(".views.admin")
