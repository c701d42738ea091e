"""Server-side sessions (PRODUCT §5): tokens, digests, timeouts, ending and listing."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from sqlalchemy import event, inspect, select, text
from sqlalchemy.orm import Session

from camauth.models import SessionKind, User, UserStatus, WebSession
from camauth.services import accounts, audit, sessions
from camauth.services.audit import Event
from camauth.services.session_lookup import SessionLookup

from .conftest import ATTACKER_IP, USER_IP, add_user, from_ip, with_settings


def new_session(ctx, user, kind=SessionKind.BROWSER, ip=USER_IP):
    token, row = sessions.create_session(from_ip(ctx, ip), user=user, kind=kind)
    ctx.db.commit()
    return token, row


def remaining_ids(ctx):
    return set(ctx.db.scalars(select(WebSession.id)))


def test_create_and_load_by_token(ctx, clock):
    user = add_user(ctx)
    token, row = new_session(ctx, user)
    loaded = sessions.load_session(ctx, token, USER_IP)
    assert loaded is not None
    assert loaded.row.id == row.id
    assert loaded.user is not None
    assert loaded.user.id == user.id
    assert (row.created_at, row.last_seen_at, row.authenticated_at) == (clock(),) * 3
    assert (row.ip, row.kind) == (USER_IP, "browser")


def test_unknown_or_altered_token_loads_nothing(ctx):
    token, _ = new_session(ctx, add_user(ctx))
    assert sessions.load_session(ctx, token[:-1] + ("A" if token[-1] != "A" else "B"), "") is None
    assert sessions.load_session(ctx, "", "") is None
    assert sessions.load_session(ctx, sessions.token_digest(token), "") is None


def test_tokens_are_random_and_long(ctx):
    user = add_user(ctx)
    tokens = {new_session(ctx, user)[0] for _ in range(5)}
    assert len(tokens) == 5
    assert all(len(token) >= 22 for token in tokens)  # >= 128 bits of url-safe base64


def test_only_the_sha256_digest_is_stored(ctx):
    token, row = new_session(ctx, add_user(ctx))
    assert row.token_digest == hashlib.sha256(token.encode()).hexdigest()
    with ctx.db.get_bind().connect() as connection:
        stored = connection.execute(text("SELECT * FROM web_sessions")).all()
    assert len(stored) == 1
    assert not any(token in str(value) for value in stored[0])


def test_idle_timeout(ctx, clock):
    token, _row = new_session(ctx, add_user(ctx))
    clock.advance(minutes=29, seconds=59)
    assert sessions.load_session(ctx, token, USER_IP) is not None
    clock.advance(seconds=1)
    assert sessions.load_session(ctx, token, USER_IP) is None


def test_activity_keeps_a_session_alive_until_the_absolute_timeout(ctx, clock):
    token, row = new_session(ctx, add_user(ctx))
    for _ in range(12 * 3 - 1):
        clock.advance(minutes=20)
        assert sessions.load_session(ctx, token, USER_IP) is not None
        row.last_seen_at = clock()  # what the web layer's touch does
    clock.advance(minutes=20)  # 12 hours after creation, active 20 minutes ago
    assert sessions.load_session(ctx, token, USER_IP) is None


def test_timeouts_follow_the_settings(ctx, clock):
    ctx = with_settings(ctx, session_idle_timeout_minutes=5)
    token, _ = new_session(ctx, add_user(ctx))
    clock.advance(minutes=5)
    assert sessions.load_session(ctx, token, USER_IP) is None


def test_bind_ip_refuses_another_address(ctx):
    token, _ = new_session(ctx, add_user(ctx))
    assert sessions.load_session(ctx, token, ATTACKER_IP) is not None  # default: not bound
    bound = with_settings(ctx, session_bind_ip=True)
    assert sessions.load_session(bound, token, USER_IP) is not None
    assert sessions.load_session(bound, token, ATTACKER_IP) is None


def test_session_of_a_disabled_user_does_not_load(ctx):
    user = add_user(ctx)
    token, _ = new_session(ctx, user)
    user.status = UserStatus.DISABLED.value  # even if its sessions somehow survived
    ctx.db.commit()
    assert sessions.load_session(ctx, token, USER_IP) is None


def test_anonymous_session_loads_without_user(ctx):
    token, _ = new_session(ctx, None)
    loaded = sessions.load_session(ctx, token, USER_IP)
    assert loaded is not None
    assert loaded.user is None


def test_end_user_sessions_by_kind_and_keeping_one(ctx):
    alice, bob = add_user(ctx), add_user(ctx, "bob")
    _, browser1 = new_session(ctx, alice)
    _, browser2 = new_session(ctx, alice)
    _, api = new_session(ctx, alice, SessionKind.API)
    _, bobs = new_session(ctx, bob)

    assert (
        sessions.end_user_sessions(ctx, alice, kind=SessionKind.BROWSER, keep_id=browser1.id) == 1
    )
    assert remaining_ids(ctx) == {browser1.id, api.id, bobs.id}
    assert sessions.end_user_sessions(ctx, alice, kind=SessionKind.BROWSER) == 1
    assert remaining_ids(ctx) == {api.id, bobs.id}
    assert sessions.end_user_sessions(ctx, alice) == 1
    assert remaining_ids(ctx) == {bobs.id}
    assert sessions.end_user_sessions(ctx, alice) == 0
    ended = audit.events(ctx, event=Event.SESSION_ENDED)
    assert [row.details["count"] for row in ended] == [1, 1]
    # the API session is audited as what it was
    assert [row.details for row in audit.events(ctx, event=Event.API_SESSION_ENDED)] == [
        {"count": 1}
    ]
    assert browser2.id not in {browser1.id, api.id, bobs.id}


def test_end_one_session_and_all_sessions(ctx):
    alice, bob = add_user(ctx), add_user(ctx, "bob")
    _, first = new_session(ctx, alice)
    _, second = new_session(ctx, bob)
    _, anonymous = new_session(ctx, None)
    sessions.end_session(ctx, first, reason="admin")
    assert remaining_ids(ctx) == {second.id, anonymous.id}
    [ended] = audit.events(ctx, event=Event.SESSION_ENDED)
    assert ended.target_id == alice.id
    assert ended.details == {"session": first.id, "reason": "admin"}

    assert sessions.end_all_sessions(ctx) == 1
    assert remaining_ids(ctx) == {anonymous.id}


def test_live_sessions_lists_logged_in_unexpired_newest_first(ctx, clock):
    alice, bob = add_user(ctx), add_user(ctx, "bob")
    _, _stale = new_session(ctx, alice)
    clock.advance(minutes=20)
    _, older = new_session(ctx, alice)
    clock.advance(minutes=5)
    _, newer = new_session(ctx, alice)
    _, bobs = new_session(ctx, bob, SessionKind.API)
    new_session(ctx, None)  # anonymous: not a logged-in session
    clock.advance(minutes=10)  # stale: 35 idle minutes

    assert [row.id for row in sessions.live_sessions(ctx, alice)] == [newer.id, older.id]
    assert {row.id for row in sessions.live_sessions(ctx)} == {newer.id, older.id, bobs.id}


def test_delete_expired_sessions(ctx, clock):
    user = add_user(ctx)
    _, idle = new_session(ctx, user)
    _, old = new_session(ctx, None)
    clock.advance(hours=11, minutes=50)
    _, fresh = new_session(ctx, user)
    clock.advance(minutes=10)
    # old was active a minute ago but is 12 hours old; idle has not been seen for 12 hours
    old.last_seen_at = fresh.last_seen_at = clock() - timedelta(minutes=1)
    ctx.db.commit()

    assert sessions.delete_expired_sessions(ctx) == 2
    assert remaining_ids(ctx) == {fresh.id}
    assert idle.id not in remaining_ids(ctx)


def test_deleting_a_user_deletes_their_sessions(ctx):
    admin = add_user(ctx, "root", is_admin=True)
    user = add_user(ctx)
    new_session(ctx, user)
    _, kept = new_session(ctx, admin)
    accounts.delete_user(ctx, user)
    ctx.db.commit()
    assert remaining_ids(ctx) == {kept.id}


def test_fast_lookup_finds_the_session_and_its_user(ctx):
    user = add_user(ctx, email="alice@example.org")
    token, row = new_session(ctx, user)
    anon_token, anon = new_session(ctx, None)
    lookup = SessionLookup(ctx.db.get_bind())

    found = lookup.find(sessions.token_digest(token))
    assert found is not None
    record, found_user = found
    assert (record.id, record.user_id, record.kind, record.ip) == (
        row.id,
        user.id,
        "browser",
        USER_IP,
    )
    assert record.created_at == row.created_at
    assert record.created_at.utcoffset() == timedelta(0)
    assert found_user is not None
    assert (found_user.id, found_user.username, found_user.email) == (
        user.id,
        "alice",
        "alice@example.org",
    )
    assert found_user.extra == {}
    assert found_user.is_active

    anon_found = lookup.find(sessions.token_digest(anon_token))
    assert anon_found is not None
    assert anon_found[0].id == anon.id
    assert anon_found[1] is None
    assert lookup.find(sessions.token_digest("no such token")) is None


def test_the_looked_up_user_attaches_without_a_query_and_saves_a_change(ctx):
    user = add_user(ctx, email="alice@example.org")
    token, _ = new_session(ctx, user)
    engine = ctx.db.get_bind()
    lookup = SessionLookup(engine)
    found = lookup.find(sessions.token_digest(token))
    assert found is not None
    found_user = found[1]
    assert found_user is not None
    state = inspect(found_user)
    assert state.detached and not state.modified
    assert state.key == inspect(user).key

    other = Session(engine)
    statements: list[str] = []

    def record(conn, cursor, statement, *args):
        statements.append(statement.split()[0].upper())

    event.listen(engine, "before_cursor_execute", record)
    try:
        other.add(found_user)
        assert statements == []  # attached as the persistent row it is
        found_user.full_name = "Alice Liddell"
        other.commit()
    finally:
        event.remove(engine, "before_cursor_execute", record)
        other.close()
        lookup.close_kept()
    assert statements == ["UPDATE"]
    ctx.db.expire_all()
    assert ctx.db.get(User, user.id).full_name == "Alice Liddell"
