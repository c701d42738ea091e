"""Self-service registration as a service (PRODUCT §2, §10): modes, links, limits, clean-up.

Runs on both databases with real argon2id and the fake clock; nothing sleeps.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from camauth.models import AccountToken, MailRequest, TokenPurpose, User, UserStatus
from camauth.services import accounts, housekeeping, registration, tokens
from camauth.services.accounts import AccountError
from camauth.services.authentication import Outcome, authenticate
from camauth.services.mail_limits import TooManyRequests
from camauth.services.password_policy import PasswordPolicyError
from camauth.services.registration import RegistrationClosed
from camauth.services.tokens import LinkError, LinkProblem

from ..conftest import GOOD_PASSWORD
from .conftest import USER_IP, add_user, event_names, from_ip, with_settings

OTHER_PASSWORD = "purple elephants dance quietly"


@pytest.fixture
def open_ctx(ctx):
    return with_settings(from_ip(ctx, USER_IP), registration="open")


@pytest.fixture
def approval_ctx(ctx):
    return with_settings(from_ip(ctx, USER_IP), registration="approval")


def sign_up(ctx, username="bob", email=None, password=GOOD_PASSWORD):
    """Register and commit, as the registration request would."""
    mail = registration.register(ctx, username, email or f"{username}@example.org", password)
    ctx.db.commit()
    return mail


def status_of(ctx, username):
    user = accounts.find_user(ctx, username)
    if user is None:
        return None
    ctx.db.refresh(user)
    return user.status


def user_count(ctx):
    return ctx.db.scalar(select(func.count()).select_from(User))


def mail_requests(ctx):
    return ctx.db.scalars(select(MailRequest).order_by(MailRequest.id)).all()


# --- closed -------------------------------------------------------------------------


def test_closed_is_the_default_and_refuses(ctx):
    """With no setting, registration is closed and creates nothing, not even a rate row."""
    assert ctx.settings.registration == "closed"
    with pytest.raises(RegistrationClosed):
        registration.register(ctx, "bob", "bob@example.org", GOOD_PASSWORD)
    ctx.db.flush()
    assert user_count(ctx) == 0
    assert mail_requests(ctx) == []


def test_closed_refuses_even_for_an_existing_address(ctx):
    """Closed means closed: no notice mail to the owner of an address either."""
    add_user(ctx, "alice", email="alice@example.org")
    with pytest.raises(RegistrationClosed):
        registration.register(ctx, "bob", "alice@example.org", GOOD_PASSWORD)
    assert mail_requests(ctx) == []


# --- open ---------------------------------------------------------------------------


def test_open_registration_creates_a_pending_email_account(open_ctx, clock):
    """The new account waits for its email and the mail carries a link token."""
    mail = sign_up(open_ctx, "Bob", "Bob@Example.org")
    assert mail is not None
    assert (mail.email, mail.username, mail.valid_hours) == ("Bob@Example.org", "Bob", 24)
    assert mail.token and len(mail.token) >= 40
    user = accounts.find_user(open_ctx, "bob")
    assert user.status == UserStatus.PENDING_EMAIL.value
    assert user.created_at == clock()
    assert open_ctx.passwords.verify(user.password_hash, GOOD_PASSWORD).ok
    assert event_names(open_ctx) == ["user_registered"]
    # the link's row keeps only a digest, never the token itself
    row = open_ctx.db.scalars(select(AccountToken)).one()
    assert row.purpose == TokenPurpose.VERIFY_EMAIL.value
    assert row.token_digest != mail.token
    assert row.expires_at == clock() + timedelta(hours=24)


def test_pending_email_account_cannot_log_in(open_ctx):
    """Before the link is followed, the right password is told 'pending', not let in."""
    sign_up(open_ctx)
    result = authenticate(open_ctx, "bob", GOOD_PASSWORD)
    assert result.outcome is Outcome.PENDING
    assert authenticate(open_ctx, "bob", OTHER_PASSWORD).outcome is Outcome.INVALID


def test_following_the_link_in_open_mode_activates(open_ctx):
    """open: the link makes the account active and it can log in."""
    mail = sign_up(open_ctx)
    user = registration.verify_email(open_ctx, mail.token)
    open_ctx.db.commit()
    assert user.username == "bob"
    assert status_of(open_ctx, "bob") == UserStatus.ACTIVE.value
    assert event_names(open_ctx) == ["user_registered", "email_verified"]
    assert authenticate(open_ctx, "bob", GOOD_PASSWORD).outcome is Outcome.OK


def test_following_the_link_in_approval_mode_waits_for_an_administrator(approval_ctx):
    """approval: the link leads to pending_approval; only approve() activates."""
    mail = sign_up(approval_ctx)
    registration.verify_email(approval_ctx, mail.token)
    approval_ctx.db.commit()
    assert status_of(approval_ctx, "bob") == UserStatus.PENDING_APPROVAL.value
    assert authenticate(approval_ctx, "bob", GOOD_PASSWORD).outcome is Outcome.PENDING

    accounts.approve(approval_ctx, accounts.find_user(approval_ctx, "bob"))
    approval_ctx.db.commit()
    assert status_of(approval_ctx, "bob") == UserStatus.ACTIVE.value
    assert event_names(approval_ctx) == ["user_registered", "email_verified", "user_approved"]
    assert authenticate(approval_ctx, "bob", GOOD_PASSWORD).outcome is Outcome.OK


@pytest.mark.parametrize("status", [UserStatus.ACTIVE, UserStatus.DISABLED])
def test_approve_refuses_accounts_that_do_not_wait(approval_ctx, status):
    """approve() is only for accounts that wait; it does not re-enable a disabled one."""
    add_user(approval_ctx, "carol", status=status)
    with pytest.raises(AccountError, match="not waiting for approval"):
        accounts.approve(approval_ctx, accounts.find_user(approval_ctx, "carol"))
    assert status_of(approval_ctx, "carol") == status.value


# --- the link -----------------------------------------------------------------------


def test_link_works_until_just_before_verify_hours(open_ctx, clock):
    """The link is still good a moment before its lifetime ends."""
    mail = sign_up(open_ctx)
    clock.advance(hours=24, microseconds=-1)
    registration.verify_email(open_ctx, mail.token)
    assert status_of(open_ctx, "bob") == UserStatus.ACTIVE.value


def test_link_expires_at_exactly_verify_hours(open_ctx, clock):
    """At exactly verify_hours the link is expired and the account stays pending."""
    mail = sign_up(open_ctx)
    clock.advance(hours=24)
    with pytest.raises(LinkError) as caught:
        registration.verify_email(open_ctx, mail.token)
    assert caught.value.problem is LinkProblem.EXPIRED
    assert status_of(open_ctx, "bob") == UserStatus.PENDING_EMAIL.value


def test_link_lifetime_follows_the_setting(open_ctx, clock):
    """registration.verify_hours sets both the mail's promise and the real expiry."""
    short = with_settings(open_ctx, registration_verify_hours=2)
    mail = sign_up(short)
    assert mail.valid_hours == 2
    clock.advance(hours=2)
    with pytest.raises(LinkError) as caught:
        registration.verify_email(short, mail.token)
    assert caught.value.problem is LinkProblem.EXPIRED


def test_link_is_single_use(open_ctx):
    """A second click on the same link is refused as used and changes nothing."""
    mail = sign_up(open_ctx)
    registration.verify_email(open_ctx, mail.token)
    open_ctx.db.commit()
    with pytest.raises(LinkError) as caught:
        registration.verify_email(open_ctx, mail.token)
    assert caught.value.problem is LinkProblem.USED
    assert event_names(open_ctx).count("email_verified") == 1


@pytest.mark.parametrize("token", ["", "x", "A" * 43, "z" * 201, "ü" * 10_000, "../../etc"])
def test_unknown_links_are_refused(open_ctx, token):
    """Made-up, empty and oversized tokens are simply unknown."""
    sign_up(open_ctx)
    with pytest.raises(LinkError) as caught:
        registration.verify_email(open_ctx, token)
    assert caught.value.problem is LinkProblem.UNKNOWN
    assert status_of(open_ctx, "bob") == UserStatus.PENDING_EMAIL.value


def test_a_password_reset_token_is_not_a_verification_link(open_ctx):
    """Tokens are bound to their purpose: a reset link cannot confirm an address."""
    sign_up(open_ctx)
    user = accounts.find_user(open_ctx, "bob")
    reset = tokens.issue(open_ctx, user, TokenPurpose.PASSWORD_RESET, timedelta(hours=1))
    with pytest.raises(LinkError) as caught:
        registration.verify_email(open_ctx, reset)
    assert caught.value.problem is LinkProblem.UNKNOWN
    assert status_of(open_ctx, "bob") == UserStatus.PENDING_EMAIL.value


def test_link_of_an_account_approved_meanwhile_is_spent_and_changes_nothing(approval_ctx):
    """An administrator approved first: the later click neither demotes nor re-audits."""
    mail = sign_up(approval_ctx)
    accounts.approve(approval_ctx, accounts.find_user(approval_ctx, "bob"))
    approval_ctx.db.commit()
    registration.verify_email(approval_ctx, mail.token)
    approval_ctx.db.commit()
    assert status_of(approval_ctx, "bob") == UserStatus.ACTIVE.value
    assert "email_verified" not in event_names(approval_ctx)
    with pytest.raises(LinkError):
        registration.verify_email(approval_ctx, mail.token)


def test_link_of_a_disabled_account_does_not_enable_it(open_ctx):
    """Disabling a pending registration is final: its link cannot make it active."""
    mail = sign_up(open_ctx)
    accounts.set_status(open_ctx, accounts.find_user(open_ctx, "bob"), UserStatus.DISABLED)
    open_ctx.db.commit()
    registration.verify_email(open_ctx, mail.token)
    assert status_of(open_ctx, "bob") == UserStatus.DISABLED.value


# --- refusals -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("username", "message"),
    [
        ("", "Enter a username."),
        ("bad name", "A username contains only letters, digits and . _ - @"),
        ("smile😀", "A username contains only letters, digits and . _ - @"),
        ("x" * 151, "A username has at most 150 characters."),
        ("SYSTEM", "The username 'SYSTEM' is reserved."),
    ],
)
def test_bad_usernames_are_refused(open_ctx, username, message):
    """Each bad username gets its own message and creates nothing."""
    with pytest.raises(AccountError) as caught:
        registration.register(open_ctx, username, "new@example.org", GOOD_PASSWORD)
    assert str(caught.value) == message
    assert user_count(open_ctx) == 0


@pytest.mark.parametrize("username", ["alice", "ALICE", " Alice "])
def test_taken_username_is_refused_case_insensitively(open_ctx, username):
    """A username that exists in any case is taken."""
    add_user(open_ctx, "alice", email="alice@example.org")
    with pytest.raises(AccountError, match=r"^That username is already taken\.$"):
        registration.register(open_ctx, username, "new@example.org", GOOD_PASSWORD)
    assert user_count(open_ctx) == 1


@pytest.mark.parametrize(
    ("email", "message"),
    [
        ("", "Enter an email address."),
        ("not-an-address", "Enter an email address such as name@example.org."),
        ("a@b@example.org", "Enter an email address such as name@example.org."),
        (
            "bob@example.org\nBcc: x@evil.example",
            "Enter an email address such as name@example.org.",
        ),
        ("b" * 250 + "@example.org", "An email address has at most 254 characters."),
    ],
)
def test_bad_email_is_refused(open_ctx, email, message):
    """Each bad address gets a message; header-injection attempts are bad addresses."""
    with pytest.raises(AccountError) as caught:
        registration.register(open_ctx, "bob", email, GOOD_PASSWORD)
    assert str(caught.value) == message
    assert user_count(open_ctx) == 0


@pytest.mark.parametrize(
    ("password", "fragment"),
    [
        ("short pass", "Use at least 12 characters"),
        ("bobsled racing team", "Do not use your username in your password."),
        ("quiet robert wins gold", "Do not use your email address in your password."),
        ("password1234", "commonly used and leaked passwords"),
        ("aaaaaaaaaaaaaaaa", "would be very easy to guess"),
    ],
)
def test_password_policy_applies(open_ctx, password, fragment):
    """Every policy refusal stops the registration with its own advice."""
    with pytest.raises(PasswordPolicyError, match=fragment):
        registration.register(open_ctx, "bob", "robert@example.org", password)
    assert user_count(open_ctx) == 0


# --- an address that already has an account ------------------------------------------


def test_existing_address_gets_a_notice_and_a_sign_up_like_any_other(open_ctx):
    """The same state as a new address leaves (the username is reserved by a sign-up
    that is pending), but no link exists: only the owner hears of it."""
    add_user(open_ctx, "alice", email="alice@example.org")
    mail = sign_up(open_ctx, "bob", " ALICE@example.ORG ")
    assert mail is not None
    assert (mail.email, mail.username, mail.token) == ("alice@example.org", "alice", None)
    bob = accounts.find_user(open_ctx, "bob")
    assert bob is not None and bob.status == UserStatus.PENDING_EMAIL.value
    assert (bob.email, bob.unconfirmed_email) == (None, "ALICE@example.ORG")
    assert "user_registered" in event_names(open_ctx)
    # a decoy token (it costs the same) that no link can use
    assert [token.user_id for token in open_ctx.db.scalars(select(AccountToken))] == [None]
    owner = accounts.find_user(open_ctx, "alice")
    assert [(r.user_id, r.mailed) for r in mail_requests(open_ctx)] == [(owner.id, True)]
    # the username is taken either way, so trying it again tells nothing
    with pytest.raises(AccountError, match="already taken"):
        registration.register(open_ctx, "bob", "new@example.org", GOOD_PASSWORD)


def test_existing_address_still_gets_the_password_refusals(open_ctx):
    """A weak password is refused for a taken address too, so the answers cannot differ."""
    add_user(open_ctx, "alice", email="alice@example.org")
    with pytest.raises(PasswordPolicyError, match="Use at least 12 characters"):
        registration.register(open_ctx, "bob", "alice@example.org", "short")
    with pytest.raises(PasswordPolicyError, match="Do not use your email address"):
        registration.register(open_ctx, "bob", "alice@example.org", "alice in wonderland")


def test_existing_address_checks_the_password_against_the_normalised_name(open_ctx):
    """A fullwidth 'bob' is stored as 'bob'; the refusal must not depend on the address."""
    fullwidth_bob = "\uff42\uff4f\uff42"
    add_user(open_ctx, "alice", email="alice@example.org")
    message = "Do not use your username in your password."
    with pytest.raises(PasswordPolicyError, match=message):
        registration.register(open_ctx, fullwidth_bob, "new@example.org", "bobsled racing team")
    with pytest.raises(PasswordPolicyError, match=message):
        registration.register(open_ctx, fullwidth_bob, "alice@example.org", "bobsled racing team")


def test_notices_to_an_existing_owner_are_limited_per_hour(open_ctx, clock):
    """Nobody can flood an owner's inbox: after the hourly limit nothing is mailed."""
    add_user(open_ctx, "alice", email="alice@example.org")
    limit = open_ctx.settings.mail_account_limit_per_hour
    for number in range(limit):
        assert sign_up(open_ctx, f"bob{number}", "alice@example.org") is not None
    assert sign_up(open_ctx, "bobextra", "alice@example.org") is None
    assert [r.mailed for r in mail_requests(open_ctx)] == [True] * limit + [False]
    clock.advance(hours=1)
    assert sign_up(open_ctx, "boblater", "alice@example.org") is not None
    # alice, and the newest sign-up with her address (each ended the one before)
    assert user_count(open_ctx) == 2


# --- resending the link ----------------------------------------------------------------


def test_resend_gives_a_new_working_link(open_ctx, clock):
    """A pending_email account gets a fresh link, good for verify_hours from now."""
    first = sign_up(open_ctx)
    clock.advance(hours=23)
    user = accounts.find_user(open_ctx, "bob")
    again = registration.resend_verification(open_ctx, user)
    open_ctx.db.commit()
    assert again is not None and again.token not in (None, first.token)
    assert (again.email, again.username) == ("bob@example.org", "bob")
    clock.advance(hours=2)  # the first link is now expired, the new one is not
    with pytest.raises(LinkError):
        registration.verify_email(open_ctx, first.token)
    registration.verify_email(open_ctx, again.token)
    assert status_of(open_ctx, "bob") == UserStatus.ACTIVE.value


def test_resend_is_limited_per_account_per_hour(open_ctx, clock):
    """The registration mail counts; after the hourly limit resends mail nothing."""
    sign_up(open_ctx)
    user = accounts.find_user(open_ctx, "bob")
    limit = open_ctx.settings.mail_account_limit_per_hour
    sent = [registration.resend_verification(open_ctx, user) for _ in range(limit)]
    assert [mail is not None for mail in sent] == [True] * (limit - 1) + [False]
    assert len(open_ctx.db.scalars(select(AccountToken)).all()) == limit
    clock.advance(hours=1)
    assert registration.resend_verification(open_ctx, user) is not None


@pytest.mark.parametrize("status", [UserStatus.ACTIVE, UserStatus.PENDING_APPROVAL])
def test_resend_only_for_accounts_waiting_for_their_email(open_ctx, status):
    """Active or approval-waiting accounts get no verification link."""
    user = add_user(open_ctx, "carol", email="carol@example.org", status=status)
    assert registration.resend_verification(open_ctx, user) is None
    assert open_ctx.db.scalars(select(AccountToken)).all() == []


# --- per-address limit ----------------------------------------------------------------


def test_too_many_registrations_from_one_address(open_ctx, clock):
    """After mail.ip_limit_per_hour registrations an address must wait an hour."""
    limit = open_ctx.settings.mail_ip_limit_per_hour
    start = clock()
    for number in range(limit):
        sign_up(open_ctx, f"user{number}")
        clock.advance(minutes=1)
    with pytest.raises(TooManyRequests) as caught:
        registration.register(open_ctx, "oneTooMany", "more@example.org", GOOD_PASSWORD)
    assert caught.value.until == start + timedelta(hours=1)
    assert accounts.find_user(open_ctx, "oneTooMany") is None
    # another address is not affected, and the first may go on once the hour has passed
    assert sign_up(from_ip(open_ctx, "192.0.2.99"), "elsewhere") is not None
    clock.now = start + timedelta(hours=1)
    assert sign_up(open_ctx, "oneTooMany") is not None


def test_refused_registrations_count_towards_the_address_limit(open_ctx):
    """Refusals are counted too, or the form would be a free oracle for taken names."""
    limit = open_ctx.settings.mail_ip_limit_per_hour
    for _ in range(limit):
        with pytest.raises(PasswordPolicyError):
            registration.register(open_ctx, "bob", "bob@example.org", "short")
    with pytest.raises(TooManyRequests):
        sign_up(open_ctx)


# --- clean-up of unverified registrations ------------------------------------------------


def test_cleanup_deletes_registrations_whose_links_all_expired(open_ctx, clock):
    """A week after its link expired an unconfirmed account goes, audited, freeing name
    and address (until then logging in with the password mails a new link)."""
    sign_up(open_ctx)
    bob_id = accounts.find_user(open_ctx, "bob").id
    clock.advance(hours=24, days=7)
    counts = housekeeping.cleanup(open_ctx)
    open_ctx.db.commit()
    assert counts["unverified registrations"] == 1
    assert accounts.find_user(open_ctx, "bob") is None
    assert open_ctx.db.get(User, bob_id) is None
    assert event_names(open_ctx)[-1] == "user_deleted"
    assert sign_up(open_ctx) is not None  # the name and address are free again


def test_cleanup_keeps_a_registration_until_unconfirmed_days_have_passed(open_ctx, clock):
    """Not a moment early: for registration.unconfirmed_days (7) the sign-up stays."""
    sign_up(open_ctx)
    clock.advance(days=7, microseconds=-1)
    assert registration.delete_unverified(open_ctx) == 0
    assert status_of(open_ctx, "bob") == UserStatus.PENDING_EMAIL.value
    clock.advance(microseconds=1)
    assert registration.delete_unverified(open_ctx) == 1


def test_cleanup_keeps_a_registration_with_a_resent_live_link(open_ctx, clock):
    """A link resent later keeps the account until that link expires too."""
    sign_up(open_ctx)
    clock.advance(hours=20)
    resent = registration.resend_verification(open_ctx, accounts.find_user(open_ctx, "bob"))
    open_ctx.db.commit()
    clock.advance(hours=10)
    assert housekeeping.cleanup(open_ctx)["unverified registrations"] == 0
    open_ctx.db.commit()
    registration.verify_email(open_ctx, resent.token)  # the live link still works
    assert status_of(open_ctx, "bob") == UserStatus.ACTIVE.value
    clock.advance(hours=30)
    assert registration.delete_unverified(open_ctx) == 0


@pytest.mark.parametrize(
    ("mode", "status"), [("open", UserStatus.ACTIVE), ("approval", UserStatus.PENDING_APPROVAL)]
)
def test_cleanup_never_deletes_confirmed_accounts(ctx, clock, mode, status):
    """Accounts whose address was confirmed (or that never needed it) stay forever."""
    mode_ctx = with_settings(from_ip(ctx, USER_IP), registration=mode)
    add_user(mode_ctx, "old", email="old@example.org")
    mail = sign_up(mode_ctx)
    registration.verify_email(mode_ctx, mail.token)
    mode_ctx.db.commit()
    clock.advance(days=30)
    assert housekeeping.cleanup(mode_ctx)["unverified registrations"] == 0
    mode_ctx.db.commit()
    assert status_of(mode_ctx, "old") == UserStatus.ACTIVE.value
    assert status_of(mode_ctx, "bob") == status.value
