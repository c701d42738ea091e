"""What the machine names in the audit log and the failure table mean, in words a
person reads: one table, used by the console, the CSV (beside the machine name)
and anything else that shows them. A browser's user agent, summarised.
"""

from __future__ import annotations

import re

from .audit import Event

EVENT_WORDS: dict[str, str] = {
    Event.LOGIN_SUCCESS: "Logged in",
    Event.LOGIN_FAILURE: "Failed login",
    Event.LOCKOUT: "Locked out after wrong passwords",
    Event.IP_THROTTLE: "Address throttled after many failures",
    Event.IP_UNTHROTTLED: "Address throttle lifted",
    Event.UNLOCK: "Unlocked",
    Event.LOGOUT: "Logged out",
    Event.SESSION_ENDED: "Session ended",
    Event.PASSWORD_CHANGED: "Password changed",
    Event.PASSWORD_RESET: "Password reset",
    Event.PASSWORD_RESET_REQUESTED: "Password reset link asked for",
    Event.TERMS_AGREED: "Agreed to the terms of use",
    Event.USER_CREATED: "Account created",
    Event.USER_REGISTERED: "Signed up",
    Event.EMAIL_VERIFIED: "Email address confirmed",
    Event.USER_EDITED: "Account details changed",
    Event.USER_DISABLED: "Account disabled",
    Event.USER_ENABLED: "Account enabled",
    Event.USER_APPROVED: "Sign-up approved",
    Event.USER_DELETED: "Account deleted",
    Event.ADMIN_GRANTED: "Made an administrator",
    Event.ADMIN_REVOKED: "Administrator rights removed",
    Event.PASSWORD_CHANGE_FORCED: "Password change required",
    Event.TWO_FACTOR_ENROLLED: "Two-factor authentication turned on",
    Event.TWO_FACTOR_REMOVED: "Two-factor authentication turned off",
    Event.TWO_FACTOR_WRONG_CODE: "Wrong authentication code",
    Event.TWO_FACTOR_REPLAY_REFUSED: "Authentication code used twice",
    Event.RECOVERY_CODE_USED: "Recovery code used",
    Event.RECOVERY_CODES_REGENERATED: "New recovery codes made",
    Event.AUDIT_EXPORTED: "Audit log exported",
    Event.DEVICE_LOGIN_REQUESTED: "Device login asked for",
    Event.DEVICE_LOGIN_APPROVED: "Device login approved",
    Event.DEVICE_LOGIN_DENIED: "Device login denied",
    Event.DEVICE_LOGIN_REPORTED: "Device login reported as suspicious",
    Event.API_SESSION_ENDED: "API session ended",
    Event.PROFILE_EDITED: "Profile changed",
    Event.EMAIL_CHANGE_REQUESTED: "New email address asked for",
    Event.EMAIL_CHANGED: "Email address changed",
    Event.INVITATION_SENT: "Set-password link mailed",
    Event.INVITATION_USED: "Password chosen from a mailed link",
    Event.ROLE_CREATED: "Role created",
    Event.ROLE_RENAMED: "Role renamed",
    Event.ROLE_DELETED: "Role deleted",
    Event.ROLE_PERMISSION_GRANTED: "Permission added to a role",
    Event.ROLE_PERMISSION_REVOKED: "Permission taken from a role",
    Event.ROLE_GRANTED: "Role granted",
    Event.ROLE_REVOKED: "Role revoked",
    Event.GROUP_CREATED: "Group created",
    Event.GROUP_RENAMED: "Group renamed",
    Event.GROUP_DELETED: "Group deleted",
    Event.MEMBER_ADDED: "Added to a group",
    Event.MEMBER_REMOVED: "Removed from a group",
    Event.GROUP_ADMIN_GRANTED: "Made a group administrator",
    Event.GROUP_ADMIN_REVOKED: "No longer a group administrator",
    Event.EXTERNAL_LOGIN: "Logged in through another provider",
    Event.EXTERNAL_LOGIN_REFUSED: "Login through another provider refused",
    Event.IDENTITY_LINKED: "Provider login linked",
    Event.IDENTITY_UNLINKED: "Provider login unlinked",
    Event.PASSKEY_ADDED: "Passkey added",
    Event.PASSKEY_REMOVED: "Passkey removed",
    Event.PASSKEY_LOGIN: "Logged in with a passkey",
    Event.PASSKEY_REFUSED: "A passkey was refused at login",
    Event.PASSKEY_CLONE_SUSPECTED: "Passkey refused: possibly copied",
}

# why a login attempt counted as a failure (the failure table's ``reason``)
FAILURE_WORDS: dict[str, str] = {
    "password": "wrong password or unknown username",
    "disabled": "right password, account not active",
    "current_password": "wrong current password (password change)",
    "code_wrong": "wrong authentication code",
    "code_replay": "authentication code used twice",
    "code_clock_off": "authentication code from a device whose clock is off",
    "recovery_code": "wrong recovery code",
    "reauth_password": "wrong password (confirming it is them)",
    "reauth_recovery_code": "wrong recovery code (confirming it is them)",
    "reauth_code_wrong": "wrong authentication code (confirming it is them)",
    "reauth_code_replay": "authentication code used twice (confirming it is them)",
    "reauth_code_clock_off": "authentication code from a device whose clock is off "
    "(confirming it is them)",
}

UNTRUSTED_CLIENTS = (
    "every browser without this person's device cookie (a browser gets one at its "
    "first successful login, so this is mostly attackers and new devices)"
)


def event_words(name: str) -> str:
    """The event in words; an unknown name (from a newer version) as itself."""
    return EVENT_WORDS.get(name, name.replace("_", " "))


def failure_words(reason: str) -> str:
    return FAILURE_WORDS.get(reason, reason.replace("_", " "))


_BROWSERS = (  # the order matters: Edge and Opera also say "Chrome", Chrome says "Safari"
    ("Edge", re.compile(r"Edg(?:e|A|iOS)?/(\d+)")),
    ("Opera", re.compile(r"OPR/(\d+)")),
    ("Firefox", re.compile(r"(?:Firefox|FxiOS)/(\d+)")),
    ("Chrome", re.compile(r"(?:Chrome|CriOS)/(\d+)")),
    ("Safari", re.compile(r"Version/(\d+)[\d.]* (?:Mobile/\S+ )?Safari/")),
)
_SYSTEMS = (
    ("iPhone", re.compile(r"iPhone")),
    ("iPad", re.compile(r"iPad")),
    ("Android", re.compile(r"Android")),
    ("Windows", re.compile(r"Windows")),
    ("macOS", re.compile(r"Mac OS X|Macintosh")),
    ("ChromeOS", re.compile(r"CrOS")),
    ("Linux", re.compile(r"Linux|X11")),
)


def user_agent_summary(user_agent: str) -> str:
    """ "Firefox 128 on Windows" for a browser; a tool's own name (``curl/8.5``) as it
    is; "unknown" for nothing at all."""
    text = user_agent.strip()
    if not text:
        return "unknown"
    browser = next(
        (f"{name} {found.group(1)}" for name, rule in _BROWSERS if (found := rule.search(text))),
        None,
    )
    system = next((name for name, rule in _SYSTEMS if rule.search(text)), None)
    if browser and system:
        return f"{browser} on {system}"
    if browser:
        return browser
    first = text.split()[0]
    return first[:60] if system is None else f"{first[:40]} on {system}"
