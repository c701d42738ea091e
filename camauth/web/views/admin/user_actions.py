"""One-button actions on a user: ``/admin/users/{id}/<action>``.

Each action is a row of :data:`ACTIONS`. A POST does it. Destructive ones
(``confirm``) are first asked on a page of their own, which a GET shows; the
others are buttons on the user's page, and a GET of their URL just goes back
there. ``reauth`` actions change credentials and need the administrator's recent
authentication. Refusals (the last administrator, yourself) come back as a 400
page that says why and changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import deform
from pyramid.config import Configurator
from pyramid.request import Request
from pyramid.response import Response

from ....models import User, UserStatus
from ....services import accounts, lockout, mfa, passkeys, serial, sessions
from ....services.accounts import AccountError
from ....services.context import Context
from ....services.mfa import TwoFactorError
from ...forms import DESTRUCTIVE, confirm_schema, form_controls, make_form
from ...mail import send_changed_by_administrator
from ...navigation import RecordNotFound, see_other
from ...reauth import ask_again_unless_recent
from ...rendering import form_html
from ...security import ADMIN
from .common import confirm_page, target_user, user_url


@dataclass(frozen=True)
class UserAction:
    slug: str  # the last part of the URL
    button: str
    question: str  # the confirmation page's heading; {username} is filled in
    consequence: str  # what will happen, said on the confirmation page
    done: str  # the message afterwards; {username} is filled in
    run: Callable[[Request, User], str | None]  # a message instead of ``done``, if any
    # whether the user's page offers it now; the context, for what the user row
    # does not hold (their passkeys)
    applies: Callable[[Context, User], bool]
    confirm: bool = False
    reauth: bool = False
    ends_sessions: bool = False  # on one's own account it logs the administrator out
    back_to_list: bool = False  # the user is gone afterwards

    @property
    def route(self) -> str:
        return "camauth.admin.user." + self.slug.replace("-", "_")


def _disable(request: Request, user: User) -> None:
    accounts.set_status(request.camauth, user, UserStatus.DISABLED)


def _enable(request: Request, user: User) -> None:
    accounts.set_status(request.camauth, user, UserStatus.ACTIVE)


def _approve(request: Request, user: User) -> None:
    accounts.approve(request.camauth, user)


def _unlock(request: Request, user: User) -> str | None:
    if not lockout.unlock(request.camauth, user.username_key, user):
        return f"{user.username} was not locked out: nothing was changed."
    return None


def _force_change(request: Request, user: User) -> None:
    accounts.force_password_change(request.camauth, user)


def _end_sessions(request: Request, user: User) -> None:
    sessions.end_user_sessions(request.camauth, user)


def _remove_two_factor(request: Request, user: User) -> None:
    keep = request.session.session_id if user.id == request.user.id else None
    mfa.remove(request.camauth, user, keep_session_id=keep)
    send_changed_by_administrator(request, user, "removed two-factor authentication")


def _grant_admin(request: Request, user: User) -> None:
    accounts.set_admin(request.camauth, user, True)


def _revoke_admin(request: Request, user: User) -> None:
    accounts.set_admin(request.camauth, user, False)


def _delete(request: Request, user: User) -> None:
    accounts.delete_user(request.camauth, user)


def _has_second_factor(ctx: Context, user: User) -> bool:
    # an authenticator app or token, or passkeys (which the user row does not show)
    return user.has_two_factor or bool(passkeys.passkeys_of(ctx, user))


def _pending(_ctx: Context, user: User) -> bool:
    return user.status in (UserStatus.PENDING_APPROVAL.value, UserStatus.PENDING_EMAIL.value)


ACTIONS = (
    UserAction(
        "approve",
        "Approve",
        "Approve {username}?",
        "The account becomes active and can log in.",
        "{username} is approved and can log in.",
        _approve,
        _pending,
    ),
    UserAction(
        "enable",
        "Enable",
        "Enable {username}?",
        "The account can log in again.",
        "{username} is enabled.",
        _enable,
        lambda _ctx, user: user.status == UserStatus.DISABLED.value,
    ),
    UserAction(
        "unlock",
        "Unlock",
        "Unlock {username}?",
        "Every lockout of this username ends and its failure count starts again.",
        "{username} is unlocked.",
        _unlock,
        lambda _ctx, user: True,
    ),
    UserAction(
        "force-password-change",
        "Force password change",
        "Force {username} to change their password?",
        "At their next page view they must choose a new password before anything else.",
        "{username} must change their password at their next page view.",
        _force_change,
        lambda _ctx, user: not user.must_change_password and user.password_hash is not None,
    ),
    UserAction(
        "disable",
        "Disable",
        "Disable {username}?",
        "All of their sessions end at once and they cannot log in until enabled again.",
        "{username} is disabled and their sessions have ended.",
        _disable,
        lambda _ctx, user: user.status != UserStatus.DISABLED.value,
        confirm=True,
    ),
    UserAction(
        "end-sessions",
        "End all sessions",
        "End all sessions of {username}?",
        "They are logged out everywhere, command-line clients included.",
        "Every session of {username} has ended.",
        _end_sessions,
        lambda _ctx, user: True,
        confirm=True,
        ends_sessions=True,
    ),
    UserAction(
        "remove-two-factor",
        "Remove two-factor",
        "Remove two-factor authentication from {username}?",
        "Their authenticator app or token, their passkeys and their recovery codes stop "
        "working, and their sessions end. They log in with their password alone, and are "
        "asked to set up two-factor again if the site requires it. They are told by mail.",
        "Two-factor authentication was removed from {username}.",
        _remove_two_factor,
        _has_second_factor,
        confirm=True,
        reauth=True,
    ),
    UserAction(
        "grant-admin",
        "Make administrator",
        "Make {username} an administrator?",
        "They can then see and change every account, session and lockout here.",
        "{username} is now an administrator.",
        _grant_admin,
        lambda _ctx, user: not user.is_admin,
        confirm=True,
        reauth=True,
    ),
    UserAction(
        "revoke-admin",
        "Remove administrator rights",
        "Remove administrator rights from {username}?",
        "They keep their account but can no longer use this console.",
        "{username} is no longer an administrator.",
        _revoke_admin,
        lambda _ctx, user: user.is_admin,
        confirm=True,
    ),
    UserAction(
        "delete",
        "Delete",
        "Delete {username}?",
        "The account and its sessions are deleted for good. The audit log keeps its "
        "events under the username. This cannot be undone: disable the account "
        "instead if it may be needed again.",
        "{username} was deleted.",
        _delete,
        lambda _ctx, user: True,
        confirm=True,
        back_to_list=True,
    ),
)


# refused by the services for one's own account; not offered there either
NOT_ON_YOURSELF = frozenset({"disable", "delete", "revoke-admin"})
# may take away the last administrator: the services' lock on that is taken
# before the row's, as every such change takes them (accounts.hold_administrators)
MAY_REMOVE_AN_ADMINISTRATOR = frozenset({"disable", "delete", "revoke-admin"})


def _form(request: Request, action: UserAction, user: User) -> deform.Form:
    url = request.route_path(action.route, id=user.id)
    style = DESTRUCTIVE if action.confirm else "btn-primary"
    return make_form(
        confirm_schema(request), action.button, "confirm-" + action.slug, url, button_class=style
    )


def _confirm_page(
    request: Request, action: UserAction, user: User, status: int = 200, error: str = ""
) -> Response:
    rendered = "" if error else form_html(_form(request, action, user).render())
    return confirm_page(
        request,
        "users",
        action.question.format(username=user.username),
        action.consequence,
        rendered,
        user_url(request, user),
        f"Back to {user.username}",
        status,
        error,
    )


def _ask_again(request: Request, action: UserAction, user: User) -> Response | None:
    if not action.reauth:
        return None
    return ask_again_unless_recent(request, request.route_path(action.route, id=user.id))


def _show(action: UserAction) -> Callable[[Request], Response]:
    def show(request: Request) -> Response:
        user = target_user(request)
        if not action.confirm:
            return see_other(user_url(request, user))
        return _ask_again(request, action, user) or _confirm_page(request, action, user)

    return show


def _perform(action: UserAction) -> Callable[[Request], Response]:
    def perform(request: Request) -> Response:
        user = target_user(request)
        try:
            _form(request, action, user).validate(form_controls(request))
        except deform.ValidationFailure:
            return _confirm_page(request, action, user, 400, "The form was not complete.")
        ask_again = _ask_again(request, action, user)
        if ask_again is not None:
            return ask_again
        if action.slug in MAY_REMOVE_AN_ADMINISTRATOR:
            accounts.hold_administrators(request.camauth)
        if not serial.hold_row(request.camauth, user):
            raise RecordNotFound("There is no such user: it may have been deleted.")
        if not action.applies(request.camauth, user):
            # decided on the row as committed now, locked: of two identical requests
            # at once (a double click) the second waits, then finds nothing to do.
            # The page was stale (another administrator acted first) or forged
            message = f"This does not apply to {user.username} as things stand now."
            return _confirm_page(request, action, user, 409, message)
        username = user.username
        try:
            instead = action.run(request, user)
        except (AccountError, TwoFactorError) as refused:
            return _confirm_page(request, action, user, 400, str(refused))
        if action.ends_sessions and user.id == request.user.id:
            # the administrator's own session ended with the others
            return see_other(request.route_path("camauth.login"))
        request.session.flash(instead or action.done.format(username=username))
        if action.back_to_list:
            return see_other(request.route_path("camauth.admin.users"))
        return see_other(user_url(request, user))

    return perform


def add_user_action_routes(config: Configurator) -> None:
    for action in ACTIONS:
        config.add_route(action.route, rf"/admin/users/{{id:\d{{1,10}}}}/{action.slug}")
        config.add_view(
            _show(action), route_name=action.route, request_method="GET", permission=ADMIN
        )
        config.add_view(
            _perform(action), route_name=action.route, request_method="POST", permission=ADMIN
        )
