"""The `cop` command: serve the workbooks, prepare the store, check content."""

from __future__ import annotations

import argparse
import os
import secrets
import subprocess
import sys

from .fast_start import skip_unused_iri_checker

skip_unused_iri_checker()  # before nbformat, papermill or Voilà import jsonschema

from .cli_data import add_data_commands  # noqa: E402
from .cli_report import add_report_commands  # noqa: E402
from .errors import CopWidgetsError  # noqa: E402


def _prepare(demo: bool) -> int:
    from .content import load_frameworks
    from .demo import seed_demo, seed_demo_community
    from .settings import load_settings
    from .store import open_store

    settings = load_settings()
    catalogue = load_frameworks(settings.frameworks_dir)
    for problem in catalogue.problems:
        print(f"warning: {problem}", file=sys.stderr)
    store = open_store(settings)
    seeded = seed_demo(store, catalogue) if demo else False
    seeded = (seed_demo_community(store, settings) if demo else False) or seeded
    store.dispose()
    where = store.engine.url.render_as_string(hide_password=True)
    print(f"store ready: {where}" + (" (demo content added)" if seeded else ""))
    print(f"frameworks: {len(catalogue.frameworks)} loaded, {len(catalogue.problems)} with errors")
    return 1 if catalogue.problems and not catalogue.frameworks else 0


def cmd_init(args) -> int:
    return _prepare(demo=not args.no_demo)


def cmd_check(_args) -> int:
    from .content import load_frameworks
    from .protocols import load_protocols
    from .settings import load_settings

    settings = load_settings()
    frameworks = load_frameworks(settings.frameworks_dir)
    protocols = load_protocols(settings.protocols_dir)
    for fw in frameworks.frameworks:
        print(f"ok    {fw.path}  ({fw.id} v{fw.version}, {len(fw.stages)} stages)")
    for p in protocols.protocols:
        print(
            f"ok    {p.path}  ({p.id} v{p.version}, {len(p.phases)} phases, {p.total_minutes} min)"
        )
    problems = [*frameworks.problems, *protocols.problems]
    for problem in problems:
        print(f"error {problem}")
    return 1 if problems else 0


def cmd_serve(args) -> int:
    from .serving import ServeOptions, voila_command, voila_environment

    status = _prepare(demo=not args.no_demo)
    if status:
        return status
    token = None
    if args.ip not in ("127.0.0.1", "localhost", "::1"):
        # Anyone on the network could reach it: require a token unless told otherwise.
        token = os.environ.get("COP_TOKEN") or secrets.token_urlsafe(16)
    opts = ServeOptions(port=args.port, ip=args.ip, pool_size=args.pool_size, token=token)
    url = f"http://{args.ip}:{args.port}/voila/render/reflection.ipynb"
    print(f"serving the workbooks at {url}" + (f"?token={token}" if token else ""), flush=True)
    proc = subprocess.Popen(voila_command(opts), env=voila_environment())
    try:
        return proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        return proc.wait()


def cmd_review(args) -> int:
    from .serving import REVIEW_DIR, ServeOptions, voila_command, voila_environment

    status = _prepare(demo=False)
    if status:
        return status
    # Always behind a token: supervisees' reflections are the most sensitive text we hold.
    token = os.environ.get("COP_REVIEW_TOKEN") or secrets.token_urlsafe(24)
    opts = ServeOptions(workbooks=REVIEW_DIR, port=args.port, ip=args.ip, pool_size=1, token=token)
    url = f"http://{args.ip}:{args.port}/voila/render/supervisor_review.ipynb?token={token}"
    print(f"serving the review app at {url}", flush=True)
    proc = subprocess.Popen(voila_command(opts), env=voila_environment())
    try:
        return proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        return proc.wait()


def cmd_roster(args) -> int:
    from .services import supervision
    from .services.identity import sign_in
    from .settings import load_settings
    from .store import open_store

    store = open_store(load_settings())
    # Standalone names: the same display name a person types in the apps.
    person = sign_in(store, args.name, environ={})
    if args.role:
        supervision.grant_role(store, person.id, args.role)
        print(f"{person.display_name}: role {args.role}")
    for name in args.supervises or []:
        supervisee = sign_in(store, name, environ={})
        supervision.assign_supervisee(store, person.id, supervisee.id)
        print(f"{person.display_name} supervises {supervisee.display_name}")
    store.dispose()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cop", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the workbooks with Voilà")
    serve.add_argument("--port", type=int, default=8866)
    serve.add_argument(
        "--ip", default="127.0.0.1", help="address to listen on (default: this machine only)"
    )
    serve.add_argument(
        "--pool-size",
        type=int,
        default=4,
        help="kernels started ahead per workbook; set it to the room size",
    )
    serve.add_argument("--no-demo", action="store_true", help="do not add demo content")
    serve.set_defaults(func=cmd_serve)
    review = sub.add_parser("review", help="serve the supervisor review app (with a token)")
    review.add_argument("--port", type=int, default=8867)
    review.add_argument("--ip", default="127.0.0.1")
    review.set_defaults(func=cmd_review)
    roster = sub.add_parser("roster", help="give a person a role or supervisees")
    roster.add_argument("name", help="display name (as typed in the apps)")
    roster.add_argument(
        "--role", choices=["practitioner", "facilitator", "supervisor", "coordinator"]
    )
    roster.add_argument(
        "--supervises",
        nargs="+",
        metavar="NAME",
        help="display names of this supervisor's supervisees",
    )
    roster.set_defaults(func=cmd_roster)
    init = sub.add_parser("init", help="create or migrate the store (and add demo content)")
    init.add_argument("--no-demo", action="store_true")
    init.set_defaults(func=cmd_init)
    check = sub.add_parser("check", help="validate every content file in data/")
    check.set_defaults(func=cmd_check)
    add_data_commands(sub)
    add_report_commands(sub)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except CopWidgetsError as exc:
        print(f"cop: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
