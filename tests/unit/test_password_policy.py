"""The password policy (PRODUCT §3): strength by zxcvbn, common passwords, own names,
and the same policy wherever a password is set."""

from __future__ import annotations

import secrets
import threading

import pytest

from camauth.models import UserStatus
from camauth.services import accounts, password_policy, recovery, registration
from camauth.services.password_policy import PasswordPolicyError, check_new_password

from ..conftest import GOOD_PASSWORD
from .conftest import add_user, with_settings

COMMON = "password1234"  # on zxcvbn's list of leaked passwords
WEAK = "hunter2hunter2"  # not on a list, but a repeat: zxcvbn scores it 1


def refusal(settings, password: str, **names: str) -> str:
    with pytest.raises(PasswordPolicyError) as refused:
        check_new_password(settings, password, **names)
    return str(refused.value)


@pytest.mark.parametrize("password", [COMMON, "qwertyuiop123", "iloveyou12345"])
def test_common_passwords_are_refused_with_a_way_forward(ctx, password):
    message = refusal(ctx.settings, password)
    assert message.startswith("This password is on lists of commonly used and leaked passwords")
    assert "a few unrelated words work well" in message


def test_common_passwords_are_refused_even_when_no_strength_is_required(ctx):
    lenient = with_settings(ctx, password_min_score=0)
    assert "commonly used" in refusal(lenient.settings, COMMON)


def test_weak_password_gets_zxcvbn_advice(ctx):
    message = refusal(ctx.settings, WEAK)
    assert message.startswith("This password would be easy to guess.")
    assert 'Repeats like "abcabcabc"' in message  # zxcvbn's own warning
    assert "Avoid repeated words and characters." in message  # and its suggestion


def test_min_score_setting_decides_how_strong_is_strong_enough(ctx):
    check_new_password(with_settings(ctx, password_min_score=1).settings, WEAK)
    with pytest.raises(PasswordPolicyError):
        check_new_password(with_settings(ctx, password_min_score=4).settings, "Summer2024!!")


def test_the_full_name_counts_against_strength(ctx):
    """zxcvbn treats the person's own words as the first thing an attacker tries."""
    password = "zbigniewquenneville"
    check_new_password(ctx.settings, password)  # strong for anyone else
    message = refusal(ctx.settings, password, full_name="Zbigniew Quenneville")
    assert "to guess" in message


def test_long_passwords_are_judged_by_their_first_40_characters(ctx):
    """zxcvbn's cost grows steeply with length; the beginning decides (bounded work)."""
    check_new_password(ctx.settings, secrets.token_urlsafe(30) + "a" * 900)
    assert "to guess" in refusal(ctx.settings, "a" * 40 + secrets.token_urlsafe(60))


def test_own_names_are_checked_case_insensitively(ctx):
    names = {"username": "Alice", "email": "Liddell@example.org"}
    assert "username" in refusal(ctx.settings, "my name is ALICE the great", **names)
    assert "email address" in refusal(ctx.settings, "ask liddell for the key", **names)


def test_concurrent_checks_do_not_see_each_others_names(ctx):
    """zxcvbn keeps the person's words in a module global; checks must not interleave.

    Each password is strong for its owner but weak for the other person (it is
    their name), so a check that scored against the other's words would refuse it.
    """
    errors: list[str] = []

    def check(full_name: str, password: str) -> None:
        for _ in range(200):
            try:
                check_new_password(ctx.settings, password, full_name=full_name)
            except PasswordPolicyError as refused:
                errors.append(str(refused))

    threads = [
        threading.Thread(target=check, args=("Zbigniew Quenneville", "xanthippeokonkwo")),
        threading.Thread(target=check, args=("Xanthippe Okonkwo", "zbigniewquenneville")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


# --- the same policy wherever a password is set -------------------------------------


def test_create_user_applies_the_policy(ctx):
    with pytest.raises(PasswordPolicyError, match="commonly used"):
        accounts.create_user(ctx, "bob", password=COMMON)
    assert accounts.find_user(ctx, "bob") is None


def test_administrator_reset_applies_the_policy(ctx):
    user = add_user(ctx)
    with pytest.raises(PasswordPolicyError, match="commonly used"):
        accounts.set_password(ctx, user, COMMON, force_change=True)
    assert ctx.passwords.verify(user.password_hash, GOOD_PASSWORD).ok


def test_own_change_applies_the_policy_with_own_names(ctx):
    user = add_user(ctx, email="liddell@example.org", full_name="Alice Liddell")
    with pytest.raises(PasswordPolicyError, match="email address"):
        accounts.change_own_password(ctx, user, GOOD_PASSWORD, "liddell keeps the garden")
    assert ctx.passwords.verify(user.password_hash, GOOD_PASSWORD).ok


def test_recovery_applies_the_policy(ctx):
    user = add_user(ctx, email="alice@example.org")
    mail = recovery.request_reset(ctx, "alice")
    assert mail is not None
    with pytest.raises(PasswordPolicyError, match="commonly used"):
        recovery.reset_password(ctx, mail.token, COMMON)
    assert ctx.passwords.verify(user.password_hash, GOOD_PASSWORD).ok


def test_registration_applies_the_policy(ctx):
    open_ctx = with_settings(ctx, registration="open")
    with pytest.raises(PasswordPolicyError, match="commonly used"):
        registration.register(open_ctx, "bob", "bob@example.org", COMMON)
    assert accounts.find_user(ctx, "bob") is None


def test_registration_checks_the_username_in_the_password(ctx):
    open_ctx = with_settings(ctx, registration="open")
    with pytest.raises(PasswordPolicyError, match="username"):
        registration.register(open_ctx, "roberta", "bob@example.org", "roberta likes tea a lot")
    assert not [u for u in accounts.list_users(ctx) if u.status == UserStatus.PENDING_EMAIL]


def test_passwords_full_of_l33t_characters_are_judged_with_bounded_work(ctx):
    """zxcvbn reads each l33t character every way it can (1 as i or l, ...): hundreds
    of readings took 1.5 s. Past 64 readings the characters get stand-ins instead, so a
    random password like this one is still judged (and accepted) without that cost."""
    heavy = "1!|7+6905$(<{[4@%2" * 2
    assert password_policy._bounded(heavy) != heavy[: password_policy.ZXCVBN_MAX]
    check_new_password(ctx.settings, heavy)


def test_ordinary_l33t_passwords_are_still_read_as_l33t(ctx):
    """A few substitutions are what people do to common words: zxcvbn still sees them."""
    assert password_policy._bounded("P@$$w0rd!1|x") == "P@$$w0rd!1|x"
    with pytest.raises(PasswordPolicyError):
        check_new_password(ctx.settings, "P@$$w0rd!1|x")
