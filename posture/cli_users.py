"""``posture users`` (clinic accounts) and ``posture audit`` (the audit trail) commands.

    posture users add NAME --role clinician|admin   # password: asked twice at a terminal,
                                                    # else two lines on standard input
    posture users list
    posture audit export [--out FILE.csv] [--patient ID]

The database is ``--db`` or ``$POSTURE_DB`` (else the default file; see posture.store).
"""

from __future__ import annotations

import getpass
import os
import sys

from .errors import StoreError

CLI_ACTOR = "cli"


def _open(args):
    from .store import open_store

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


def cmd_users(args) -> int:
    from .store import accounts

    with _open(args) as s:
        if args.action == "list":
            for u in accounts.list_users(s):
                print(f"{u.name}\t{u.role}")
            return 0
        if not args.name:
            raise StoreError("give the new user's name: posture users add NAME",
                             code="invalid_user")
        who = f"{CLI_ACTOR}:{getpass.getuser()}"
        u = accounts.add_user(s, args.name, read_password(), role=args.role, actor=who)
        print(f"added {u.name} ({u.role}) to {s.url}")
    return 0


def cmd_audit(args) -> int:
    from .store.audit import audit_csv

    with _open(args) as s:
        data = audit_csv(s, patient_id=args.patient)
        s.log(f"{CLI_ACTOR}:{getpass.getuser()}", "export", patient_id=args.patient,
              detail="audit trail")
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


def add_parsers(sub) -> None:
    """Register ``users`` and ``audit`` on the ``posture`` command's subparsers."""
    from .store import ENV_VAR

    db_help = f"database file or URL (default: ${ENV_VAR} or the user data folder)"
    u = sub.add_parser("users", help="clinic accounts (who may open the Clinic page)")
    u.add_argument("action", choices=["add", "list"])
    u.add_argument("name", nargs="?", help="user name (for add)")
    u.add_argument("--role", choices=["clinician", "admin"], default="clinician",
                   help="admin also reads and exports the audit trail")
    u.add_argument("--db", default=None, help=db_help)
    u.set_defaults(func=cmd_users)

    a = sub.add_parser("audit", help="export the clinic's audit trail (CSV)")
    a.add_argument("action", choices=["export"])
    a.add_argument("--out", default=None, metavar="FILE.csv", help="default: standard output")
    a.add_argument("--patient", type=int, default=None, help="only this patient id")
    a.add_argument("--db", default=None, help=db_help)
    a.set_defaults(func=cmd_audit)


__all__ = ["add_parsers", "read_password"]
