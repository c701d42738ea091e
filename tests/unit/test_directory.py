"""The console's user directory (services/directory.py, PRODUCT §9): search, filter,
page, and the one-user overview."""

from __future__ import annotations

from datetime import timedelta

import pyotp
import pytest

from camauth.models import UNTRUSTED_SCOPE, SessionKind, UserStatus
from camauth.services import accounts, audit, directory, lockout, mfa, recovery_codes, sessions
from camauth.services.audit import Event
from camauth.services.directory import MAX_SEARCH, MatchCount, SearchError, UserFilter
from camauth.services.paging import Cursor

from .conftest import add_user

DEVICE = "device-0123456789abcdef"
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def found(ctx, text="", status=None, **kw):
    """Usernames on the first page of a search (per_page large enough for all)."""
    page = directory.search_users(ctx, UserFilter(text, status), per_page=100, **kw)
    return [row.user.username for row in page.items]


@pytest.fixture
def people(ctx):
    add_user(ctx, "alice", email="alice@example.org", full_name="Alice Smith")
    add_user(ctx, "bob", email="Bob.Jones@Example.com", full_name="Robert Jones")
    add_user(ctx, "carol_x", full_name="Carol 100% Real")
    add_user(ctx, "carolyx", full_name="Carol Y")
    add_user(ctx, "dave", email="per%cent@example.net", full_name="Dave Back\\slash")
    add_user(ctx, "eve", full_name="Eve 1000 Real")
    add_user(ctx, "Zoë", full_name="Zoë Ångström", status=UserStatus.DISABLED)
    add_user(ctx, "pat", status=UserStatus.PENDING_APPROVAL)


# --- search -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ["alice", "bob", "carol_x", "carolyx", "dave", "eve", "pat", "Zoë"]),
        ("   ", ["alice", "bob", "carol_x", "carolyx", "dave", "eve", "pat", "Zoë"]),
        ("lic", ["alice"]),  # part of a username
        ("ALI", ["alice"]),  # in any case
        (" alice ", ["alice"]),  # surrounding space ignored
        ("jones@", ["bob"]),  # part of an address
        ("EXAMPLE.COM", ["bob"]),  # address in another case
        ("example", ["alice", "bob", "dave"]),
        ("smith", ["alice"]),  # part of a full name
        ("ROBERT", ["bob"]),
        ("real", ["carol_x", "eve"]),
        ("zoë", ["Zoë"]),  # a username with a non-ASCII letter
        ("nobody", []),
    ],
)
def test_search_finds_a_part_of_username_email_or_full_name(ctx, people, text, expected):
    assert found(ctx, text) == expected
    assert directory.count_users(ctx, UserFilter(text)) == MatchCount(len(expected))


def test_search_in_full_names_ignores_case_of_non_ascii_letters(ctx, people):
    assert found(ctx, "Ångström") == ["Zoë"]
    assert found(ctx, "ångström") == ["Zoë"]
    assert found(ctx, "ÅNGSTRÖM") == ["Zoë"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ol_", ["carol_x"]),  # as a wildcard also "carolyx"
        ("l_x", ["carol_x"]),  # ... and "carolyx" here
        ("00%", ["carol_x"]),  # "100%" in a name; as a wildcard also "1000 Real"
        ("0% R", ["carol_x"]),  # as a wildcard also "1000 Real"
        ("r%c", ["dave"]),  # as a wildcard also "carol_x", "carolyx"
        ("k\\s", ["dave"]),
        ("\\%c", []),  # the characters side by side appear nowhere
        ("\\_x", []),
        # one or two characters match the start of a name, also taken literally
        ("_", []),  # as a wildcard it would match every name
        ("%", []),
        ("\\", []),  # a lone escape character
        ("p_", []),  # as a wildcard "pat" and "per%cent@..."
        ("pe", ["dave"]),  # "per%cent@example.net"
    ],
)
def test_like_wildcards_in_the_search_are_taken_literally(ctx, people, text, expected):
    assert found(ctx, text) == expected
    assert directory.count_users(ctx, UserFilter(text)) == MatchCount(len(expected))


def test_status_filter_alone_and_with_a_search(ctx, people):
    assert found(ctx, status=UserStatus.DISABLED) == ["Zoë"]
    assert found(ctx, status=UserStatus.PENDING_APPROVAL) == ["pat"]
    assert found(ctx, status=UserStatus.PENDING_EMAIL) == []
    assert found(ctx, "carol", UserStatus.ACTIVE) == ["carol_x", "carolyx"]
    assert found(ctx, "zo", UserStatus.ACTIVE) == []
    assert directory.count_users(ctx, UserFilter(status=UserStatus.ACTIVE)) == MatchCount(6)
    assert found(ctx, "a", UserStatus.ACTIVE) == ["alice"]  # "a" starts only "alice"
    assert directory.count_users(ctx, UserFilter("a", UserStatus.ACTIVE)) == MatchCount(1)


def test_a_search_of_exactly_the_limit_runs_and_a_longer_one_is_refused(ctx, people):
    assert found(ctx, "x" * MAX_SEARCH) == []
    assert found(ctx, "  " + "x" * MAX_SEARCH + "  ") == []  # spaces around do not count
    for criteria in (UserFilter("x" * (MAX_SEARCH + 1)), UserFilter("a\x00b")):
        with pytest.raises(SearchError) as refused:
            directory.search_users(ctx, criteria)
        assert str(refused.value)
        with pytest.raises(SearchError):
            directory.count_users(ctx, criteria)


# --- paging -------------------------------------------------------------------------

NAMES = ["mike", "Anna", "zed", "bea", "Carl", "dora", "Émile", "finn", "gus", "Hal", "ivy"]


def walk(ctx, criteria, per_page):
    pages = [directory.search_users(ctx, criteria, per_page=per_page)]
    while pages[-1].next is not None:
        assert len(pages) < 50
        cursor = Cursor.decode(pages[-1].next.encode(), (str,))
        pages.append(directory.search_users(ctx, criteria, cursor, per_page=per_page))
    return pages


def walk_back(ctx, criteria, last, per_page):
    pages = [last]
    while pages[0].previous is not None:
        assert len(pages) < 50
        cursor = Cursor.decode(pages[0].previous.encode(), (str,))
        pages.insert(0, directory.search_users(ctx, criteria, cursor, per_page=per_page))
    return pages


def usernames(pages):
    return [[row.user.username for row in page.items] for page in pages]


@pytest.mark.parametrize("per_page", [1, 3, 4, 11, 50])
def test_paging_visits_every_user_once_in_username_order_both_ways(ctx, per_page):
    for name in NAMES:
        add_user(ctx, name)
    expected = sorted(NAMES, key=str.casefold)
    forward = walk(ctx, UserFilter(), per_page)
    assert [name for page in usernames(forward) for name in page] == expected
    assert all(len(page.items) == per_page for page in forward[:-1])
    assert forward[0].previous is None
    backward = walk_back(ctx, UserFilter(), forward[-1], per_page)
    assert usernames(backward) == usernames(forward)


def test_paging_a_filtered_list_stays_within_the_filter(ctx):
    for number, name in enumerate(NAMES):
        status = UserStatus.DISABLED if number % 2 else UserStatus.ACTIVE
        add_user(ctx, name, status=status)
    criteria = UserFilter(status=UserStatus.DISABLED)
    forward = walk(ctx, criteria, 2)
    disabled = sorted(NAMES[1::2], key=str.casefold)
    assert [name for page in usernames(forward) for name in page] == disabled
    assert usernames(walk_back(ctx, criteria, forward[-1], 2)) == usernames(forward)


# --- the list's lock and session columns -------------------------------------------


def fail(ctx, user, times, scope=UNTRUSTED_SCOPE, username_key=None):
    for _ in range(times):
        lockout.record_failure(ctx, username_key or user.username_key, scope=scope, user=user)
    ctx.db.commit()


def rows_by_name(ctx):
    page = directory.search_users(ctx, UserFilter(), per_page=100)
    return {row.user.username: row for row in page.items}


def test_locked_until_is_the_latest_lock_in_force_of_any_scope(ctx, clock):
    alice = add_user(ctx, "Alice")
    bob = add_user(ctx, "bob")
    add_user(ctx, "carol")
    fail(ctx, alice, 10)  # untrusted clients: 10 minutes
    untrusted_until = clock() + timedelta(minutes=10)
    clock.advance(minutes=5)
    fail(ctx, alice, 10, scope=DEVICE)  # one device: until 15 minutes from the start
    device_until = clock() + timedelta(minutes=10)
    fail(ctx, bob, 9)  # not locked
    rows = rows_by_name(ctx)
    assert rows["Alice"].locked_until == device_until
    assert rows["bob"].locked_until is None
    assert rows["carol"].locked_until is None

    clock.now = untrusted_until  # the untrusted lock has ended, the device's not
    assert rows_by_name(ctx)["Alice"].locked_until == device_until
    clock.now = device_until
    assert rows_by_name(ctx)["Alice"].locked_until is None


def test_the_device_lock_alone_shows_too(ctx, clock):
    alice = add_user(ctx)
    fail(ctx, alice, 10, scope=DEVICE)
    assert rows_by_name(ctx)["alice"].locked_until == clock() + timedelta(minutes=10)
    lockout.unlock(ctx, alice.username_key, alice)
    ctx.db.commit()
    assert rows_by_name(ctx)["alice"].locked_until is None


def test_the_sessions_column_counts_live_logged_in_sessions_only(ctx, clock):
    alice = add_user(ctx, "alice")
    bob = add_user(ctx, "bob")
    add_user(ctx, "carol")
    sessions.create_session(ctx, user=alice)  # will have timed out (idle)
    _, old = sessions.create_session(ctx, user=bob)  # will have timed out (absolute)
    clock.advance(hours=11, minutes=59)
    sessions.create_session(ctx, user=alice)
    sessions.create_session(ctx, user=alice, kind=SessionKind.API)
    sessions.create_session(ctx, user=bob)
    sessions.create_session(ctx, user=None)  # anonymous
    old.last_seen_at = clock()  # active, but about to reach 12 hours
    ctx.db.commit()
    rows = rows_by_name(ctx)
    assert (rows["alice"].sessions, rows["bob"].sessions, rows["carol"].sessions) == (2, 2, 0)
    clock.advance(minutes=1)
    rows = rows_by_name(ctx)
    assert (rows["alice"].sessions, rows["bob"].sessions, rows["carol"].sessions) == (2, 1, 0)
    clock.advance(minutes=30)  # the browser session idled out; the API one lives for days
    assert rows_by_name(ctx)["alice"].sessions == 1
    clock.advance(days=30)
    assert rows_by_name(ctx)["alice"].sessions == 0


# --- one user's overview ------------------------------------------------------------


def test_overview_lists_each_scope_with_its_counted_failures_and_lock(ctx, clock):
    alice = add_user(ctx)
    fail(ctx, alice, 10, scope=DEVICE)
    device_until = clock() + timedelta(minutes=10)
    clock.advance(minutes=1)
    fail(ctx, alice, 3)
    view = directory.overview(ctx, alice)
    assert [(lock.scope, lock.failures, lock.locked_until) for lock in view.locks] == [
        (UNTRUSTED_SCOPE, 3, None),
        (DEVICE, 10, device_until),
    ]
    assert view.failures == 13
    assert view.locked_until == device_until


def test_overview_counts_failures_since_the_last_success_and_within_the_window(ctx, clock):
    alice = add_user(ctx)
    fail(ctx, alice, 4)
    clock.advance(minutes=1)
    lockout.reset_after_success(ctx, alice.username_key, UNTRUSTED_SCOPE)
    clock.advance(minutes=1)
    fail(ctx, alice, 2)
    assert [(lock.scope, lock.failures) for lock in directory.overview(ctx, alice).locks] == [
        (UNTRUSTED_SCOPE, 2)
    ]
    clock.advance(hours=24)  # out of the failure window
    view = directory.overview(ctx, alice)
    assert view.locks == []
    assert (view.failures, view.locked_until) == (0, None)


def test_overview_leaves_out_a_scope_with_nothing_to_show(ctx, clock):
    alice = add_user(ctx)
    fail(ctx, alice, 10)
    lockout.unlock(ctx, alice.username_key, alice)  # the row stays, counting from now
    ctx.db.commit()
    assert directory.overview(ctx, alice).locks == []


def test_overview_ignores_other_usernames(ctx):
    alice = add_user(ctx)
    bob = add_user(ctx, "bob")
    fail(ctx, bob, 10)
    fail(ctx, alice, 1, username_key="alicia")  # a typo: another username's count
    assert directory.overview(ctx, alice).locks == []


def test_overview_password_age(ctx, clock):
    alice = add_user(ctx)
    clock.advance(days=3, hours=2)
    assert directory.overview(ctx, alice).password_age == timedelta(days=3, hours=2)
    nopass = accounts.create_user(ctx, "nopass")
    assert directory.overview(ctx, nopass).password_age is None


def test_overview_two_factor_and_recovery_codes_left(ctx, clock):
    alice = add_user(ctx)
    bob = add_user(ctx, "bob")
    codes = mfa.enrol_app(ctx, alice, SECRET, pyotp.TOTP(SECRET).at(clock()))
    ctx.db.commit()
    view = directory.overview(ctx, alice)
    assert view.two_factor is not None
    assert view.two_factor.user_id == alice.id
    assert view.recovery_codes_left == 10
    assert recovery_codes.spend(ctx, alice, codes[0])
    assert recovery_codes.spend(ctx, alice, codes[1])
    assert directory.overview(ctx, alice).recovery_codes_left == 8
    other = directory.overview(ctx, bob)
    assert (other.two_factor, other.recovery_codes_left) == (None, 0)


def test_overview_sessions_are_the_users_live_ones(ctx, clock):
    alice = add_user(ctx)
    bob = add_user(ctx, "bob")
    sessions.create_session(ctx, user=alice)
    clock.advance(minutes=31)
    _, live = sessions.create_session(ctx, user=alice)
    sessions.create_session(ctx, user=bob)
    ctx.db.commit()
    assert [row.id for row in directory.overview(ctx, alice).sessions] == [live.id]


def test_overview_recent_events_are_about_the_user_newest_first_at_most_twenty(ctx, clock):
    alice = add_user(ctx)
    bob = add_user(ctx, "bob")
    for number in range(25):
        clock.advance(seconds=1 if number % 3 else 0)  # some share a time
        audit.record(ctx, Event.USER_EDITED, target=alice, details={"n": number})
        audit.record(ctx, Event.USER_EDITED, target=bob, details={"n": number})
    ctx.db.commit()
    events = directory.overview(ctx, alice).recent_events
    assert len(events) == directory.RECENT_EVENTS == 20
    assert {event.target_id for event in events} == {alice.id}
    assert [event.details["n"] for event in events] == list(range(24, 4, -1))


def test_users_by_status_lists_every_status(ctx):
    assert directory.users_by_status(ctx) == {status.value: 0 for status in UserStatus}
    add_user(ctx, "a")
    add_user(ctx, "b")
    add_user(ctx, "c", status=UserStatus.DISABLED)
    add_user(ctx, "d", status=UserStatus.PENDING_EMAIL)
    assert directory.users_by_status(ctx) == {
        "active": 2,
        "disabled": 1,
        "pending_approval": 0,
        "pending_email": 1,
    }
