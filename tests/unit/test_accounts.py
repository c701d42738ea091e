"""Creating, finding and changing accounts (PRODUCT §2, §3)."""

from __future__ import annotations

import pytest

from camauth.models import SessionKind, UserStatus
from camauth.services import accounts, audit, sessions
from camauth.services.accounts import AccountError
from camauth.services.audit import Event

from ..conftest import GOOD_PASSWORD
from .conftest import add_user


@pytest.mark.parametrize(
    "name",
    ["a", "x" * 150, "jo.smith", "j_o-e@example.org", "Zoë", "Ørjan", "用户", "Дмитрий", "user42"],
)
def test_valid_usernames_are_accepted(ctx, name):
    assert accounts.username_problem(name) is None
    user = add_user(ctx, name)
    assert user.username == name
    assert accounts.find_user(ctx, name) is user


@pytest.mark.parametrize(
    "name",
    [
        "",
        "   ",
        "\t\n",
        "x" * 151,
        "ß" * 100,  # casefolds to 200 characters
        "two words",
        "semi;colon",
        "slash/",
        "quote'",
        "<script>",
        "smile😀",
    ],
)
def test_bad_usernames_are_refused_with_a_message(ctx, name):
    problem = accounts.username_problem(name)
    assert problem
    with pytest.raises(AccountError) as refused:
        accounts.create_user(ctx, name, password=GOOD_PASSWORD)
    assert str(refused.value) == problem
    assert accounts.count_users(ctx) == 0


def test_surrounding_space_is_trimmed(ctx):
    assert add_user(ctx, "  alice ").username == "alice"


def test_usernames_are_unique_case_insensitively(ctx):
    add_user(ctx, "Alice")
    for other in ("alice", "ALICE", " aLiCe "):
        with pytest.raises(AccountError, match="already taken"):
            accounts.create_user(ctx, other, password=GOOD_PASSWORD)
    assert accounts.find_user(ctx, "ALICE").username == "Alice"


def test_unicode_case_folding_applies(ctx):
    add_user(ctx, "Straße")
    assert accounts.find_user(ctx, "STRASSE").username == "Straße"
    with pytest.raises(AccountError, match="already taken"):
        accounts.create_user(ctx, "strasse", password=GOOD_PASSWORD)


def test_look_alike_unicode_forms_are_the_same_username(ctx):
    add_user(ctx, "Zoë")  # composed ë
    decomposed = "Zoe\u0308"
    assert accounts.username_problem(decomposed) is None
    assert accounts.find_user(ctx, decomposed).username == "Zoë"
    add_user(ctx, "alice")
    with pytest.raises(AccountError, match="already taken"):
        accounts.create_user(
            ctx, "\uff41\uff4c\uff49\uff43\uff45", password=GOOD_PASSWORD
        )  # fullwidth


@pytest.mark.parametrize("name", ["system", "SYSTEM", " System "])
def test_reserved_system_name_is_refused(ctx, name):
    with pytest.raises(AccountError, match="reserved"):
        accounts.create_user(ctx, name, password=GOOD_PASSWORD)


def test_email_is_unique_case_insensitively_and_optional(ctx):
    add_user(ctx, "alice", email="Alice@Example.org")
    with pytest.raises(AccountError, match="email"):
        accounts.create_user(ctx, "bob", password=GOOD_PASSWORD, email=" alice@example.ORG ")
    # no email (or an empty one) is never a clash
    add_user(ctx, "carol")
    add_user(ctx, "dave", email="")
    add_user(ctx, "erin", email=None)
    assert accounts.find_user(ctx, "dave").email is None


def test_find_user_by_login_accepts_username_or_email(ctx):
    user = add_user(ctx, "alice", email="alice@example.org")
    assert accounts.find_user_by_login(ctx, "ALICE") is user
    assert accounts.find_user_by_login(ctx, "Alice@Example.ORG") is user
    assert accounts.find_user_by_login(ctx, "nobody@example.org") is None


def test_create_user_sets_fields_and_audits(ctx, clock):
    user = accounts.create_user(
        ctx,
        "alice",
        password=GOOD_PASSWORD,
        email="alice@example.org",
        full_name=" Alice Liddell ",
        is_admin=True,
        must_change_password=True,
        extra={"site": 3},
    )
    ctx.db.commit()
    ctx.db.expire_all()
    user = accounts.find_user(ctx, "alice")
    assert (user.full_name, user.is_admin, user.must_change_password) == (
        "Alice Liddell",
        True,
        True,
    )
    assert (user.status, user.extra) == ("active", {"site": 3})
    assert user.created_at == user.password_changed_at == clock()
    assert ctx.passwords.verify(user.password_hash, GOOD_PASSWORD).ok
    assert GOOD_PASSWORD not in user.password_hash
    [created] = audit.events(ctx, event=Event.USER_CREATED)
    assert (created.target_id, created.actor_name) == (user.id, "system")


def test_disabling_ends_all_sessions(ctx):
    user = add_user(ctx)
    other = add_user(ctx, "bob")
    sessions.create_session(ctx, user=user)
    sessions.create_session(ctx, user=user, kind=SessionKind.API)
    sessions.create_session(ctx, user=other)
    accounts.set_status(ctx, user, UserStatus.DISABLED)
    assert sessions.live_sessions(ctx, user) == []
    assert len(sessions.live_sessions(ctx, other)) == 1
    assert user.status == "disabled"
    assert Event.USER_DISABLED in [row.event for row in audit.events(ctx)]


def test_enabling_a_disabled_user(ctx):
    user = add_user(ctx, status=UserStatus.DISABLED)
    accounts.set_status(ctx, user, UserStatus.ACTIVE)
    assert user.is_active
    [enabled] = audit.events(ctx, event=Event.USER_ENABLED)
    assert enabled.details == {"from": "disabled", "to": "active"}


@pytest.mark.parametrize("status", [UserStatus.PENDING_APPROVAL, UserStatus.PENDING_EMAIL])
def test_approve_activates_a_pending_user(ctx, status):
    user = add_user(ctx, status=status)
    accounts.approve(ctx, user)
    assert user.status == "active"
    assert len(audit.events(ctx, event=Event.USER_APPROVED)) == 1


@pytest.mark.parametrize("status", [UserStatus.ACTIVE, UserStatus.DISABLED])
def test_approve_refuses_users_not_pending(ctx, status):
    user = add_user(ctx, status=status)
    with pytest.raises(AccountError, match="not waiting"):
        accounts.approve(ctx, user)
    assert user.status == status.value


def test_delete_user(ctx):
    admin = add_user(ctx, "root", is_admin=True)
    user = add_user(ctx)
    accounts.delete_user(ctx.acting_as(admin.id, admin.username), user)
    ctx.db.commit()
    assert accounts.find_user(ctx, "alice") is None
    [deleted] = audit.events(ctx, event=Event.USER_DELETED)
    assert deleted.target_name == "alice"
    assert deleted.target_id is None  # the row outlives the user it names


def test_delete_refuses_yourself(ctx):
    admin = add_user(ctx, "root", is_admin=True)
    add_user(ctx, "root2", is_admin=True)
    with pytest.raises(AccountError, match="your own"):
        accounts.delete_user(ctx.acting_as(admin.id, admin.username), admin)
    assert accounts.find_user(ctx, "root") is admin


def test_delete_refuses_the_last_active_admin(ctx):
    admin = add_user(ctx, "root", is_admin=True)
    add_user(ctx, "retired", is_admin=True, status=UserStatus.DISABLED)
    with pytest.raises(AccountError, match="last active administrator"):
        accounts.delete_user(ctx, admin)
    add_user(ctx, "deputy", is_admin=True)
    accounts.delete_user(ctx, admin)
    ctx.db.commit()
    assert accounts.find_user(ctx, "root") is None


def test_ensure_first_admin_creates_once(ctx):
    created = accounts.ensure_first_admin(ctx)
    assert created is not None
    admin, password = created
    assert (admin.username, admin.is_admin, admin.must_change_password) == ("admin", True, True)
    assert len(password) >= 16
    assert ctx.passwords.verify(admin.password_hash, password).ok
    assert accounts.ensure_first_admin(ctx) is None
    assert accounts.count_users(ctx) == 1


def test_ensure_first_admin_does_nothing_when_any_user_exists(ctx):
    add_user(ctx)
    assert accounts.ensure_first_admin(ctx) is None
    assert accounts.find_user(ctx, "admin") is None


@pytest.mark.parametrize(
    "email",
    [
        "victim@example.org,x.y",  # a list: the envelope went to victim@example.org
        "victim@example.org>z.y",
        "victim@ex\uff41mple.org",  # full-width "a": IDNA maps it to example.org
        "anna@faß.de",  # IDNA 2003 maps "ß" to "ss": fass.de is someone else's domain
        "a@" + "ﬃ." * 80 + "de",  # casefolding lengthens it past the column
        "ålice@example.org",  # needs SMTPUTF8
        "alice@ex_ample.org",
        "a@b@example.org",
    ],
)
def test_addresses_that_would_reach_another_mailbox_are_refused(email):
    assert accounts.email_problem(email) is not None


@pytest.mark.parametrize(
    ("email", "header"),
    [
        ("alice@example.org", "alice@example.org"),
        ("o'brien+tag@sub.example.co.uk", "o'brien+tag@sub.example.co.uk"),
        ("alice@exämple.org", "alice@xn--exmple-cua.org"),
        ("alice@xn--exmple-cua.org", "alice@xn--exmple-cua.org"),
    ],
)
def test_ordinary_and_international_addresses_are_accepted(email, header):
    assert accounts.email_problem(email) is None
    assert accounts.mail_address(email) == header
