"""`cop people`: add people, give them personal sign-in links, import a roster (standalone mode).

A link is shown once (only its hash is kept) and works once within LINK_DAYS days; issuing a new
one revokes the old. Email addresses in a roster are not stored: the operator sends each link.
"""

from __future__ import annotations

import csv
import os
import sys
from pathlib import Path

from cop_widgets.errors import CopWidgetsError, InvalidInput
from cop_widgets.services import roster
from cop_widgets.services.accounts import DEFAULT_URL, sign_in_url
from cop_widgets.store.schema import ROLES


def _store():
    from cop_widgets.settings import load_settings
    from cop_widgets.store import open_store

    return open_store(load_settings())


def print_sign_in_help(base: str, demo: bool) -> None:
    """What `cop serve` prints so a newcomer can sign in: fresh links for the demo's
    coordinator, practitioner and supervisor, or the first coordinator's link on a new store."""
    from cop_widgets.cli.demo import DEMO_COORDINATOR, DEMO_NAME, DEMO_SUPERVISOR
    from cop_widgets.services import accounts

    store = _store()
    try:
        if demo:
            print("Sign in (each link works once; `cop people link NAME` makes a new one):")
            for label, name in (
                ("coordinator", DEMO_COORDINATOR),
                ("practitioner", DEMO_NAME),
                ("supervisor", DEMO_SUPERVISOR),
            ):
                who = accounts.find_by_name(store, name)
                if who is not None:
                    link = sign_in_url(base, accounts.issue_link(store, who.id))
                    print(f"  as the demo {label} ({name}): {link}")
            print("  a newcomer: open a session's join link and choose “Create my account”.")
            return
        coordinators = [
            p for p in accounts.all_people(store) if "coordinator" in roster.roles_of(store, p.id)
        ]
        if any(accounts.can_sign_in(store, p.id) for p in coordinators):
            return
        first = (
            coordinators[0]
            if coordinators
            else accounts.add_person(store, "Coordinator", "coordinator")
        )
        link = sign_in_url(base, accounts.issue_link(store, first.id))
        print(f"First sign-in, as the coordinator “{first.display_name}” (works once): {link}")
    finally:
        store.dispose()


def cmd_people_add(args) -> int:
    from cop_widgets.services import accounts

    store = _store()
    try:
        who = accounts.add_person(store, args.name, args.role)
        link = sign_in_url(args.url, accounts.issue_link(store, who.id))
    finally:
        store.dispose()
    print(f"{who.display_name} ({args.role}): {link}")
    return 0


def cmd_people_link(args) -> int:
    from cop_widgets.services import accounts

    store = _store()
    try:
        who = accounts.find_by_name(store, args.name)
        if who is None:
            raise InvalidInput(
                "name", f"Nobody is called {args.name!r}; `cop people list` shows everyone."
            )
        link = sign_in_url(args.url, accounts.issue_link(store, who.id))
    finally:
        store.dispose()
    print(f"{who.display_name}: {link}  (any earlier link of theirs no longer works)")
    return 0


def cmd_people_list(_args) -> int:
    from cop_widgets.services import accounts

    store = _store()
    try:
        for who in accounts.all_people(store):
            roles = ", ".join(sorted(roster.roles_of(store, who.id)))
            state = "can sign in" if accounts.can_sign_in(store, who.id) else "needs a link"
            print(f"{who.display_name}\t{roles}\t{state}")
    finally:
        store.dispose()
    return 0


def cmd_people_import(args) -> int:
    """Rows of `name,role` (a header row; `email` may be there and is not stored). Each good
    row gets a link; a bad row is named by its line and skipped."""
    from cop_widgets.services import accounts

    path = Path(args.file)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput("file", f"{path}: cannot be read as UTF-8 text ({exc}).") from None
    rows = list(csv.DictReader(text.splitlines()))
    if not rows or "name" not in (rows[0].keys()):
        raise InvalidInput("file", f"{path}: line 1 must be a header with a `name` column.")
    store = _store()
    out: list[tuple[str, str, str]] = []
    failed = 0
    try:
        for line, row in enumerate(rows, start=2):
            role = (row.get("role") or "practitioner").strip().lower()
            try:
                who = accounts.add_person(store, row.get("name") or "", role)
            except CopWidgetsError as exc:
                print(f"{path}:{line}: {exc}", file=sys.stderr)
                failed += 1
                continue
            out.append((who.display_name, role, sign_in_url(args.url, accounts.issue_link(
                store, who.id))))  # fmt: skip
    finally:
        store.dispose()
    if args.out:
        fd = os.open(args.out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # links are keys
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(["name", "role", "sign_in_link"])
            writer.writerows(out)
        print(f"{len(out)} people added; their links are in {args.out} (readable by you only)")
    else:
        for name, role, link in out:
            print(f"{name} ({role}): {link}")
    if failed:
        print(f"{failed} row(s) skipped; fix them and import those rows again.", file=sys.stderr)
    return 1 if failed else 0


def add_people_commands(sub) -> None:
    roster_parser = sub.add_parser("roster", help="give a person a role or supervisees")
    roster_parser.add_argument("name", help="display name, or hub:<user> for a JupyterHub user")
    roster_parser.add_argument(
        "--role", choices=["practitioner", "facilitator", "supervisor", "coordinator"]
    )
    roster_parser.add_argument(
        "--supervises",
        nargs="+",
        metavar="NAME",
        help="display names (or hub:<user>) of this supervisor's supervisees",
    )
    roster_parser.set_defaults(func=cmd_roster)
    people = sub.add_parser("people", help="add people and give them sign-in links")
    cmds = people.add_subparsers(dest="people_command", required=True)
    add = cmds.add_parser("add", help="add a person and print their personal sign-in link")
    add.add_argument("name", help="the name others will see")
    add.add_argument("--role", choices=ROLES, default="practitioner")
    link = cmds.add_parser("link", help="a new sign-in link for a person (revokes the old)")
    link.add_argument("name")
    imp = cmds.add_parser("import", help="add everyone in a CSV roster (name,role[,email])")
    imp.add_argument("file")
    imp.add_argument("--out", help="write the links to this CSV file instead of printing them")
    lst = cmds.add_parser("list", help="everyone, their roles, and who still needs a link")
    for cmd, func in ((add, cmd_people_add), (link, cmd_people_link), (imp, cmd_people_import)):
        cmd.add_argument(
            "--url", default=DEFAULT_URL, help=f"the server's address (default {DEFAULT_URL})"
        )
        cmd.set_defaults(func=func)
    lst.set_defaults(func=cmd_people_list)


def cmd_roster(args) -> int:
    from cop_widgets.services.identity import find_or_add_person
    from cop_widgets.settings import load_settings
    from cop_widgets.store import open_store

    store = open_store(load_settings())
    # A standalone person's display name, or hub:<user> for a JupyterHub user.
    person = find_or_add_person(store, args.name)
    if args.role:
        roster.grant_role(store, person.id, args.role)
        print(f"{person.display_name}: role {args.role}")
    for name in args.supervises or []:
        supervisee = find_or_add_person(store, name)
        roster.assign_supervisee(store, person.id, supervisee.id)
        print(f"{person.display_name} supervises {supervisee.display_name}")
    store.dispose()
    return 0
