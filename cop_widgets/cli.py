"""The `cop` command: serve the workbooks, prepare the store, check content."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys

from .fast_start import skip_unused_iri_checker

skip_unused_iri_checker()  # before nbformat, papermill or Voilà import jsonschema

from .cli_data import add_data_commands  # noqa: E402
from .cli_people import add_people_commands, print_sign_in_help  # noqa: E402
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
    store_ok = _check_store(settings)
    return 1 if problems or not store_ok else 0


def _check_store(settings) -> bool:
    """One line per check of a SQLite store (integrity, schema version, WAL, free disk, newest
    backup); False if any check fails. A store not created yet is no problem."""
    from sqlalchemy.engine import make_url

    from .store.maintenance import store_health

    url = make_url(settings.database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        print(f"note  store: {url.get_backend_name()}, not checked here (use its own tools)")
        return True
    if not os.path.exists(url.database):
        print(f"note  store: {url.database} does not exist yet (`cop init` creates it)")
        return True
    results = store_health(url.database)
    for health in results:
        print(f"{'ok   ' if health.ok else 'error'} store {health.name}: {health.text}")
    return all(h.ok for h in results)


def cmd_serve(args) -> int:
    from .serving import ServeOptions, voila_command, voila_environment

    status = _prepare(demo=not args.no_demo)
    if status:
        return status
    if args.hub:
        return _serve_hub(args)
    opts = ServeOptions(port=args.port, ip=args.ip, pool_size=args.pool_size)
    print(f"serving the workbooks at {_address(args)}/", flush=True)
    print_sign_in_help(_address(args), demo=not args.no_demo)
    return _run_server(voila_command(opts), voila_environment())


def _address(args) -> str:
    host = "127.0.0.1" if args.ip in ("0.0.0.0", "::", "") else args.ip  # noqa: S104
    return f"http://{host}:{args.port}"


def _run_server(cmd: list[str], env: dict[str, str]) -> int:
    """Run Voilà and stop it with this process: Ctrl-C or SIGTERM to `cop` ends both."""
    proc = subprocess.Popen(cmd, env=env)

    def stop(signum, _frame):
        proc.terminate()

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        return proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        return proc.wait()
    finally:
        signal.signal(signal.SIGTERM, previous)
        if proc.poll() is None:
            proc.kill()


def cmd_review(args) -> int:
    from .serving import REVIEW_DIR, ServeOptions, voila_command, voila_environment

    status = _prepare(demo=False)
    if status:
        return status
    if args.hub:
        return _serve_hub(args, review=True)
    # Same sign-in as the participants' server (same store, same cookie); only supervisors
    # reach the queue.
    opts = ServeOptions(workbooks=REVIEW_DIR, port=args.port, ip=args.ip, pool_size=1)
    print(
        f"serving the review app at {_address(args)}/voila/render/supervisor_review.ipynb",
        flush=True,
    )
    return _run_server(voila_command(opts), voila_environment())


def cmd_roster(args) -> int:
    from .services import supervision
    from .services.identity import find_or_add_person
    from .settings import load_settings
    from .store import open_store

    store = open_store(load_settings())
    # A standalone person's display name, or hub:<user> for a JupyterHub user.
    person = find_or_add_person(store, args.name)
    if args.role:
        supervision.grant_role(store, person.id, args.role)
        print(f"{person.display_name}: role {args.role}")
    for name in args.supervises or []:
        supervisee = find_or_add_person(store, name)
        supervision.assign_supervisee(store, person.id, supervisee.id)
        print(f"{person.display_name} supervises {supervisee.display_name}")
    store.dispose()
    return 0


def _serve_hub(args, review: bool = False) -> int:
    """`--hub`: one shared server run by JupyterHub as a service; the Hub signs people in and
    their Hub groups give their roles (README, JupyterHub). Voilà replaces this process, so the
    Hub's stop signal reaches it directly."""
    from .services.hub_identity import group_roles_from_env
    from .serving import (
        REVIEW_DIR,
        ServeOptions,
        hub_service_prefix,
        voila_command,
        voila_environment,
    )

    prefix = hub_service_prefix()
    group_roles_from_env()  # a broken COP_HUB_GROUP_ROLES stops here, not at the first sign-in
    try:
        import jupyterhub.services.auth  # noqa: F401
    except ImportError:
        raise CopWidgetsError(
            "--hub needs the jupyterhub package next to cop: pip install 'cop-workbook[hub]'"
        ) from None
    if review:  # only supervisors get past the sign-in; the app checks again
        opts = ServeOptions(
            workbooks=REVIEW_DIR, port=args.port, ip=args.ip, pool_size=1, hub=True,
            base_url=prefix, hub_required_role="supervisor",
        )  # fmt: skip
    else:
        opts = ServeOptions(
            port=args.port, ip=args.ip, pool_size=args.pool_size, hub=True, base_url=prefix
        )
    what = "the review app" if review else "the workbooks"
    print(f"serving {what} as a JupyterHub service under {prefix}", flush=True)
    cmd = voila_command(opts)
    os.execve(cmd[0], cmd, voila_environment(hub=True))  # noqa: S606 - an argument list, no shell
    return 1  # not reached


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
    serve.add_argument(
        "--hub", action="store_true", help="run as a JupyterHub service (the Hub signs people in)"
    )
    serve.set_defaults(func=cmd_serve)
    review = sub.add_parser("review", help="serve the supervisor review app (sign-in required)")
    review.add_argument("--port", type=int, default=8867)
    review.add_argument("--ip", default="127.0.0.1")
    review.add_argument(
        "--hub", action="store_true", help="run as a JupyterHub service (the Hub signs people in)"
    )
    review.set_defaults(func=cmd_review)
    roster = sub.add_parser("roster", help="give a person a role or supervisees")
    roster.add_argument("name", help="display name, or hub:<user> for a JupyterHub user")
    roster.add_argument(
        "--role", choices=["practitioner", "facilitator", "supervisor", "coordinator"]
    )
    roster.add_argument(
        "--supervises",
        nargs="+",
        metavar="NAME",
        help="display names (or hub:<user>) of this supervisor's supervisees",
    )
    roster.set_defaults(func=cmd_roster)
    init = sub.add_parser("init", help="create or migrate the store (and add demo content)")
    init.add_argument("--no-demo", action="store_true")
    init.set_defaults(func=cmd_init)
    check = sub.add_parser(
        "check", help="validate every content file in data/ and check the store"
    )
    check.set_defaults(func=cmd_check)
    add_data_commands(sub)
    add_people_commands(sub)
    add_report_commands(sub)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except CopWidgetsError as exc:
        print(f"cop: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
