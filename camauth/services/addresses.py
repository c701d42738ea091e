"""Which network a client address counts as, for throttles and limits.

An IPv6 customer is usually given a whole /64 (often more) and can pick a new
address in it for every request, so counting per IPv6 address would let one
machine spray passwords or mail requests without ever reaching a limit. Limits
therefore count per /64 for IPv6 and per address for IPv4 (an IPv4-mapped IPv6
address is the IPv4 address it maps).
"""

from __future__ import annotations

import ipaddress

IPV6_PREFIX = 64
NETWORK_LENGTH = 49  # the longest text this gives: "ffff:...:ffff/64" is 43; room to spare


def network_of(ip: str) -> str:
    """The text a limit counts ``ip`` under ("" for no address).

    >>> network_of("2001:db8:1:2:3:4:5:6"), network_of("192.0.2.7")
    ('2001:db8:1:2::/64', '192.0.2.7')
    """
    try:
        address = ipaddress.ip_address(ip.strip())
    except ValueError:
        return ip[:NETWORK_LENGTH]  # not an address (a test, a unix socket): itself
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        network = ipaddress.IPv6Network((address, IPV6_PREFIX), strict=False)
        return str(network)
    return str(address)
