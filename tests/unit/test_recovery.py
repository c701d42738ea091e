"""Forgotten password by mail (PRODUCT §3), at the service level with the fake clock."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from sqlalchemy import MetaData, func, select

from camauth.models import (
    UNTRUSTED_SCOPE,
    AccountToken,
    MailRequest,
    TokenPurpose,
    UserStatus,
    WebSession,
)
from camauth.services import accounts, audit, lockout, recovery, sessions, tokens
from camauth.services.audit import Event
from camauth.services.authentication import Outcome, authenticate
from camauth.services.mail_limits import TooManyRequests
from camauth.services.password_policy import PasswordPolicyError
from camauth.services.tokens import LinkError, LinkProblem

from ..conftest import GOOD_PASSWORD
from .conftest import ATTACKER_IP, USER_IP, add_user, failure_rows, from_ip, with_settings

NEW_PASSWORD = "maple orbit lantern quietly"
WRONG = "not the password at all"


@pytest.fixture
def user_ctx(ctx):
    """A context for requests from the person's own address."""
    return from_ip(ctx, USER_IP)


def add_alice(ctx, **kw):
    kw.setdefault("email", "alice@example.org")
    return add_user(ctx, "alice", **kw)


def ask(ctx, login="alice"):
    mail = recovery.request_reset(ctx, login)
    ctx.db.commit()
    return mail


def problem_of(ctx, token: str) -> LinkProblem:
    with pytest.raises(LinkError) as caught:
        recovery.check_reset_link(ctx, token)
    return caught.value.problem


def requested_events(ctx) -> list[dict]:
    return [e.details for e in reversed(audit.events(ctx, event="password_reset_requested"))]


def token_rows(ctx) -> list[AccountToken]:
    """The stored links that could open an account (decoys belong to no one)."""
    query = select(AccountToken).where(AccountToken.user_id.is_not(None))
    return list(ctx.db.scalars(query.order_by(AccountToken.id)))


# --- the link ------------------------------------------------------------------------


def test_request_for_an_active_account_with_email_gives_a_mail(user_ctx):
    """The mail goes to the account's address and carries a fresh token valid 30 minutes."""
    alice = add_alice(user_ctx)
    mail = ask(user_ctx)
    assert mail is not None
    assert mail.user.id == alice.id
    assert mail.email == "alice@example.org"
    assert mail.valid_minutes == 30
    assert len(mail.token) >= 43
    assert recovery.check_reset_link(user_ctx, mail.token).id == alice.id


@pytest.mark.parametrize(
    "login", ["alice", "ALICE", "  alice ", "alice@example.org", "ALICE@Example.ORG"]
)
def test_request_finds_the_account_by_username_or_email(user_ctx, login):
    """Usernames and emails both work, case-insensitively, surrounding space ignored."""
    alice = add_alice(user_ctx)
    mail = ask(user_ctx, login)
    assert mail is not None and mail.user.id == alice.id


def test_link_works_until_just_before_30_minutes(user_ctx, clock):
    """29:59 after the request the link still works; at 30:00 it has expired."""
    add_alice(user_ctx)
    mail = ask(user_ctx)
    assert mail is not None
    clock.advance(minutes=29, seconds=59)
    assert recovery.check_reset_link(user_ctx, mail.token).username == "alice"
    clock.advance(seconds=1)
    assert problem_of(user_ctx, mail.token) is LinkProblem.EXPIRED
    with pytest.raises(LinkError) as caught:
        recovery.reset_password(user_ctx, mail.token, NEW_PASSWORD)
    assert caught.value.problem is LinkProblem.EXPIRED
    assert accounts.find_user(user_ctx, "alice").password_hash is not None
    assert authenticate(user_ctx, "alice", GOOD_PASSWORD).outcome is Outcome.OK


def test_reset_at_29_minutes_59_seconds_succeeds(user_ctx, clock):
    """The last second of the link's life is still inside it."""
    add_alice(user_ctx)
    mail = ask(user_ctx)
    clock.advance(minutes=29, seconds=59)
    recovery.reset_password(user_ctx, mail.token, NEW_PASSWORD)
    user_ctx.db.commit()
    assert authenticate(user_ctx, "alice", NEW_PASSWORD).outcome is Outcome.OK


def test_link_lifetime_follows_the_setting(user_ctx, clock):
    """``camauth.password.reset_minutes`` sets how long a link lives."""
    user_ctx = with_settings(user_ctx, password_reset_minutes=5)
    add_alice(user_ctx)
    mail = ask(user_ctx)
    assert mail.valid_minutes == 5
    clock.advance(minutes=4, seconds=59)
    recovery.check_reset_link(user_ctx, mail.token)
    clock.advance(seconds=1)
    assert problem_of(user_ctx, mail.token) is LinkProblem.EXPIRED


def test_link_is_single_use(user_ctx):
    """After one reset the same link is refused as used, and cannot set a password again."""
    add_alice(user_ctx)
    mail = ask(user_ctx)
    recovery.reset_password(user_ctx, mail.token, NEW_PASSWORD)
    user_ctx.db.commit()
    assert problem_of(user_ctx, mail.token) is LinkProblem.USED
    with pytest.raises(LinkError) as caught:
        recovery.reset_password(user_ctx, mail.token, "another fine passphrase here")
    assert caught.value.problem is LinkProblem.USED
    assert authenticate(user_ctx, "alice", NEW_PASSWORD).outcome is Outcome.OK


def test_used_link_stays_used_after_it_would_have_expired(user_ctx, clock):
    """A used link says "used", not "expired", even once its time is over."""
    add_alice(user_ctx)
    mail = ask(user_ctx)
    recovery.reset_password(user_ctx, mail.token, NEW_PASSWORD)
    user_ctx.db.commit()
    clock.advance(hours=2)
    assert problem_of(user_ctx, mail.token) is LinkProblem.USED


@pytest.mark.parametrize("token", ["", "x", "A" * 43, "A" * 5000, "\x00", "ålice 😀"])
def test_unknown_tokens_are_unknown(user_ctx, token):
    """Forged, empty, overlong and odd tokens are all simply "not valid"."""
    add_alice(user_ctx)
    ask(user_ctx)
    assert problem_of(user_ctx, token) is LinkProblem.UNKNOWN


def test_a_nearly_right_token_is_unknown(user_ctx):
    """Changing one character of a real token gives an unknown link."""
    add_alice(user_ctx)
    token = ask(user_ctx).token
    forged = token[:-1] + ("A" if token[-1] != "A" else "B")
    assert problem_of(user_ctx, forged) is LinkProblem.UNKNOWN
    assert problem_of(user_ctx, token + "A") is LinkProblem.UNKNOWN


def test_email_verification_token_is_not_a_reset_link(user_ctx):
    """A token made for another purpose cannot reset a password."""
    alice = add_alice(user_ctx)
    token = tokens.issue(user_ctx, alice, TokenPurpose.VERIFY_EMAIL, timedelta(hours=1))
    user_ctx.db.commit()
    assert problem_of(user_ctx, token) is LinkProblem.UNKNOWN


@pytest.mark.parametrize("status", [UserStatus.DISABLED, UserStatus.PENDING_APPROVAL])
def test_link_stops_working_when_the_account_stops_being_active(user_ctx, status):
    """A link mailed before the account was disabled cannot be used afterwards."""
    alice = add_alice(user_ctx)
    mail = ask(user_ctx)
    accounts.set_status(user_ctx, alice, status)
    user_ctx.db.commit()
    assert problem_of(user_ctx, mail.token) is LinkProblem.UNKNOWN
    with pytest.raises(LinkError):
        recovery.reset_password(user_ctx, mail.token, NEW_PASSWORD)


def test_raw_token_is_never_stored(user_ctx, engine):
    """Only the SHA-256 digest of the token is kept; the token itself is in no table."""
    add_alice(user_ctx)
    mail = ask(user_ctx)
    [row] = token_rows(user_ctx)
    assert row.token_digest == hashlib.sha256(mail.token.encode()).hexdigest()
    assert row.purpose == TokenPurpose.PASSWORD_RESET.value
    recovery.reset_password(user_ctx, mail.token, NEW_PASSWORD)
    user_ctx.db.commit()
    metadata = MetaData()
    metadata.reflect(engine)
    with engine.connect() as connection:
        for table in metadata.sorted_tables:
            for values in connection.execute(select(table)):
                assert mail.token not in repr(tuple(values)), table.name


def test_each_request_issues_a_different_token(user_ctx):
    """Two requests give two independent links."""
    add_alice(user_ctx)
    first, second = ask(user_ctx), ask(user_ctx)
    assert first.token != second.token
    assert len(token_rows(user_ctx)) == 2


# --- voiding -------------------------------------------------------------------------


def test_reset_voids_older_unused_links(user_ctx):
    """Using one link makes every other outstanding link of the account "used"."""
    add_alice(user_ctx)
    first, second, third = ask(user_ctx), ask(user_ctx), ask(user_ctx)
    recovery.reset_password(user_ctx, second.token, NEW_PASSWORD)
    user_ctx.db.commit()
    for mail in (first, second, third):
        assert problem_of(user_ctx, mail.token) is LinkProblem.USED


def test_set_password_voids_outstanding_links(user_ctx):
    """Any other password change (administrator, command line) voids mailed links."""
    alice = add_alice(user_ctx)
    mail = ask(user_ctx)
    accounts.set_password(user_ctx, alice, NEW_PASSWORD)
    user_ctx.db.commit()
    assert problem_of(user_ctx, mail.token) is LinkProblem.USED
    with pytest.raises(LinkError):
        recovery.reset_password(user_ctx, mail.token, "another fine passphrase here")
    assert authenticate(user_ctx, "alice", NEW_PASSWORD).outcome is Outcome.OK


def test_voiding_is_per_account(user_ctx):
    """Bob's reset leaves Alice's link working."""
    add_alice(user_ctx)
    add_user(user_ctx, "bob", email="bob@example.org")
    alice_mail, bob_mail = ask(user_ctx, "alice"), ask(user_ctx, "bob")
    recovery.reset_password(user_ctx, bob_mail.token, NEW_PASSWORD)
    user_ctx.db.commit()
    assert recovery.check_reset_link(user_ctx, alice_mail.token).username == "alice"


# --- what a reset does ----------------------------------------------------------------


def test_reset_sets_the_password_and_clears_must_change(user_ctx, clock):
    """The new password works, the old does not, and no forced change is left over."""
    add_alice(user_ctx, must_change_password=True)
    mail = ask(user_ctx)
    clock.advance(minutes=3)
    user = recovery.reset_password(user_ctx, mail.token, NEW_PASSWORD)
    user_ctx.db.commit()
    assert user.must_change_password is False
    assert user.password_changed_at == clock()
    assert authenticate(user_ctx, "alice", GOOD_PASSWORD).outcome is Outcome.INVALID
    assert authenticate(user_ctx, "alice", NEW_PASSWORD).outcome is Outcome.OK


def test_reset_ends_every_session_and_starts_none(user_ctx):
    """All the user's sessions end; recovery does not log the person in."""
    alice = add_alice(user_ctx)
    bob = add_user(user_ctx, "bob")
    for _ in range(2):
        sessions.create_session(user_ctx, user=alice)
    sessions.create_session(user_ctx, user=bob)
    user_ctx.db.commit()
    mail = ask(user_ctx)
    recovery.reset_password(user_ctx, mail.token, NEW_PASSWORD)
    user_ctx.db.commit()
    owners = list(user_ctx.db.scalars(select(WebSession.user_id)))
    assert owners == [bob.id]


def test_reset_is_audited(user_ctx):
    """The request (mailed true) and the reset (via email, by the user) are in the audit log."""
    alice = add_alice(user_ctx)
    mail = ask(user_ctx)
    recovery.reset_password(user_ctx, mail.token, NEW_PASSWORD)
    user_ctx.db.commit()
    [requested] = audit.events(user_ctx, event="password_reset_requested")
    assert requested.target_id == alice.id
    assert requested.details == {"mailed": True}
    assert requested.ip == USER_IP
    [reset] = audit.events(user_ctx, event="password_reset")
    assert reset.target_id == alice.id
    assert reset.details == {"via": "email"}
    assert (reset.actor_id, reset.actor_name) == (alice.id, "alice")


def test_request_for_unknown_account_is_audited_without_mail(user_ctx):
    """An unknown name is recorded (normalised) with mailed false, and no token is made."""
    assert ask(user_ctx, "  Nobody ") is None
    [requested] = audit.events(user_ctx, event="password_reset_requested")
    assert requested.target_id is None
    assert requested.target_name == "nobody"
    assert requested.details == {"mailed": False}
    assert token_rows(user_ctx) == []


def test_policy_refusal_does_not_spend_the_link(user_ctx):
    """A refused password leaves the link usable and the old password in place."""
    add_alice(user_ctx)
    mail = ask(user_ctx)
    for weak in ("short", "password1234", "alice is my name 2024"):
        with pytest.raises(PasswordPolicyError) as caught:
            recovery.reset_password(user_ctx, mail.token, weak)
        assert str(caught.value)
        user_ctx.db.commit()
        assert recovery.check_reset_link(user_ctx, mail.token).username == "alice"
    assert authenticate(user_ctx, "alice", GOOD_PASSWORD).outcome is Outcome.OK
    recovery.reset_password(user_ctx, mail.token, NEW_PASSWORD)
    user_ctx.db.commit()
    assert authenticate(user_ctx, "alice", NEW_PASSWORD).outcome is Outcome.OK


def test_policy_refusal_names_the_problem(user_ctx):
    """The refusal's message says what to do (here: use more characters)."""
    add_alice(user_ctx)
    mail = ask(user_ctx)
    with pytest.raises(PasswordPolicyError, match="Use at least 12 characters"):
        recovery.reset_password(user_ctx, mail.token, "short")


# --- who gets a mail ------------------------------------------------------------------


@pytest.mark.parametrize(
    "status", [UserStatus.DISABLED, UserStatus.PENDING_APPROVAL, UserStatus.PENDING_EMAIL]
)
def test_accounts_that_cannot_log_in_get_no_mail(user_ctx, status):
    """Disabled and pending accounts get nothing, and the request is audited as not mailed."""
    add_alice(user_ctx, status=status)
    assert ask(user_ctx) is None
    assert ask(user_ctx, "alice@example.org") is None
    assert requested_events(user_ctx) == [{"mailed": False}, {"mailed": False}]
    assert token_rows(user_ctx) == []


def test_account_without_email_gets_no_mail(user_ctx):
    """Without an address there is nowhere to send a link."""
    add_user(user_ctx, "alice")
    assert ask(user_ctx) is None
    assert requested_events(user_ctx) == [{"mailed": False}]
    assert token_rows(user_ctx) == []


def test_locked_out_account_gets_a_mail_and_the_reset_unlocks_it(user_ctx, clock):
    """An attacker locking the account cannot block recovery; the reset clears the lock."""
    user_ctx = with_settings(user_ctx, lockout_threshold=3)
    attacker = from_ip(user_ctx, ATTACKER_IP)
    add_alice(user_ctx)
    for _ in range(3):
        result = authenticate(attacker, "alice", WRONG)
    attacker.db.commit()
    assert result.outcome is Outcome.LOCKED
    assert authenticate(user_ctx, "alice", GOOD_PASSWORD).outcome is Outcome.LOCKED
    mail = ask(user_ctx)
    assert mail is not None
    recovery.reset_password(user_ctx, mail.token, NEW_PASSWORD)
    user_ctx.db.commit()
    assert lockout.locked_until(user_ctx, "alice", UNTRUSTED_SCOPE) is None
    assert lockout.current_failures(user_ctx, "alice") == 0
    assert failure_rows(user_ctx, "alice") == 3  # the history is kept, only the count restarts
    assert authenticate(user_ctx, "alice", NEW_PASSWORD).outcome is Outcome.OK
    assert [e.event for e in audit.events(user_ctx, event="unlock")] == [Event.UNLOCK.value]


def test_account_limit_stops_mail_after_three_in_an_hour(user_ctx, clock):
    """The 4th request within an hour answers the same but mails nothing; later it mails again."""
    add_alice(user_ctx)
    start = clock()
    mails = []
    for _ in range(3):
        mails.append(ask(user_ctx))
        clock.advance(minutes=1)
    assert all(mail is not None for mail in mails)
    assert ask(user_ctx) is None
    assert len(token_rows(user_ctx)) == 3
    clock.now = start + timedelta(minutes=59, seconds=59)
    assert ask(user_ctx) is None
    clock.now = start + timedelta(hours=1, seconds=1)
    assert ask(user_ctx) is not None  # the first mail has left the hour
    assert ask(user_ctx) is None  # the second and third are still in it
    mailed = [details["mailed"] for details in requested_events(user_ctx)]
    assert mailed == [True, True, True, False, False, True, False]


def test_account_limit_counts_mails_to_the_account_from_any_address(ctx):
    """Asking from many addresses does not get past the per-account limit."""
    add_alice(ctx)
    results = [ask(from_ip(ctx, f"198.51.100.{n}")) for n in range(1, 6)]
    assert [mail is not None for mail in results] == [True, True, True, False, False]


def test_account_limit_is_per_account(user_ctx):
    """Alice's exhausted limit does not stop Bob's mail."""
    add_alice(user_ctx)
    add_user(user_ctx, "bob", email="bob@example.org")
    for _ in range(3):
        ask(user_ctx, "alice")
    assert ask(user_ctx, "alice") is None
    assert ask(user_ctx, "bob") is not None


def test_account_limit_follows_the_setting(user_ctx):
    """``camauth.mail.account_limit_per_hour`` sets how many mails an account gets."""
    user_ctx = with_settings(user_ctx, mail_account_limit_per_hour=1)
    add_alice(user_ctx)
    assert ask(user_ctx) is not None
    assert ask(user_ctx) is None


def test_address_limit_refuses_the_eleventh_request_with_until(ctx, clock):
    """Ten requests an hour per address; the 11th is refused until the oldest is an hour old."""
    client = from_ip(ctx, ATTACKER_IP)
    start = clock()
    for n in range(10):
        ask(client, f"nobody{n}")
        clock.advance(minutes=2)
    with pytest.raises(TooManyRequests) as caught:
        recovery.request_reset(client, "nobody")
    assert caught.value.until == start + timedelta(hours=1)
    clock.now = caught.value.until - timedelta(seconds=1)
    with pytest.raises(TooManyRequests) as again:
        recovery.request_reset(client, "nobody")
    assert again.value.until == start + timedelta(hours=1)
    clock.now = caught.value.until
    assert ask(client, "nobody") is None  # allowed again once the first left the hour


def test_address_limit_is_checked_before_the_account(ctx):
    """Over the limit, even a real account gets no mail, no token and no audit entry."""
    client = from_ip(ctx, ATTACKER_IP)
    add_alice(client)
    for n in range(10):
        ask(client, f"nobody{n}")
    with pytest.raises(TooManyRequests):
        recovery.request_reset(client, "alice")
    ctx.db.rollback()
    assert token_rows(client) == []
    assert all(details == {"mailed": False} for details in requested_events(client))
    assert len(requested_events(client)) == 10


def test_address_limit_is_per_address(ctx):
    """One address over its limit does not stop others."""
    attacker, person = from_ip(ctx, ATTACKER_IP), from_ip(ctx, USER_IP)
    add_alice(person)
    for n in range(10):
        ask(attacker, f"nobody{n}")
    with pytest.raises(TooManyRequests):
        recovery.request_reset(attacker, "alice")
    ctx.db.rollback()
    assert ask(person, "alice") is not None


def test_address_limit_follows_the_setting(ctx):
    """``camauth.mail.ip_limit_per_hour`` sets how many requests an address may make."""
    client = from_ip(with_settings(ctx, mail_ip_limit_per_hour=2), ATTACKER_IP)
    ask(client, "a")
    ask(client, "b")
    with pytest.raises(TooManyRequests):
        recovery.request_reset(client, "c")


def test_every_request_is_recorded_for_the_limits(user_ctx):
    """Each request leaves one mail_requests row saying whether it mailed."""
    add_alice(user_ctx)
    ask(user_ctx, "alice")
    ask(user_ctx, "nobody")
    rows = user_ctx.db.execute(
        select(MailRequest.ip, MailRequest.mailed, MailRequest.purpose).order_by(MailRequest.id)
    ).all()
    assert [tuple(row) for row in rows] == [
        (USER_IP, True, "password_reset"),
        (USER_IP, False, "password_reset"),
    ]
    assert len(token_rows(user_ctx)) == 1


def test_an_unknown_account_costs_the_same_statements_and_opens_nothing(user_ctx):
    """Timing must not tell: a request for no one stores a token too, a decoy that
    belongs to no account and that no link can use."""
    add_alice(user_ctx)
    ask(user_ctx, "alice")
    assert ask(user_ctx, "nobody") is None
    [decoy] = user_ctx.db.scalars(select(AccountToken).where(AccountToken.user_id.is_(None)))
    assert decoy.purpose == "password_reset"
    assert user_ctx.db.scalar(select(func.count()).select_from(AccountToken)) == 2


def test_a_decoy_token_opens_nothing(user_ctx):
    decoy = tokens.issue(user_ctx, None, TokenPurpose.PASSWORD_RESET, timedelta(minutes=30))
    with pytest.raises(LinkError) as refused:
        recovery.check_reset_link(user_ctx, decoy)
    assert refused.value.problem is LinkProblem.UNKNOWN


def test_an_address_held_by_an_account_that_cannot_recover_does_not_block_a_username(
    user_ctx,
):
    """User 'alice@corp.org' recovers by typing their username even when a pending
    sign-up uses that string as its address."""
    add_user(user_ctx, "alice@corp.org", email="alice.smith@corp.org")
    add_user(user_ctx, "mallory", email="alice@corp.org", status=UserStatus.PENDING_EMAIL)
    mail = ask(user_ctx, "alice@corp.org")
    assert mail is not None
    assert (mail.user.username, mail.email) == ("alice@corp.org", "alice.smith@corp.org")


def test_an_address_wins_over_a_username_when_both_can_recover(user_ctx):
    add_user(user_ctx, "bob@corp.org", email="bob.other@corp.org")
    add_user(user_ctx, "robert", email="bob@corp.org")
    mail = ask(user_ctx, "bob@corp.org")
    assert mail is not None
    assert mail.user.username == "robert"
