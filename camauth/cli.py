"""``camauth CONFIG_URI COMMAND …``: the command line, over the same services as the pages.

Acts as the built-in ``system`` actor in the audit log. Passwords come from a
prompt or standard input, never from the command line. Exit status 0 on
success; otherwise one line on stderr and 1 (refused or failed) or 2 (usage or
configuration).
"""

from __future__ import annotations

import argparse
import configparser
import getpass
import smtplib
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TextIO

from plaster import PlasterError
from pyramid.paster import get_appsettings, setup_logging
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from . import migrate
from .cli_access import LoadError, NotFound, add_access_commands
from .clock import utcnow
from .db import make_engine, make_session_factory
from .models import UserStatus
from .services import accounts, audit, housekeeping, lockout, mfa, sessions, throttle_lifting
from .services.context import Context
from .services.password_policy import PasswordPolicyError
from .services.passwords import Passwords
from .services.permissions import AccessError
from .settings import Settings, database_url, parse_settings
from .terminal import ProgressBar, printable
from .web.mail import send_test_mail


class CommandError(Exception):
    """A command failed; the message is the one line to print."""


class UsageError(CommandError):
    """The command was given something it cannot take (exit status 2)."""


Command = Callable[[Context, argparse.Namespace, TextIO], None]


def read_password(stdin: TextIO, prompt: str = "Password: ") -> str:
    if stdin.isatty():
        first = getpass.getpass(prompt)
        if getpass.getpass("Repeat password: ") != first:
            raise CommandError("the two passwords differ")
        return first
    line = stdin.readline().rstrip("\r\n")
    if not line:
        raise CommandError("no password on standard input")
    return line


def _user(ctx: Context, username: str) -> accounts.User:
    user = accounts.find_user(ctx, username)
    if user is None:
        raise CommandError(f"no user named {username!r}")
    return user


def cmd_initdb(ctx: Context, args: argparse.Namespace, stdin: TextIO) -> None:
    created = accounts.ensure_first_admin(ctx, args.admin_username)
    if created is None:
        print("Database is up to date; users already exist.")
        return
    user, password = created
    print(f"Created administrator {user.username!r}.")
    print(f"One-time password (shown only now; change it at first login): {password}")
    for line in first_login_steps(ctx.settings):
        print(line)


def first_login_steps(settings: Settings) -> list[str]:
    """What the first administrator will be asked at the first login, and where the
    mails of development go, so nothing on the way comes as a surprise."""
    steps = ["choose a new password"]
    if settings.terms_revision:
        steps.append(f"agree to the terms of use (revision {settings.terms_revision})")
    if settings.mfa_required_for in ("admins", "all"):
        steps.append("set up an authenticator app (two-factor is required for administrators)")
    lines = ["At the first login you will be asked to: " + "; ".join(steps) + "."]
    if settings.mail_transport == "file":
        folder = Path(settings.mail_directory).resolve()
        lines.append(f"Mails are not sent: each is written to a file in {folder}.")
    return lines


def cmd_create_user(ctx: Context, args: argparse.Namespace, stdin: TextIO) -> None:
    user = accounts.create_user(
        ctx,
        args.username,
        password=read_password(stdin),
        email=args.email,
        full_name=args.full_name or "",
        is_admin=args.admin,
        must_change_password=args.force_change,
    )
    print(f"Created user {user.username!r}.")


def cmd_set_password(ctx: Context, args: argparse.Namespace, stdin: TextIO) -> None:
    user = _user(ctx, args.username)
    accounts.set_password(ctx, user, read_password(stdin), force_change=args.force_change)
    print(f"Password of {user.username!r} set; their sessions were ended.")


def cmd_unlock(ctx: Context, args: argparse.Namespace, stdin: TextIO) -> None:
    key = accounts.username_key(args.username)
    user = accounts.find_user(ctx, key)
    if lockout.unlock(ctx, key, user):
        print(f"Unlocked {args.username!r}.")
    elif user is None:
        raise CommandError(f"no user and no lock named {args.username!r}")
    else:
        print(f"{user.username!r} was not locked out: nothing changed.")


def cmd_unthrottle(ctx: Context, args: argparse.Namespace, stdin: TextIO) -> None:
    try:
        network = throttle_lifting.parse_network(args.address)
    except ValueError:
        raise UsageError(f"not an address or an IPv6 /64: {args.address!r}") from None
    try:
        lifted = throttle_lifting.lift_throttle(ctx, network)
    except throttle_lifting.NotThrottled:
        raise CommandError(f"{network} is not throttled") from None
    print(f"Lifted the throttle of {network} ({lifted} failures no longer count toward it).")


def _status_command(status: UserStatus, verb: str) -> Command:
    def command(ctx: Context, args: argparse.Namespace, stdin: TextIO) -> None:
        user = _user(ctx, args.username)
        if status is UserStatus.ACTIVE and verb == "approved":
            accounts.approve(ctx, user)
        else:
            accounts.set_status(ctx, user, status)
        print(f"{user.username!r} {verb}.")

    return command


def read_line(stdin: TextIO, prompt: str, *, secret: bool = False) -> str:
    """One answer from a prompt (hidden for secrets) or the next line of standard input."""
    if stdin.isatty():
        return getpass.getpass(prompt) if secret else input(prompt)
    line = stdin.readline()
    if not line:
        raise CommandError(f"standard input ended before the {prompt.rstrip(': ').lower()}")
    return line.rstrip("\r\n")


def cmd_add_token(ctx: Context, args: argparse.Namespace, stdin: TextIO) -> None:
    user = _user(ctx, args.username)
    secret = read_line(stdin, "Token secret: ", secret=True)
    code = read_line(stdin, "Code the token shows now: ")
    drift = mfa.enrol_hardware(
        ctx,
        user,
        secret,
        code,
        digits=args.digits,
        period=args.period,
        algorithm=args.algorithm,
        hexadecimal=args.hex,
        replace=args.replace,
    )
    clock = f" (its clock is {drift:+d} steps off; that is learned)" if drift else ""
    print(f"Hardware token enrolled for {user.username!r}{clock}; their sessions were ended.")


def cmd_remove_two_factor(ctx: Context, args: argparse.Namespace, stdin: TextIO) -> None:
    user = _user(ctx, args.username)
    mfa.remove(ctx, user)
    print(f"Two-factor authentication of {user.username!r} removed; their sessions were ended.")


def say(line: str) -> None:
    """Print a line that may hold text from anyone: never raw control characters."""
    print(printable(line))


def cmd_list_users(ctx: Context, args: argparse.Namespace, stdin: TextIO) -> None:
    print(f"{'username':<30} {'status':<17} {'admin':<5} {'2fa':<4} last login")
    for user in accounts.list_users(ctx):
        last = f"{user.last_login_at:%Y-%m-%d %H:%M}" if user.last_login_at else "never"
        admin = "yes" if user.is_admin else "no"
        two_factor = "yes" if user.has_second_factor else "no"  # codes or passkeys
        say(f"{user.username:<30} {user.status:<17} {admin:<5} {two_factor:<4} {last}")


def cmd_sessions(ctx: Context, args: argparse.Namespace, stdin: TextIO) -> None:
    user = _user(ctx, args.username) if args.username else None
    names = {u.id: u.username for u in accounts.list_users(ctx)}
    print(f"{'id':>6} {'user':<30} {'kind':<8} {'ip':<40} {'last seen':<16} client")
    for row in sessions.live_sessions(ctx, user):
        name = names.get(row.user_id or 0, "?")
        seen = f"{row.last_seen_at:%Y-%m-%d %H:%M}"
        client = f"{row.client_id} on {row.hostname}" if row.hostname else row.client_id
        say(f"{row.id:>6} {name:<30} {row.kind:<8} {row.ip:<40} {seen:<16} {client}".rstrip())


def cmd_end_sessions(ctx: Context, args: argparse.Namespace, stdin: TextIO) -> None:
    if args.all and args.username:
        raise UsageError("name a user or give --all, not both")
    if args.all:
        print(f"Ended {sessions.end_all_sessions(ctx)} sessions.")
        return
    if not args.username:
        raise UsageError("name a user or give --all")
    user = _user(ctx, args.username)
    print(f"Ended {sessions.end_user_sessions(ctx, user)} sessions of {user.username!r}.")


def cmd_cleanup(ctx: Context, args: argparse.Namespace, stdin: TextIO) -> None:
    # in batches of their own transactions: a backlog of millions locks nothing for long
    bar = ProgressBar(sys.stderr) if sys.stderr.isatty() else None
    counts = housekeeping.cleanup_in_batches(ctx, on_progress=bar.show if bar is not None else None)
    if bar is not None:
        bar.finish()
    print(", ".join(f"{name}: {count} deleted" for name, count in counts.items()))


def cmd_audit(ctx: Context, args: argparse.Namespace, stdin: TextIO) -> None:
    since = None
    if args.since:
        try:
            since = datetime.fromisoformat(args.since)
        except ValueError:
            raise UsageError(f"--since: not an ISO date or time: {args.since!r}") from None
        if since.tzinfo is None:
            since = since.replace(tzinfo=utcnow().tzinfo)
    for event in audit.events(ctx, username=args.user, since=since):
        say(
            f"{event.created_at:%Y-%m-%dT%H:%M:%SZ} {event.event:<16} "
            f"actor={event.actor_name or '-'} target={event.target_name or '-'} "
            f"ip={event.ip or '-'} {event.details}"
        )


def cmd_send_test_mail(ctx: Context, args: argparse.Namespace, stdin: TextIO) -> None:
    problem = accounts.email_problem(args.address)
    if problem:
        raise UsageError(f"{printable(args.address)!r}: {problem}")
    try:
        where = send_test_mail(ctx.settings, args.address)
    except (OSError, smtplib.SMTPException) as error:
        raise CommandError(f"the test mail could not be sent: {error}") from None
    print(f"Sent a test mail to {args.address}: {where}.")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="camauth", description=__doc__.splitlines()[0])
    parser.add_argument("config_uri", help="the ini file, e.g. development.ini")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, handler: Command, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text)
        sub.set_defaults(handler=handler)
        return sub

    initdb = add("initdb", cmd_initdb, "migrate to head; create the first administrator if none")
    initdb.add_argument("--admin-username", default="admin")
    create = add("create-user", cmd_create_user, "create a user (password on prompt/stdin)")
    create.add_argument("username")
    create.add_argument("--email")
    create.add_argument("--full-name")
    create.add_argument("--admin", action="store_true")
    create.add_argument("--force-change", action="store_true")
    setpw = add("set-password", cmd_set_password, "set a password (prompt/stdin)")
    setpw.add_argument("username")
    setpw.add_argument("--force-change", action="store_true")
    for name, handler, help_text in (
        ("unlock", cmd_unlock, "clear lockouts and failures of a username"),
        ("disable", _status_command(UserStatus.DISABLED, "disabled"), "disable a user"),
        ("enable", _status_command(UserStatus.ACTIVE, "enabled"), "enable a user"),
        ("approve", _status_command(UserStatus.ACTIVE, "approved"), "approve a registration"),
    ):
        add(name, handler, help_text).add_argument("username")
    token = add(
        "add-token",
        cmd_add_token,
        "enrol a hardware token: its secret, then a code it shows, on prompt/stdin",
    )
    token.add_argument("username")
    token.add_argument("--period", type=int, choices=(30, 60), default=30)
    token.add_argument("--digits", type=int, choices=(6, 8), default=6)
    token.add_argument("--algorithm", choices=("sha1", "sha256"), default="sha1")
    token.add_argument("--hex", action="store_true", help="the secret is hexadecimal, not base32")
    token.add_argument("--replace", action="store_true", help="replace existing two-factor")
    remove = add("remove-two-factor", cmd_remove_two_factor, "remove a user's two-factor")
    remove.add_argument("username")
    unthrottle = add("unthrottle", cmd_unthrottle, "lift the per-IP throttle of an address")
    unthrottle.add_argument("address", help="an IP address, or an IPv6 /64")
    add("list-users", cmd_list_users, "list users")
    add("sessions", cmd_sessions, "list live sessions").add_argument("username", nargs="?")
    end = add("end-sessions", cmd_end_sessions, "end a user's sessions, or --all")
    end.add_argument("username", nargs="?")
    end.add_argument("--all", action="store_true")
    add("cleanup", cmd_cleanup, "delete expired sessions, locks and old failures")
    test_mail = add("send-test-mail", cmd_send_test_mail, "send a mail to check the mail settings")
    test_mail.add_argument("address")
    audit_cmd = add("audit", cmd_audit, "show the audit log")
    audit_cmd.add_argument("--user")
    audit_cmd.add_argument("--since")
    add_access_commands(add)
    return parser


def run(argv: Sequence[str], stdin: TextIO) -> int:
    args = build_parser().parse_args(argv)
    try:
        raw = get_appsettings(args.config_uri)
        settings = parse_settings(raw)
        engine = make_engine(database_url(raw))
    except (
        ValueError,  # SettingsError, and plaster's InvalidURI (a path without .ini)
        OSError,
        LookupError,
        ImportError,  # "use = call:module:app" naming a module that is not there
        configparser.Error,
        PlasterError,
        ArgumentError,  # a malformed sqlalchemy.url or an unknown database driver
    ) as error:
        reason = " ".join(str(error).split())  # configparser's messages span lines
        print(f"camauth: bad configuration: {reason}", file=sys.stderr)
        return 2
    try:
        setup_logging(args.config_uri)
        if args.command == "initdb":
            migrate.upgrade(engine)
        elif not migrate.is_current(engine):
            raise CommandError(
                f"the database is not migrated: run 'camauth {args.config_uri} initdb'"
            )
        with make_session_factory(engine).begin() as dbsession:
            ctx = Context(
                db=dbsession, settings=settings, clock=utcnow, passwords=Passwords(settings)
            )
            args.handler(ctx, args, stdin)
    except UnicodeError:
        print("camauth: standard input is not valid UTF-8 text", file=sys.stderr)
        return 1
    except (UsageError, LoadError) as error:
        print(f"camauth: {error}", file=sys.stderr)
        return 2
    except (
        CommandError,
        NotFound,
        accounts.AccountError,
        AccessError,
        PasswordPolicyError,
        mfa.TwoFactorError,
    ) as error:
        print(f"camauth: {error}", file=sys.stderr)
        return 1
    except SQLAlchemyError as error:
        reason = str(error.__cause__ or error).splitlines()[0]
        print(f"camauth: database error: {reason}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return run(sys.argv[1:] if argv is None else argv, sys.stdin)


if __name__ == "__main__":
    sys.exit(main())
