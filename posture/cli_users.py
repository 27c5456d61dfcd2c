"""``posture users`` (clinic accounts) and ``posture audit`` (the audit trail) commands.

    posture users add NAME --role clinician|admin   # password: asked twice at a terminal,
                                                    # else two lines on standard input
    posture users list                              # name, role, state
    posture users unlock NAME                       # lift a lock-out
    posture users disable NAME | enable NAME        # a disabled account cannot log in
    posture users reset-password NAME               # new password as for add
    posture users remove NAME
    posture users revoke-sessions NAME              # log the account out everywhere
    posture audit export [--out FILE.csv] [--patient ID]
    posture audit verify                            # check the trail's hash chain

Every command that changes an account writes an audit row, as does ``audit export``. The
actor is ``cli:`` and the operating-system account running the command (from the process'
user id, not from ``$LOGNAME`` or ``$USER``, which anyone can set).

The database is ``--db`` or ``$POSTURE_DB`` (else the default file; see posture.store).
"""

from __future__ import annotations

import getpass
import os
import sys

from .errors import StoreError

CLI_ACTOR = "cli"
USER_ACTIONS = ("add", "list", "unlock", "disable", "enable", "reset-password", "remove",
                "revoke-sessions")


def cli_actor() -> str:
    """``cli:<OS account>`` of this process' effective user id (``$LOGNAME`` is not asked:
    it is whatever the caller exported)."""
    try:
        import pwd
    except ImportError:  # Windows: no uid; the login name is the best there is
        return f"{CLI_ACTOR}:{getpass.getuser()}"
    uid = os.geteuid()
    try:
        return f"{CLI_ACTOR}:{pwd.getpwuid(uid).pw_name}"
    except KeyError:  # a uid with no passwd entry (containers)
        return f"{CLI_ACTOR}:uid{uid}"


def _open(args):
    from .store import open_store
    from .store.connection import refuse_memory

    refuse_memory(args.db, "--db")
    return open_store(args.db)


def read_password(stdin=None, *, tty: bool | None = None) -> str:
    """The new password: typed twice without echo at a terminal, else the first two lines
    of standard input (which must match)."""
    stdin = stdin or sys.stdin
    tty = stdin.isatty() if tty is None else tty
    if tty:
        first = getpass.getpass("Password: ")
        second = getpass.getpass("Password again: ")
    else:
        first = stdin.readline().rstrip("\r\n")
        second = stdin.readline().rstrip("\r\n")
    if first != second:
        raise StoreError("the two passwords differ; nothing was changed",
                         code="password_mismatch")
    return first


def _list(s) -> int:
    from .store import accounts

    for a in accounts.list_accounts(s):
        state = ("disabled" if a.disabled else
                 f"locked until {a.locked_until:%Y-%m-%d %H:%M} UTC" if a.locked_until
                 else "active")
        print(f"{a.user.name}\t{a.user.role}\t{state}")
    return 0


def cmd_users(args) -> int:
    from .store import accounts

    if args.action != "list" and not args.name:
        raise StoreError(f"give the user's name: posture users {args.action} NAME",
                         code="invalid_user")
    who = cli_actor()
    password = None
    if args.action in ("add", "reset-password"):
        # checked before the database is opened: nothing is written for a bad password
        password = read_password()
        top = accounts.rules()["max_password_length"]
        if len(password) > top:
            raise StoreError(f"the password must have at most {top} characters (the login "
                             "form's limit); nothing was changed", code="password_too_long")
    with _open(args) as s:
        if args.action == "list":
            return _list(s)
        if args.action == "add":
            u = accounts.add_user(s, args.name, password, role=args.role, actor=who)
            print(f"added {u.name} ({u.role}) to {s.url}")
        elif args.action == "unlock":
            print(f"unlocked {accounts.unlock(s, args.name, actor=who).name}")
        elif args.action in ("disable", "enable"):
            u = accounts.set_disabled(s, args.name, args.action == "disable", actor=who)
            print(f"{args.action}d {u.name}")
        elif args.action == "reset-password":
            u = accounts.reset_password(s, args.name, password, actor=who)
            print(f"new password set for {u.name}; its sessions ended")
        elif args.action == "remove":
            accounts.remove_user(s, args.name, actor=who)
            print(f"removed {args.name}")
        else:  # revoke-sessions
            n = accounts.revoke_sessions(s, args.name, actor=who)
            print(f"ended {n} session(s) of {args.name}")
    return 0


def cmd_audit(args) -> int:
    if args.action == "verify":
        return _verify(args)
    from .store.audit import audit_csv

    with _open(args) as s:
        data = audit_csv(s, patient_id=args.patient)
        s.log(cli_actor(), "export", patient_id=args.patient, detail="audit trail")
    if args.out in (None, "-"):
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return 0
    from .outputs import write_atomic

    if os.path.exists(args.out):
        from .errors import OutputError

        raise OutputError(f"{args.out!r} exists; not replaced", code="output_exists")
    write_atomic(args.out, data, replace=False, what="audit trail")
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


def _verify(args) -> int:
    from .store.audit import verify

    with _open(args) as s:
        check = verify(s)
    if not check.ok:
        raise StoreError(check.text(), code="audit_chain_broken")
    print(check.text())
    return 0


def add_parsers(sub) -> None:
    """Register ``users`` and ``audit`` on the ``posture`` command's subparsers."""
    from .store import ENV_VAR

    db_help = f"database file or URL (default: ${ENV_VAR} or the user data folder)"
    u = sub.add_parser("users", help="clinic accounts (who may open the Clinic page)")
    u.add_argument("action", choices=USER_ACTIONS)
    u.add_argument("name", nargs="?", help="user name (all but list)")
    u.add_argument("--role", choices=["clinician", "admin"], default="clinician",
                   help="for add: admin also reads and exports the audit trail")
    u.add_argument("--db", default=None, help=db_help)
    u.set_defaults(func=cmd_users)

    a = sub.add_parser("audit", help="export the clinic's audit trail (CSV) or verify its "
                                     "hash chain")
    a.add_argument("action", choices=["export", "verify"])
    a.add_argument("--out", default=None, metavar="FILE.csv", help="default: standard output")
    a.add_argument("--patient", type=int, default=None, help="only this patient id")
    a.add_argument("--db", default=None, help=db_help)
    a.set_defaults(func=cmd_audit)


__all__ = ["add_parsers", "cli_actor", "read_password"]
