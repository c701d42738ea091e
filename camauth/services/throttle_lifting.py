"""An operator lifts a network's throttle (the console's lockouts page and the
``unthrottle`` command): the parsing of what they type and the lifting itself.
The throttle is counted in ``lockout``."""

from __future__ import annotations

import ipaddress
from datetime import timedelta

from sqlalchemy import update

from ..models import LoginFailure
from . import audit
from .addresses import network_of
from .audit import Event
from .bulk import execute_bulk
from .context import Context
from .lockout import ip_throttled_until

# a lifted failure's network: it counts toward no throttle again
LIFTED = ""


class NotThrottled(Exception):
    """Lifting was asked for a network that is not waiting."""


def parse_network(text: str) -> str:
    """An address, or an IPv6 /64, as typed by an operator: the network the throttle
    counts it under. Raises ValueError for anything else."""
    text = text.strip()
    try:
        return network_of(str(ipaddress.ip_address(text)))
    except ValueError:
        pass
    network = ipaddress.ip_network(text, strict=False)  # ValueError for nonsense
    if network.num_addresses == 1 or (network.version == 6 and network.prefixlen == 64):
        return network_of(str(network.network_address))
    raise ValueError(f"{text}: give one address, or an IPv6 /64")


def lift_throttle(ctx: Context, network: str) -> int:
    """End the throttle of ``network`` now; returns how many failures stop counting.

    The failures stay (they count toward their usernames' locks, and the console
    lists them); they only stop counting toward this network's throttle.
    Raises :class:`NotThrottled` when it is not waiting. Audited.
    """
    if ip_throttled_until(ctx, network) is None:
        raise NotThrottled(f"{network} is not throttled")
    window = timedelta(minutes=ctx.settings.lockout_ip_window_minutes)
    lifted = execute_bulk(
        ctx.db,
        update(LoginFailure)
        .where(LoginFailure.network == network, LoginFailure.created_at > ctx.clock() - window)
        .values(network=LIFTED),
    )
    audit.record(
        ctx,
        Event.IP_UNTHROTTLED,
        target_name=network,
        details={"network": network, "failures": lifted},
    )
    return lifted
