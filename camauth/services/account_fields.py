"""What makes a username, an email address or a full name acceptable (PRODUCT §2),
and how an address is written into a mail header."""

from __future__ import annotations

import re

from .usernames import normalize_username, username_key

USERNAME_MAX = 150
_USERNAME_RE = re.compile(r"[\w.@-]+")


class AccountError(ValueError):
    """An account operation was refused; the message is for the person asking."""


def username_problem(username: str) -> str | None:
    """Why ``username`` can never be a username, or None if it could be one."""
    name = normalize_username(username)
    if not name:
        return "Enter a username."
    # casefolding can lengthen a name ("ß" -> "ss"); the key must fit its column too
    if len(name) > USERNAME_MAX or len(username_key(name)) > USERNAME_MAX:
        return f"A username has at most {USERNAME_MAX} characters."
    # \w admits letters and digits of every script (and "_"), as PRODUCT §2 asks
    if not _USERNAME_RE.fullmatch(name):
        return "A username contains only letters, digits and . _ - @"
    return None


EMAIL_MAX = 254
# RFC 5321 "dot-atom": what a mail server takes before the @ without quoting, so
# the address means one mailbox, and nothing in it (",", ">", spaces, controls)
# can make a mail header name another
_LOCAL_PART_RE = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
# labels of letters (any script), digits and inner hyphens; a top-level domain of
# letters (or its IDNA form)
_LABEL = r"[^\W_](?:(?:[^\W_]|-)*[^\W_])?"
_DOMAIN_RE = re.compile(rf"(?:{_LABEL}\.)+(?:[^\W\d_]{{2,}}|xn--[a-z0-9-]+)", re.IGNORECASE)


def email_problem(email: str) -> str | None:
    """Why ``email`` cannot be an account's address, or None."""
    email = email.strip()
    if not email:
        return "Enter an email address."
    if len(email) > EMAIL_MAX or len(email.casefold()) > EMAIL_MAX:
        return f"An email address has at most {EMAIL_MAX} characters."
    local_part, _, domain = email.partition("@")
    if email.count("@") != 1 or not local_part or not domain:
        return "Enter an email address such as name@example.org."
    if not _LOCAL_PART_RE.fullmatch(local_part):
        # non-ASCII needs the SMTPUTF8 extension, which a mail server cannot be
        # relied on to have; a mail that cannot be sent is worse than a refusal
        return (
            "Use an email address whose part before the @ has only Latin letters, "
            "digits and . _ - + (no spaces)."
        )
    if not _DOMAIN_RE.fullmatch(domain) or mail_domain(domain) is None:
        return "Enter an email address such as name@example.org."
    return None


def mail_domain(domain: str) -> str | None:
    """The domain as mail headers carry it (international names in IDNA form), or None.

    None also when the IDNA form names another domain than the one typed: Python's
    IDNA 2003 maps "ß" to "ss" and full-width letters to plain ones, so "faß.de"
    would be mailed at "fass.de", someone else's domain.
    """
    try:
        ascii_domain = domain.encode("idna").decode("ascii")
        typed = domain.encode("ascii").decode("idna") if domain.isascii() else domain.lower()
        if ascii_domain.encode("ascii").decode("idna") != typed:
            return None
    except UnicodeError:
        return None
    return ascii_domain


def mail_address(email: str) -> str:
    """``email`` as it can go into a To header: an international domain in IDNA form."""
    local_part, _, domain = email.strip().rpartition("@")
    return f"{local_part}@{mail_domain(domain) or domain}"


FULL_NAME_MAX = 200


def full_name_problem(full_name: str) -> str | None:
    if len(full_name) > FULL_NAME_MAX:
        return f"A full name has at most {FULL_NAME_MAX} characters."
    if "\x00" in full_name:  # PostgreSQL text cannot hold it
        return "A full name cannot contain control characters."
    return None
