"""Limits count an IPv6 client per /64 and an IPv4 client per address."""

from __future__ import annotations

import pytest

from camauth.services import lockout
from camauth.services.addresses import network_of
from camauth.services.authentication import Outcome, authenticate
from camauth.services.mail_limits import TooManyRequests, check_address, record

from ..conftest import GOOD_PASSWORD
from .conftest import add_user, from_ip, with_settings

WRONG = "not the password at all"


@pytest.mark.parametrize(
    ("ip", "network"),
    [
        ("192.0.2.7", "192.0.2.7"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("2001:DB8:1:2::ffff", "2001:db8:1:2::/64"),  # any spelling of the address
        ("2001:db8:1:3::1", "2001:db8:1:3::/64"),
        ("::ffff:192.0.2.7", "192.0.2.7"),  # an IPv4 client seen through an IPv6 socket
        ("::1", "::/64"),
        ("", ""),
        ("not an address", "not an address"),
    ],
)
def test_network_of(ip, network):
    assert network_of(ip) == network


def test_ipv6_failures_throttle_the_whole_64(ctx):
    ctx = with_settings(ctx, lockout_ip_threshold=5)
    add_user(ctx)
    # six failures from six addresses of one /64: one sprayer
    for n in range(6):
        attempt = authenticate(from_ip(ctx, f"2001:db8:0:7::{n + 1}"), f"u{n}", WRONG)
        assert attempt.outcome is Outcome.INVALID
    fresh_address = from_ip(ctx, "2001:db8:0:7:ffff::1")
    assert authenticate(fresh_address, "alice", GOOD_PASSWORD).outcome is Outcome.THROTTLED
    assert lockout.ip_throttled_until(ctx, "2001:db8:0:7::abcd") is not None
    # the neighbouring /64 is someone else
    neighbour = from_ip(ctx, "2001:db8:0:8::1")
    assert authenticate(neighbour, "alice", GOOD_PASSWORD).outcome is Outcome.OK


def test_ipv6_mail_requests_count_per_64(ctx):
    limit = ctx.settings.mail_ip_limit_per_hour
    for n in range(limit):
        client = from_ip(ctx, f"2001:db8:0:9::{n + 1}")
        check_address(client)
        record(client, "reset", None, mailed=False)
    ctx.db.flush()
    with pytest.raises(TooManyRequests):
        check_address(from_ip(ctx, "2001:db8:0:9:1234::1"))
    check_address(from_ip(ctx, "2001:db8:0:a::1"))  # another /64 may still ask
