"""The device-login services without the web: codes, decisions, the one exchange,
wrong user codes, reports and cleanup."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from camauth.models import DeviceRequest, DeviceRequestStatus, SessionKind, UserCodeFailure
from camauth.services import device_login, housekeeping, sessions, user_codes
from camauth.services.device_login import GrantError

from .conftest import add_user, from_ip, with_settings

TOOL_IP = "192.0.2.77"


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("WDJB-MJHT", "WDJBMJHT"),
        ("wdjbmjht", "WDJBMJHT"),
        (" wdjb mjht ", "WDJBMJHT"),
        ("W-D-J-B-M-J-H-T", "WDJBMJHT"),
        ("WDJB-MJH", None),  # too short
        ("WDJB-MJHTX", None),  # too long
        ("WDJA-MJHT", None),  # a vowel is never in a code
        ("WDJB-MJH1", None),
        ("", None),
        ("\uff37\uff24\uff2a\uff22-\uff2d\uff2a\uff28\uff34", None),  # full-width letters
    ],
)
def test_user_codes_are_read_in_any_case_with_or_without_dashes(typed, stored):
    assert device_login.normalise_user_code(typed) == stored


def test_a_request_stores_digests_and_codes_from_the_alphabet(ctx, clock):
    grant = device_login.start(from_ip(ctx, TOOL_IP), client_id="cli", scope=None)
    ctx.db.commit()
    row = ctx.db.scalar(select(DeviceRequest))
    assert row.device_code_digest == sessions.token_digest(grant.device_code)
    assert len(grant.device_code) >= 43
    assert device_login.display_user_code(row.user_code) == grant.user_code
    assert set(row.user_code) <= set(device_login.USER_CODE_ALPHABET)
    assert (row.scope, row.ip, row.network) == ("api", TOOL_IP, TOOL_IP)
    assert row.expires_at == clock() + timedelta(minutes=10)


def test_an_approved_code_is_exchanged_once_for_an_api_session(ctx, clock):
    alice = add_user(ctx)
    tool = from_ip(ctx, TOOL_IP)
    grant = device_login.start(tool, client_id="cli", scope="api", hostname="box")
    row_id = ctx.db.scalar(select(DeviceRequest.id))
    assert device_login.decide(ctx, alice, row_id, DeviceRequestStatus.APPROVED)
    assert not device_login.decide(ctx, alice, row_id, DeviceRequestStatus.DENIED)
    issued = device_login.exchange(tool, device_code=grant.device_code, client_id="cli")
    ctx.db.commit()
    [api] = sessions.live_sessions(ctx, alice)
    assert (api.kind, api.client_id, api.hostname, api.scope) == (
        SessionKind.API,
        "cli",
        "box",
        "api",
    )
    assert api.token_digest == sessions.token_digest(issued.access_token)
    clock.advance(seconds=10)
    with pytest.raises(GrantError) as again:
        device_login.exchange(tool, device_code=grant.device_code, client_id="cli")
    assert again.value.error == "invalid_grant"


def test_a_decision_on_an_expired_request_changes_nothing(ctx, clock):
    alice = add_user(ctx)
    device_login.start(from_ip(ctx, TOOL_IP), client_id="cli", scope=None)
    row_id = ctx.db.scalar(select(DeviceRequest.id))
    clock.advance(minutes=10)
    assert not device_login.decide(ctx, alice, row_id, DeviceRequestStatus.APPROVED)
    assert device_login.pending(ctx, row_id) is None


def test_wrong_user_codes_are_limited_per_person_and_per_network(ctx, clock):
    alice, bob, carol = add_user(ctx), add_user(ctx, "bob"), add_user(ctx, "carol")
    here, elsewhere = from_ip(ctx, "198.51.100.7"), from_ip(ctx, "203.0.113.9")
    outcomes = [user_codes.enter(here, alice, "BCDF-GHJK") for _ in range(5)]
    assert [getattr(o, "tries_left", None) for o in outcomes] == [4, 3, 2, 1, None]
    assert isinstance(outcomes[-1], user_codes.TooManyWrongCodes)
    # the same network is limited for everyone; alice is limited everywhere
    assert isinstance(user_codes.enter(here, bob, "BCDF-GHJK"), user_codes.TooManyWrongCodes)
    assert isinstance(user_codes.enter(elsewhere, alice, "x"), user_codes.TooManyWrongCodes)
    assert isinstance(user_codes.enter(elsewhere, carol, "x"), user_codes.WrongCode)
    clock.advance(minutes=10)
    device_login.start(from_ip(ctx, TOOL_IP), client_id="cli", scope=None)
    code = ctx.db.scalar(select(DeviceRequest.user_code))
    assert isinstance(user_codes.enter(here, alice, code), DeviceRequest)


def test_a_report_blocks_the_network_for_the_configured_time(ctx, clock):
    alice = add_user(ctx)
    tool = from_ip(ctx, "2001:db8:1:2::7")
    device_login.start(tool, client_id="cli", scope=None)
    row_id = ctx.db.scalar(select(DeviceRequest.id))
    assert device_login.decide(ctx, alice, row_id, DeviceRequestStatus.REPORTED)
    neighbour = from_ip(ctx, "2001:db8:1:2::99")  # the same /64
    with pytest.raises(GrantError) as blocked:
        device_login.start(neighbour, client_id="cli", scope=None)
    assert blocked.value.error == "access_denied"
    [report] = device_login.recent_reports(ctx)
    assert (report.reported_by, report.request.id) == ("alice", row_id)
    clock.advance(minutes=60)
    device_login.start(neighbour, client_id="cli", scope=None)
    unblocked = with_settings(from_ip(ctx, "2001:db8:1:2::7"), device_report_block_minutes=0)
    device_login.start(unblocked, client_id="cli", scope=None)


def test_cleanup_forgets_old_requests_and_wrong_codes(ctx, clock):
    alice = add_user(ctx)
    device_login.start(from_ip(ctx, TOOL_IP), client_id="cli", scope=None)
    user_codes.enter(ctx, alice, "nope")
    ctx.db.commit()
    clock.advance(minutes=11)
    counts = housekeeping.cleanup(ctx)
    assert (counts["device requests"], counts["wrong user codes"]) == (0, 1)
    clock.advance(days=30)
    assert housekeeping.cleanup(ctx)["device requests"] == 1
    ctx.db.commit()
    for model in (DeviceRequest, UserCodeFailure):
        assert ctx.db.scalar(select(func.count()).select_from(model)) == 0
