"""`placement serve`, `placement users add`, `placement audit verify`.

Exit codes as the rest of `placement`: 0 success, 1 a check failed, 2 bad input.
"""

from __future__ import annotations

import argparse
import getpass
import os
import secrets
import sys
from pathlib import Path
from typing import Any

from . import DEFAULT_URL

EXIT_OK, EXIT_CHECK_FAILED, EXIT_BAD_INPUT = 0, 1, 2
DEMO_ROLES = ("officer", "manager", "commissioner", "admin")


def needs_extra(func: Any) -> Any:
    """A clear message, not a traceback, where the service's packages are not installed."""
    def run(args: argparse.Namespace) -> int:
        try:
            return int(func(args))
        except ModuleNotFoundError as e:
            print(f"error: the service needs the package {e.name!r}: install the project's "
                  "'service' extra (pip install -e '.[service]')", file=sys.stderr)
            return EXIT_BAD_INPUT
        except Exception as e:  # the database cannot be reached or opened
            from sqlalchemy.exc import ArgumentError, OperationalError

            if not isinstance(e, OperationalError | ArgumentError):
                raise
            why = str(getattr(e, "orig", None) or e).splitlines()[0]
            print(f"error: cannot open the database given by --db: {why}", file=sys.stderr)
            return EXIT_BAD_INPUT
    return run


def add_parsers(sub: Any) -> None:
    """Register the three commands on `placement`'s sub-parsers."""
    s = sub.add_parser("serve", help="run the placement service (API and pages)")
    s.add_argument("--db", default=DEFAULT_URL,
                   help="database URL (default sqlite:///placement.db; "
                        "postgresql://USER:PASS@HOST:PORT/NAME)")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8000)
    s.add_argument("--workers", type=int, default=1,
                   help="worker processes (default 1); the register, sessions and sign-in "
                        "throttle are in the database, so workers share them")
    s.add_argument("--demo", action="store_true",
                   help="load the demo authority and print an account of each role")
    s.set_defaults(func=needs_extra(cmd_serve))

    u = sub.add_parser("users", help="manage the service's accounts")
    usub = u.add_subparsers(dest="users_command", required=True)
    ua = usub.add_parser("add", help="add an account (password on standard input)")
    ua.add_argument("username")
    ua.add_argument("--role", required=True, choices=DEMO_ROLES)
    ua.add_argument("--db", default=DEFAULT_URL)
    ua.set_defaults(func=needs_extra(cmd_users_add))

    a = sub.add_parser("audit", help="the service's audit trail")
    asub = a.add_subparsers(dest="audit_command", required=True)
    av = asub.add_parser("verify", help="verify the hash chain (exit 1 naming the first bad "
                                        "event)")
    av.add_argument("--db", default=DEFAULT_URL)
    av.set_defaults(func=needs_extra(cmd_audit_verify))


def read_password() -> str:
    if sys.stdin.isatty():
        return getpass.getpass("password: ")
    return sys.stdin.readline().rstrip("\r\n")


def cmd_users_add(args: argparse.Namespace) -> int:
    from . import audit, security
    from .db import make_engine, upgrade, write

    password = read_password()
    if len(password) < 8:
        print("error: a password has at least 8 characters", file=sys.stderr)
        return EXIT_BAD_INPUT
    engine = make_engine(args.db)
    upgrade(engine)
    try:
        with write(engine) as conn:
            uid = security.add_user(conn, args.username, args.role, password)
            audit.append(conn, "placement users add", "user.add", f"user:{uid}",
                         {"role": args.role})
    except security.UserExists as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(f"added {args.username} ({args.role})")
    return EXIT_OK


def cmd_audit_verify(args: argparse.Namespace) -> int:
    from .audit import verify
    from .db import make_engine, upgrade

    engine = make_engine(args.db)
    upgrade(engine)
    v = verify(engine)
    if v.ok:
        print(f"audit chain verified: {v.events} event(s)")
        return EXIT_OK
    print(f"audit chain broken at seq {v.bad_seq}: {v.reason}", file=sys.stderr)
    return EXIT_CHECK_FAILED


def demo_folder() -> Path:
    """The shipped demo authority (synthetic): instances/demo beside the package."""
    return Path(__file__).resolve().parents[2] / "instances" / "demo"


def load_demo(engine: Any) -> list[tuple[str, str, str]]:
    """Import the demo authority if the register is empty; (re)set the demo accounts."""
    from . import audit, security
    from .db import write
    from .register import has_register, replace_register, validate_upload

    accounts = [(f"demo-{r}", r, secrets.token_urlsafe(9)) for r in DEMO_ROLES]
    folder = demo_folder()
    if not (folder / "children.csv").is_file():
        raise FileNotFoundError(f"the demo authority is not at {folder} (run from a clone "
                                "of the repository)")
    with write(engine) as conn:
        for name, role, password in accounts:
            security.set_password(conn, name, role, password)
        audit.append(conn, "placement serve --demo", "user.demo", "users",
                     {"accounts": [name for name, _, _ in accounts]})
        if not has_register(conn):
            files = {f.name: f.read_bytes() for f in sorted(folder.iterdir())
                     if f.name.endswith((".csv", ".toml"))}
            _, texts = validate_upload(files)
            n, m = replace_register(conn, texts)
            audit.append(conn, "placement serve --demo", "register.import", "register",
                         {"children": n, "placements": m, "files": sorted(files)})
    return accounts


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from .app import DB_ENV, create_app, serving
    from .db import make_engine, upgrade

    if args.workers < 1:
        print("error: --workers must be at least 1", file=sys.stderr)
        return EXIT_BAD_INPUT
    engine = make_engine(args.db)
    upgrade(engine)
    if args.demo:
        try:
            accounts = load_demo(engine)
        except FileNotFoundError as e:
            print(f"error: {e}", file=sys.stderr)
            return EXIT_BAD_INPUT
        print("demo authority loaded (synthetic data). Accounts, valid until the next "
              "--demo start:")
        for name, role, password in accounts:
            print(f"  {role:<13} {name:<20} password {password}")
    print(f"placement service on http://{args.host}:{args.port}/ (API under /api/v1)")
    # uvicorn's access log holds method, path and status: never a header, so no token
    if args.workers > 1:
        os.environ[DB_ENV] = args.db
        engine.dispose()
        uvicorn.run("optimiser.service.app:create_app_from_env", factory=True,
                    workers=args.workers, host=args.host, port=args.port, log_level="info")
    else:
        uvicorn.run(serving(create_app(engine=engine)), host=args.host, port=args.port,
                    log_level="info")
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    """The three commands alone (`python -m optimiser.service.cli serve ...`)."""
    ap = argparse.ArgumentParser(prog="placement")
    add_parsers(ap.add_subparsers(dest="command", required=True))
    args = ap.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
