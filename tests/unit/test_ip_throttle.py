"""The per-IP throttle: audited once per throttle, lifted by an administrator,
never holding a browser that has logged in to the account before; and unlocking
what is not locked records nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from camauth.models import AuditEvent
from camauth.services import audit, lockout, throttle_lifting
from camauth.services.audit import Event
from camauth.services.authentication import Outcome, authenticate

from ..conftest import GOOD_PASSWORD
from .conftest import ATTACKER_IP, add_user, from_ip, one_line, with_settings

WRONG = "not the password at all"
DEVICE = "device-0123456789abcdef"


@pytest.fixture
def sprayed(ctx):
    """alice exists; the attacker's address has failed 6 times (threshold 5)."""
    ctx = with_settings(ctx, lockout_ip_threshold=5)
    add_user(ctx)
    sprayer = from_ip(ctx, ATTACKER_IP)
    for n in range(6):
        assert authenticate(sprayer, f"user{n}", WRONG).outcome is Outcome.INVALID
    return sprayer


def events(ctx, event: Event) -> int:
    return ctx.db.scalar(select(func.count()).where(AuditEvent.event == event.value)) or 0


def test_a_throttle_is_audited_once_not_per_refused_attempt(sprayed):
    assert events(sprayed, Event.IP_THROTTLE) == 1
    [begun] = audit.events(sprayed, event="ip_throttle")
    assert begun.details == {"network": ATTACKER_IP, "failures": 6}
    for _ in range(20):
        assert authenticate(sprayed, "alice", GOOD_PASSWORD).outcome is Outcome.THROTTLED
    assert events(sprayed, Event.IP_THROTTLE) == 1


def test_lifting_ends_the_throttle_and_keeps_the_username_counts(sprayed):
    before = lockout.current_failures(sprayed, "user0")
    assert throttle_lifting.lift_throttle(sprayed, throttle_lifting.parse_network(ATTACKER_IP)) == 6
    assert authenticate(sprayed, "alice", GOOD_PASSWORD).outcome is Outcome.OK
    assert lockout.current_failures(sprayed, "user0") == before == 1
    [lifted] = audit.events(sprayed, event="ip_unthrottled")
    assert lifted.details == {"network": ATTACKER_IP, "failures": 6}
    with pytest.raises(throttle_lifting.NotThrottled):
        throttle_lifting.lift_throttle(sprayed, ATTACKER_IP)
    assert events(sprayed, Event.IP_UNTHROTTLED) == 1


def test_a_new_throttle_after_a_lift_is_audited_again(sprayed):
    throttle_lifting.lift_throttle(sprayed, ATTACKER_IP)
    for n in range(6):
        authenticate(sprayed, f"again{n}", WRONG)
    assert authenticate(sprayed, "alice", GOOD_PASSWORD).outcome is Outcome.THROTTLED
    assert events(sprayed, Event.IP_THROTTLE) == 2


def test_a_known_browser_is_not_held_by_its_networks_throttle(sprayed):
    assert authenticate(sprayed, "alice", GOOD_PASSWORD).outcome is Outcome.THROTTLED
    owner = authenticate(sprayed, "alice", GOOD_PASSWORD, trusted_device=DEVICE)
    assert owner.outcome is Outcome.OK


@pytest.mark.parametrize(
    ("text", "network"),
    [
        ("203.0.113.66", "203.0.113.66"),
        (" 203.0.113.66/32 ", "203.0.113.66"),
        ("2001:db8:0:7::abcd", "2001:db8:0:7::/64"),
        ("2001:db8:0:7::/64", "2001:db8:0:7::/64"),
        ("2001:db8:0:7:1::/64", "2001:db8:0:7::/64"),
    ],
)
def test_parse_network(text, network):
    assert throttle_lifting.parse_network(text) == network


@pytest.mark.parametrize("text", ["", "nonsense", "203.0.113.0/24", "2001:db8::/48", "1.2.3.4.5"])
def test_parse_network_refuses_what_no_throttle_counts(text):
    with pytest.raises(ValueError):
        throttle_lifting.parse_network(text)


def test_unlocking_what_is_not_locked_records_nothing(ctx):
    add_user(ctx)
    assert lockout.unlock(ctx, "alice") == 0
    assert lockout.unlock(ctx, "nobody") == 0
    assert events(ctx, Event.UNLOCK) == 0
    authenticate(from_ip(ctx, ATTACKER_IP), "alice", WRONG)
    assert lockout.unlock(ctx, "alice") == 1  # one failure counted: something to clear
    assert events(ctx, Event.UNLOCK) == 1


# --- the command line ---------------------------------------------------------------


def test_unthrottle_lifts_and_says_so(ini, camauth, service):
    with service() as ctx:
        sprayer = from_ip(ctx, "2001:db8:0:7::1")
        threshold = ctx.settings.lockout_ip_threshold
        for n in range(threshold + 1):
            lockout.record_failure(sprayer, f"user{n}")
    # any address of the /64 names it
    code, out, err = camauth(ini, "unthrottle", "2001:db8:0:7::99")
    assert (code, err) == (0, "")
    assert out == (
        f"Lifted the throttle of 2001:db8:0:7::/64 ({threshold + 1} failures no longer count "
        "toward it).\n"
    )
    code, _out, err = camauth(ini, "unthrottle", "2001:db8:0:7::/64")
    assert code == 1 and one_line(err) == "camauth: 2001:db8:0:7::/64 is not throttled\n"
    with service() as ctx:
        assert events(ctx, Event.IP_UNTHROTTLED) == 1


def test_unthrottle_refuses_what_is_not_an_address(ini, camauth):
    code, _out, err = camauth(ini, "unthrottle", "not-an-address")
    assert code == 2
    assert one_line(err) == "camauth: not an address or an IPv6 /64: 'not-an-address'\n"


def test_unlock_of_a_name_with_no_account_and_no_lock_exits_1(ini, camauth, service):
    code, _out, err = camauth(ini, "unlock", "nobody")
    assert code == 1 and one_line(err) == "camauth: no user and no lock named 'nobody'\n"
    with service() as ctx:
        assert events(ctx, Event.UNLOCK) == 0
