"""A change of email address: the mails it sends, and the mailed link's page
(``/account/email/confirm/{token}``), which works in any browser, logged in or
not: following the link proves the mailbox, and the request was made by someone
logged in as the account."""

from __future__ import annotations

import deform
from pyramid.request import Request
from pyramid.response import Response
from pyramid.view import view_config

from ...services.account_fields import AccountError
from ...services.profile import EmailChangeMail, check_email_change, confirm_email_change
from ...services.tokens import LinkError
from ..forms import confirm_schema, form_controls, make_form
from ..mail import public_url, send_mail
from ..navigation import see_other
from ..refusals import link_problem_page
from ..rendering import form_html, render_page

CONFIRM = "camauth.account.email.confirm"


def send_email_change_mails(request: Request, mail: EmailChangeMail) -> None:
    username = mail.user.username
    if mail.token is not None:
        link = public_url(request, CONFIRM, token=mail.token)
        send_mail(request, mail.new_address, "Confirm your new email address",
                  "email_change.txt", username=username, link=link,
                  hours=mail.valid_hours)  # fmt: skip
    else:
        send_mail(request, mail.new_address, "This address already has an account",
                  "email_change_taken.txt", username=username)  # fmt: skip
    if mail.old_address:
        send_mail(request, mail.old_address, "A new email address was asked for",
                  "email_change_notice.txt", username=username, new_address=mail.new_address,
                  recover=public_url(request, "camauth.password.forgot"))  # fmt: skip


def _form(request: Request) -> deform.Form:
    action = request.route_path(CONFIRM, token=request.matchdict["token"])
    return make_form(confirm_schema(request), "Confirm", "confirm-email-change", action)


@view_config(route_name=CONFIRM, request_method="GET")
def confirm_page(request: Request) -> Response:
    """The link's page only asks: mail scanners open every link in a mail."""
    try:
        user = check_email_change(request.camauth, request.matchdict["token"])
    except LinkError as problem:
        return link_problem_page(request, problem, CONFIRM)
    return render_page(
        request,
        "email_change_confirm.html",
        form=form_html(_form(request).render()),
        username=user.username,
        address=user.unconfirmed_email,
    )


@view_config(route_name=CONFIRM, request_method="POST")
def confirm(request: Request) -> Response:
    try:
        _form(request).validate(form_controls(request))
    except deform.ValidationFailure:
        return see_other(request.path)  # nothing done: show the page again
    try:
        user, _old = confirm_email_change(request.camauth, request.matchdict["token"])
    except LinkError as problem:
        return link_problem_page(request, problem, CONFIRM)
    except AccountError as refused:
        request.tm.doom()
        return render_page(request, "error.html", status=409, title="Cannot change the address",
                           message=str(refused))  # fmt: skip
    if request.user is not None and request.user.id == user.id:
        request.session.flash(f"Your email address is now {user.email}.")
        return see_other(request.route_path("camauth.account"))
    return see_other(request.route_path("camauth.login", _query={"notice": "email-changed"}))
