"""`cop serve`, `cop review` and `cop rehearse`: serve the workbooks (standalone, in room mode
or as a JupyterHub service), the supervisor review app, and a rehearsal of a room."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from typing import cast

from cop_widgets.cli.people import print_sign_in_help
from cop_widgets.cli.setup import prepare_store
from cop_widgets.errors import CopWidgetsError


def add_serve_commands(sub) -> None:
    """Add `cop serve`, `cop rehearse` and `cop review` to the `cop` command's subparsers."""
    serve = sub.add_parser("serve", help="serve the workbooks with Voilà")
    serve.add_argument("--port", type=int, default=8866)
    serve.add_argument(
        "--ip",
        default=None,
        help="address to listen on (default: this machine only; with --room its address on "
        "the local network)",
    )
    serve.add_argument(
        "--pool-size",
        type=int,
        default=None,
        help="kernels started ahead per room workbook (default 4; with --room or --people: "
        "the people expected)",
    )
    serve.add_argument(
        "--room",
        action="store_true",
        help="training day: listen on the local network and print each of today's sessions' "
        "join link with a QR code",
    )
    serve.add_argument(
        "--people",
        metavar="N",
        help="people expected in the room (default with --room: today's largest session)",
    )
    serve.add_argument("--certfile", help="serve HTTPS with this PEM certificate")
    serve.add_argument("--keyfile", help="the certificate's private key (PEM, no passphrase)")
    serve.add_argument("--no-demo", action="store_true", help="do not add demo content")
    serve.add_argument(
        "--hub", action="store_true", help="run as a JupyterHub service (the Hub signs people in)"
    )
    serve.set_defaults(func=cmd_serve)
    rehearse = sub.add_parser(
        "rehearse",
        help="simulate a room of N people joining a session, and say whether the server holds",
    )
    rehearse.add_argument("--people", metavar="N", required=True, help="participants to simulate")
    rehearse.add_argument(
        "--session", metavar="CODE", help="the session's join code (default: today's session)"
    )
    rehearse.add_argument(
        "--browsers",
        metavar="K",
        type=int,
        default=2,
        help="how many of them are real headless Chromium pages (default 2; the rest are "
        "lightweight clients)",
    )
    rehearse.add_argument(
        "--url",
        help="rehearse against this running server (default: one of its own on a scratch copy "
        "of the store)",
    )
    rehearse.add_argument("--json", metavar="FILE", help="also write the figures to FILE")
    rehearse.set_defaults(func=cmd_rehearse)
    review = sub.add_parser("review", help="serve the supervisor review app (sign-in required)")
    review.add_argument("--port", type=int, default=8867)
    review.add_argument("--ip", default="127.0.0.1")
    review.add_argument(
        "--hub", action="store_true", help="run as a JupyterHub service (the Hub signs people in)"
    )
    review.set_defaults(func=cmd_review)


def cmd_serve(args) -> int:
    from cop_widgets.room.mode import check_people, check_tls, lan_address
    from cop_widgets.serving import (
        ServeOptions,
        voila_command,
        voila_environment,
        with_parsed_content,
    )

    # Everything that can be refused is refused before anything starts or is written.
    people = check_people(args.people)
    tls = check_tls(args.certfile, args.keyfile)
    if args.hub and (args.room or tls or people):
        raise CopWidgetsError(
            "--hub serves through the Hub's own address and HTTPS: leave out --room, "
            "--people, --certfile and --keyfile."
        )
    if args.room and args.ip is None:
        args.ip = lan_address()  # this machine's address on the room's network
    args.ip = args.ip or "127.0.0.1"
    status = prepare_store(demo=not args.no_demo)
    if status:
        return status
    if args.hub:
        return _serve_hub(args)
    base = _address(args, https=tls is not None)
    # the content files parsed once here: kernels need not import yaml to read them
    env = with_parsed_content(voila_environment())
    pools: tuple[tuple[str, int], ...] = ()
    if args.room or people:
        pools = _room_pools(args, base, people)
    if args.room:
        # join links and the run sheet show this address (settings.public_url), in the
        # server and in every kernel it starts
        env["COP_PUBLIC_URL"] = base
    if args.ip not in ("127.0.0.1", "localhost", "::1") and tls is None:
        print(
            "warning: no HTTPS (--certfile/--keyfile): passphrases cross the room's network "
            "in clear text; use a network you trust.",
            file=sys.stderr,
            flush=True,
        )
    opts = ServeOptions(
        port=args.port,
        ip=args.ip,
        pool_size=4 if args.pool_size is None else args.pool_size,
        pool_sizes=pools,
        certfile=tls[0] if tls else "",
        keyfile=tls[1] if tls else "",
    )
    print(f"serving the workbooks at {base}/", flush=True)
    print_sign_in_help(base, demo=not args.no_demo)
    return run_server(voila_command(opts), env)


def _address(args, https: bool = False) -> str:
    from cop_widgets.room.mode import base_url

    return base_url(args.ip, args.port, https)


def _room_pools(args, base: str, people: int | None) -> tuple[tuple[str, int], ...]:
    """Room mode's printout (the home page, each of today's sessions with its join link and
    QR code) and the kernels to start ahead for the people expected (--people, else the
    largest of today's sessions). An explicit --pool-size sizes the pools by hand instead."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    import psutil

    from cop_widgets.room.mode import join_url, qr_code, room_pools
    from cop_widgets.services.room import sessions_on
    from cop_widgets.serving import ROOM_NOTEBOOKS, WORKBOOKS_DIR
    from cop_widgets.serving.paths import served_notebooks
    from cop_widgets.settings import load_settings
    from cop_widgets.store import open_store

    settings = load_settings()
    store = open_store(settings)
    try:
        today = datetime.now(ZoneInfo(settings.timezone)).date()
        planned = sessions_on(store, today, settings.timezone)
    finally:
        store.dispose()
    if args.room:
        print(f"Room mode: people in the room open {base}/ (the home page)", flush=True)
        if not planned:
            print(
                f"No session is planned for today ({today:%a %d %b %Y}, {settings.timezone}): "
                "plan one in the community app; its join link is then on the run sheet."
            )
        for p in planned:
            when = p.session.starts_at.astimezone(ZoneInfo(settings.timezone))
            link = join_url(base, p.session.join_code)
            print(
                f"\n{when:%H:%M} “{p.session.topic}” ({p.community}, {p.expected} expected), "
                f"join code {p.session.join_code}:\n{link}"
            )
            print(qr_code(link), end="", flush=True)
    planned_most = max((p.expected for p in planned), default=0)
    if args.pool_size is not None or not (people or planned_most):
        return ()
    # people often register at the door: never fewer ahead than the default's 4
    expected = people or max(planned_most, 4)
    others = len([n for n in served_notebooks(WORKBOOKS_DIR) if n not in ROOM_NOTEBOOKS])
    pools = room_pools(expected, psutil.virtual_memory().available / 2**20, others)
    print(
        f"\nKernels started ahead for {expected} people"
        + (
            ""
            if people
            else f" (today's largest session expects {planned_most}; --people N to change)"
        )
        + ": "
        + ", ".join(f"{name} {size}" for name, size in pools.sizes.items())
        + f", {others} other apps 1 each (about {pools.mib / 1024:.1f} GiB)",
        flush=True,
    )
    if pools.note:
        print(f"note: {pools.note}", flush=True)
    return tuple(pools.sizes.items())


def run_server(cmd: list[str], env: dict[str, str]) -> int:
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


def cmd_rehearse(args) -> int:
    from cop_widgets.room.mode import check_people
    from cop_widgets.room.rehearse import Options, run

    # --people is required for a rehearsal (argparse), so check_people never returns None here
    people = cast(int, check_people(args.people))
    if args.browsers < 0:
        raise CopWidgetsError("--browsers: give how many real Chromium pages, 0 or more.")
    opts = Options(people, args.browsers, args.session or "", args.url or "", args.json or "")
    try:
        return run(opts)
    except KeyboardInterrupt:  # its server, kernels and Chromium are stopped by then
        print("cop: rehearsal stopped; nothing is left running.", file=sys.stderr)
        return 130


def cmd_review(args) -> int:
    from cop_widgets.serving import (
        REVIEW_DIR,
        ServeOptions,
        voila_command,
        voila_environment,
        with_parsed_content,
    )

    status = prepare_store(demo=False)
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
    return run_server(voila_command(opts), with_parsed_content(voila_environment()))


def _serve_hub(args, review: bool = False) -> int:
    """`--hub`: one shared server run by JupyterHub as a service; the Hub signs people in and
    their Hub groups give their roles (README, JupyterHub). Voilà replaces this process, so the
    Hub's stop signal reaches it directly."""
    from cop_widgets.services.hub_identity import group_roles_from_env
    from cop_widgets.serving import (
        REVIEW_DIR,
        ServeOptions,
        hub_service_prefix,
        voila_command,
        voila_environment,
        with_parsed_content,
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
        pool_size = 4 if args.pool_size is None else args.pool_size
        opts = ServeOptions(
            port=args.port, ip=args.ip, pool_size=pool_size, hub=True, base_url=prefix
        )
    what = "the review app" if review else "the workbooks"
    print(f"serving {what} as a JupyterHub service under {prefix}", flush=True)
    cmd = voila_command(opts)
    env = with_parsed_content(voila_environment(hub=True))
    os.execve(cmd[0], cmd, env)  # noqa: S606 - an argument list, no shell
    return 1  # not reached
