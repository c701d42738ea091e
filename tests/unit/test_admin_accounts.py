"""What administrators do to accounts from the console (services/accounts.py, PRODUCT §9):
administrator rights, edits, forced changes, password resets, and the guards that
keep an administrator in charge — also when two act at the same moment."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pyotp
import pytest
from sqlalchemy import func, select, update

from camauth.db import make_session_factory
from camauth.models import (
    AuditEvent,
    SessionKind,
    TwoFactorCredential,
    User,
    UserStatus,
    WebSession,
)
from camauth.services import accounts, lockout, mfa, sessions
from camauth.services.accounts import AccountError
from camauth.services.authentication import Outcome, authenticate
from camauth.services.context import Context
from camauth.services.password_policy import PasswordPolicyError

from ..conftest import GOOD_PASSWORD
from .conftest import add_user

NEW_PASSWORD = "violet kettle drums at noon"


def events(ctx, *names):
    """(event, target name, actor name, details) of the audit rows of ``names``, oldest first."""
    ctx.db.flush()
    rows = ctx.db.scalars(
        select(AuditEvent).where(AuditEvent.event.in_(names)).order_by(AuditEvent.id)
    )
    return [(row.event, row.target_name, row.actor_name, row.details) for row in rows]


def as_user(ctx, user):
    return ctx.acting_as(user.id, user.username)


def reread(ctx, user):
    """The user as the database holds it now."""
    ctx.db.commit()
    ctx.db.expire_all()
    found = ctx.db.get(User, user.id)
    assert found is not None
    return found


@pytest.fixture
def root(ctx):
    return add_user(ctx, "root", is_admin=True)


# --- administrator rights -------------------------------------------------------------


def test_granting_administrator_rights_is_audited(ctx, root):
    alice = add_user(ctx)
    accounts.set_admin(as_user(ctx, root), alice, True)
    assert reread(ctx, alice).is_admin
    assert events(ctx, "admin_granted") == [("admin_granted", "alice", "root", {})]


def test_revoking_administrator_rights_is_audited(ctx, root):
    deputy = add_user(ctx, "deputy", is_admin=True)
    accounts.set_admin(as_user(ctx, root), deputy, False)
    assert not reread(ctx, deputy).is_admin
    assert events(ctx, "admin_revoked") == [("admin_revoked", "deputy", "root", {})]


def test_setting_rights_a_user_already_has_changes_and_records_nothing(ctx, root):
    alice = add_user(ctx)
    accounts.set_admin(as_user(ctx, root), root, True)
    accounts.set_admin(as_user(ctx, root), alice, False)
    assert events(ctx, "admin_granted", "admin_revoked") == []
    assert (reread(ctx, root).is_admin, reread(ctx, alice).is_admin) == (True, False)


def test_nobody_revokes_their_own_rights(ctx, root):
    add_user(ctx, "deputy", is_admin=True)
    with pytest.raises(AccountError, match="your own"):
        accounts.set_admin(as_user(ctx, root), root, False)
    assert reread(ctx, root).is_admin
    assert events(ctx, "admin_revoked") == []


def test_the_last_active_administrator_keeps_their_rights(ctx, root):
    add_user(ctx, "retired", is_admin=True, status=UserStatus.DISABLED)  # does not count
    with pytest.raises(AccountError, match="last active administrator"):
        accounts.set_admin(ctx, root, False)  # the command line acts as "system"
    assert reread(ctx, root).is_admin
    assert events(ctx, "admin_revoked") == []


def test_a_disabled_administrators_rights_can_be_revoked(ctx, root):
    retired = add_user(ctx, "retired", is_admin=True, status=UserStatus.DISABLED)
    accounts.set_admin(as_user(ctx, root), retired, False)
    assert not reread(ctx, retired).is_admin


# --- editing -----------------------------------------------------------------------------


def test_editing_email_and_name_is_audited_with_old_and_new_values(ctx, root):
    alice = add_user(ctx, email="alice@example.org", full_name="Alice Smith")
    accounts.edit_user(
        as_user(ctx, root), alice, email=" Alice@Example.NET ", full_name=" Alice Jones "
    )
    alice = reread(ctx, alice)
    assert (alice.email, alice.email_key, alice.full_name) == (
        "Alice@Example.NET",
        "alice@example.net",
        "Alice Jones",
    )
    assert accounts.find_user_by_email(ctx, "alice@example.net") == alice
    assert accounts.find_user_by_email(ctx, "alice@example.org") is None
    assert events(ctx, "user_edited") == [
        (
            "user_edited",
            "alice",
            "root",
            {
                "email": ["alice@example.org", "Alice@Example.NET"],
                "full_name": ["Alice Smith", "Alice Jones"],
            },
        )
    ]


def test_only_what_changed_is_recorded(ctx, root):
    alice = add_user(ctx, email="alice@example.org", full_name="Alice Smith")
    accounts.edit_user(ctx, alice, email="alice@example.org", full_name="Alice Jones")
    [(_, _, _, details)] = events(ctx, "user_edited")
    assert details == {"full_name": ["Alice Smith", "Alice Jones"]}


def test_an_edit_that_changes_nothing_records_nothing(ctx):
    alice = add_user(ctx, email="alice@example.org", full_name="Alice Smith")
    accounts.edit_user(ctx, alice, email=" alice@example.org ", full_name="Alice Smith  ")
    bob = add_user(ctx, "bob")
    accounts.edit_user(ctx, bob, email="", full_name="")
    accounts.edit_user(ctx, bob, email=None, full_name=" ")
    assert events(ctx, "user_edited") == []


def test_removing_the_address(ctx):
    alice = add_user(ctx, email="alice@example.org")
    accounts.edit_user(ctx, alice, email="  ", full_name="")
    alice = reread(ctx, alice)
    assert (alice.email, alice.email_key) == (None, None)
    assert events(ctx, "user_edited")[0][3] == {"email": ["alice@example.org", None]}


def test_changing_only_the_case_of_ones_own_address_is_allowed(ctx):
    alice = add_user(ctx, email="alice@example.org")
    accounts.edit_user(ctx, alice, email="ALICE@example.org", full_name="")
    assert reread(ctx, alice).email == "ALICE@example.org"


@pytest.mark.parametrize("email", ["not an address", "a@b", "two@@example.org", "a b@example.org"])
def test_an_invalid_address_is_refused_and_nothing_changes(ctx, email):
    alice = add_user(ctx, email="alice@example.org", full_name="Alice")
    with pytest.raises(AccountError) as refused:
        accounts.edit_user(ctx, alice, email=email, full_name="Someone Else")
    assert str(refused.value) == accounts.email_problem(email)
    alice = reread(ctx, alice)
    assert (alice.email, alice.full_name) == ("alice@example.org", "Alice")
    assert events(ctx, "user_edited") == []


def test_another_accounts_address_is_refused(ctx):
    add_user(ctx, "bob", email="bob@example.org")
    alice = add_user(ctx, email="alice@example.org")
    with pytest.raises(AccountError, match="another account"):
        accounts.edit_user(ctx, alice, email="BOB@Example.org", full_name="")
    assert reread(ctx, alice).email == "alice@example.org"
    assert events(ctx, "user_edited") == []


# --- forced change and reset ----------------------------------------------------------


def test_forcing_a_password_change_is_audited(ctx, root):
    alice = add_user(ctx)
    accounts.force_password_change(as_user(ctx, root), alice)
    assert reread(ctx, alice).must_change_password
    assert events(ctx, "password_change_forced") == [
        ("password_change_forced", "alice", "root", {})
    ]


def test_reset_with_a_generated_password_returns_it_once_and_it_works(ctx, clock, root):
    alice = add_user(ctx)
    clock.advance(days=2)
    generated = accounts.reset_password(as_user(ctx, root), alice, None)
    assert generated
    alice = reread(ctx, alice)
    assert ctx.passwords.verify(alice.password_hash, generated).ok
    assert not ctx.passwords.verify(alice.password_hash, GOOD_PASSWORD).ok
    assert generated not in alice.password_hash
    assert alice.must_change_password
    assert alice.password_changed_at == clock()
    assert events(ctx, "password_reset") == [
        ("password_reset", "alice", "root", {"force_change": True})
    ]
    again = accounts.reset_password(as_user(ctx, root), alice, None)
    assert again != generated


def test_reset_with_a_typed_password_without_forcing_a_change(ctx, root):
    alice = add_user(ctx)
    assert accounts.reset_password(as_user(ctx, root), alice, NEW_PASSWORD, force_change=False) is (
        None
    )
    alice = reread(ctx, alice)
    assert ctx.passwords.verify(alice.password_hash, NEW_PASSWORD).ok
    assert not alice.must_change_password
    assert authenticate(ctx, "alice", NEW_PASSWORD).outcome is Outcome.OK


@pytest.mark.parametrize("weak", ["short", "password1234", "alice-alice-alice"])
def test_a_typed_password_must_pass_the_policy(ctx, root, weak):
    alice = add_user(ctx)
    before = alice.password_hash
    with pytest.raises(PasswordPolicyError):
        accounts.reset_password(as_user(ctx, root), alice, weak)
    assert reread(ctx, alice).password_hash == before
    assert events(ctx, "password_reset") == []


def test_reset_ends_the_users_sessions_only(ctx, root):
    alice = add_user(ctx)
    bob = add_user(ctx, "bob")
    sessions.create_session(ctx, user=alice)
    sessions.create_session(ctx, user=alice, kind=SessionKind.API)
    _, kept = sessions.create_session(ctx, user=bob)
    accounts.reset_password(as_user(ctx, root), alice, None)
    ctx.db.commit()
    assert list(ctx.db.scalars(select(WebSession.id))) == [kept.id]


def test_reset_clears_the_lockout_so_the_new_password_works_at_once(ctx, root):
    alice = add_user(ctx)
    for _ in range(10):
        authenticate(ctx, "alice", "wrong password, wrong")
    authenticate(ctx, "alice", "wrong password, wrong", trusted_device="device-1")
    assert authenticate(ctx, "alice", GOOD_PASSWORD).outcome is Outcome.LOCKED
    accounts.reset_password(as_user(ctx, root), alice, NEW_PASSWORD)
    ctx.db.commit()
    assert lockout.current_failures(ctx, "alice") == 0
    assert lockout.current_failures(ctx, "alice", "device-1") == 0
    assert authenticate(ctx, "alice", NEW_PASSWORD).outcome is Outcome.OK


def test_an_administrator_cannot_reset_their_own_password(ctx, root):
    add_user(ctx, "deputy", is_admin=True)
    before = root.password_hash
    with pytest.raises(AccountError, match="Change password"):
        accounts.reset_password(as_user(ctx, root), root, None)
    assert reread(ctx, root).password_hash == before
    assert events(ctx, "password_reset") == []


# --- disabling and deleting administrators ----------------------------------------------


@pytest.mark.parametrize(
    "status", [UserStatus.DISABLED, UserStatus.PENDING_APPROVAL, UserStatus.PENDING_EMAIL]
)
def test_an_administrator_cannot_disable_themselves(ctx, root, status):
    add_user(ctx, "deputy", is_admin=True)
    with pytest.raises(AccountError, match="your own"):
        accounts.set_status(as_user(ctx, root), root, status)
    assert reread(ctx, root).status == "active"


@pytest.mark.parametrize("status", [UserStatus.DISABLED, UserStatus.PENDING_APPROVAL])
def test_the_last_active_administrator_cannot_be_disabled(ctx, root, status):
    add_user(ctx, "retired", is_admin=True, status=UserStatus.DISABLED)
    with pytest.raises(AccountError, match="last active administrator"):
        accounts.set_status(ctx, root, status)
    assert reread(ctx, root).status == "active"
    assert events(ctx, "user_disabled", "user_edited") == []


def test_an_administrator_can_disable_another_while_one_remains(ctx, root):
    deputy = add_user(ctx, "deputy", is_admin=True)
    accounts.set_status(as_user(ctx, root), deputy, UserStatus.DISABLED)
    assert reread(ctx, deputy).status == "disabled"
    assert accounts.count_active_admins(ctx) == 1
    # and the other way round now fails: root is the last one
    with pytest.raises(AccountError, match="last active administrator"):
        accounts.set_status(ctx, root, UserStatus.DISABLED)


def test_enabling_oneself_or_the_last_admin_is_not_refused(ctx, root):
    accounts.set_status(as_user(ctx, root), root, UserStatus.ACTIVE)
    assert reread(ctx, root).status == "active"


def test_delete_an_administrator_while_another_remains(ctx, root):
    deputy = add_user(ctx, "deputy", is_admin=True)
    accounts.delete_user(as_user(ctx, root), deputy)
    ctx.db.commit()
    assert accounts.find_user(ctx, "deputy") is None
    with pytest.raises(AccountError, match="last active administrator"):
        accounts.delete_user(ctx, root)


def test_a_disabled_administrator_can_be_deleted(ctx, root):
    retired = add_user(ctx, "retired", is_admin=True, status=UserStatus.DISABLED)
    accounts.delete_user(as_user(ctx, root), retired)
    ctx.db.commit()
    assert accounts.find_user(ctx, "retired") is None


def test_the_guard_reads_the_targets_rights_as_committed_not_as_once_loaded(engine, ctx, root):
    """A request loads the user it acts on first: others may change that user meanwhile.

    Request 2 loads alice (no administrator yet). Meanwhile root makes alice an
    administrator and another request takes root's rights, so alice is the last
    active administrator. Request 2 then disables alice.
    """
    alice = add_user(ctx, "alice")
    later = make_session_factory(engine)()
    try:
        request2 = Context(
            db=later, settings=ctx.settings, clock=ctx.clock, passwords=ctx.passwords
        )
        alice_as_loaded = request2.db.get(User, alice.id)
        assert alice_as_loaded is not None
        assert not alice_as_loaded.is_admin

        accounts.set_admin(as_user(ctx, root), alice, True)
        ctx.db.commit()
        accounts.set_admin(as_user(ctx, alice), root, False)
        ctx.db.commit()

        try:
            accounts.set_status(request2, alice_as_loaded, UserStatus.DISABLED)
            request2.db.commit()
        except AccountError:
            request2.db.rollback()
    finally:
        later.close()
    ctx.db.expire_all()
    assert accounts.count_active_admins(ctx) >= 1


# --- two administrators removing each other at the same moment (PostgreSQL) ------------


def at_the_same_moment(actions: list[Callable[[], Any]]) -> list[Any]:
    """Run ``actions`` in threads released together by a barrier; returns their results
    in order. Any unexpected error in a thread fails the test."""
    barrier = threading.Barrier(len(actions))
    results: list[Any] = [None] * len(actions)
    errors: list[BaseException] = []

    def run(number: int) -> None:
        try:
            barrier.wait(timeout=60)
            results[number] = actions[number]()
        except BaseException as error:  # reported in the main thread
            barrier.abort()
            errors.append(error)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(len(actions))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "an action never finished"
    assert errors == []
    return results


REMOVALS: dict[str, Callable[[Context, User], None]] = {
    "revoke": lambda ctx, user: accounts.set_admin(ctx, user, False),
    "delete": accounts.delete_user,
    "disable": lambda ctx, user: accounts.set_status(ctx, user, UserStatus.DISABLED),
}


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("revoke", "revoke"),
        ("delete", "delete"),
        ("disable", "disable"),
        ("revoke", "delete"),
        ("delete", "disable"),
        ("disable", "revoke"),
    ],
)
def test_two_admins_removing_each_other_at_once_leave_one_in_charge(ctx, engine, first, second):
    factory = make_session_factory(engine)
    for round_number in range(5):
        a = add_user(ctx, f"a{round_number}", is_admin=True)
        b = add_user(ctx, f"b{round_number}", is_admin=True)
        assert accounts.count_active_admins(ctx) == 2

        def prepare(actor: User, target: User, removal: str) -> Callable[[], str]:
            # each request has its own database session and has loaded its target
            db = factory()
            request = Context(
                db=db, settings=ctx.settings, clock=ctx.clock, passwords=ctx.passwords
            ).acting_as(actor.id, actor.username)
            loaded = db.get(User, target.id)
            assert loaded is not None and loaded.is_admin

            def act() -> str:
                try:
                    REMOVALS[removal](request, loaded)
                    db.commit()
                    return "done"
                except AccountError:
                    db.rollback()
                    return "refused"
                finally:
                    db.close()

            return act

        outcomes = at_the_same_moment([prepare(a, b, first), prepare(b, a, second)])
        assert sorted(outcomes) == ["done", "refused"], (round_number, outcomes)
        ctx.db.expire_all()
        assert accounts.count_active_admins(ctx) == 1
        # set up the next round from scratch: nobody is an administrator any more
        ctx.db.execute(update(User).values(is_admin=False))
        ctx.db.commit()


# --- names the database must be able to store -----------------------------------------


@pytest.mark.parametrize(
    "full_name",
    [
        pytest.param("\u0390" * 200, id="200 letters that casefold to 600"),
        pytest.param("Ali\x00ce", id="NUL"),
    ],
)
def test_a_full_name_is_either_stored_and_found_or_refused_never_a_database_error(ctx, full_name):
    alice = add_user(ctx)
    try:
        accounts.edit_user(ctx, alice, email=None, full_name=full_name)
        ctx.db.commit()
    except AccountError:
        ctx.db.rollback()
        assert reread(ctx, alice).full_name == ""
        return
    assert reread(ctx, alice).full_name == full_name


# --- two-factor changes at once --------------------------------------------------------

TOKEN_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def _credential_changes(ctx: Context) -> dict[str, Callable[[Context, User], None]]:
    def replace_token(request: Context, user: User) -> None:
        code = pyotp.TOTP(TOKEN_SECRET).at(request.clock())
        mfa.enrol_hardware(request, user, TOKEN_SECRET, code, replace=True)

    return {"replace": replace_token, "remove": mfa.remove}


def test_replacing_and_removing_two_factor_at_once_never_leave_flag_and_credential_apart(
    ctx, engine
):
    """An administrator replaces a user's token while another removes two-factor:
    whichever wins, the user row's flag says exactly whether a credential exists."""
    factory = make_session_factory(engine)
    changes = _credential_changes(ctx)
    for round_number in range(8):
        user = add_user(ctx, f"u{round_number}")
        secret = pyotp.random_base32(32)
        mfa.enrol_app(ctx, user, secret, pyotp.TOTP(secret).at(ctx.clock()))
        ctx.db.commit()

        def prepare(change: str, user_id: int = user.id) -> Callable[[], str]:
            db = factory()
            request = Context(
                db=db, settings=ctx.settings, clock=ctx.clock, passwords=ctx.passwords
            )
            loaded = db.get(User, user_id)
            assert loaded is not None and loaded.has_two_factor

            def act() -> str:
                try:
                    changes[change](request, loaded)
                    db.commit()
                    return "done"
                except mfa.TwoFactorError:
                    db.rollback()
                    return "refused"
                finally:
                    db.close()

            return act

        at_the_same_moment([prepare("replace"), prepare("remove")])
        ctx.db.expire_all()
        flag = ctx.db.scalar(select(User.two_factor_enabled_at).where(User.id == user.id))
        credentials = ctx.db.scalar(
            select(func.count()).where(TwoFactorCredential.user_id == user.id)
        )
        assert (flag is not None) == (credentials == 1), (round_number, flag, credentials)
