"""`cop init` and `cop check`: prepare the store (with demo content) and check the content files
in data/ and the store."""

from __future__ import annotations

import sys


def add_setup_commands(sub) -> None:
    """Add `cop init` and `cop check` to the `cop` command's subparsers."""
    init = sub.add_parser("init", help="create or migrate the store (and add demo content)")
    init.add_argument("--no-demo", action="store_true")
    init.set_defaults(func=cmd_init)
    check = sub.add_parser("check", help="validate every content file in data/ and check the store")
    check.set_defaults(func=cmd_check)


def prepare_store(demo: bool) -> int:
    from cop_widgets.cli.demo import seed_demo, seed_demo_community
    from cop_widgets.content.frameworks import load_frameworks
    from cop_widgets.settings import load_settings
    from cop_widgets.store import open_store

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
    print(f"frameworks: {len(catalogue.items)} loaded, {len(catalogue.problems)} with errors")
    return 1 if catalogue.problems and not catalogue.items else 0


def cmd_init(args) -> int:
    return prepare_store(demo=not args.no_demo)


def cmd_check(_args) -> int:
    """Check every content file in data/ (frameworks, protocols, session items, library topics)
    and the store; one line per file or check, exit status 1 if any fails."""
    from cop_widgets.content.frameworks import load_frameworks
    from cop_widgets.content.library_topics import TOPICS_FILE, load_topics
    from cop_widgets.content.protocols import load_protocols
    from cop_widgets.content.session_items import load_item_sets
    from cop_widgets.errors import DataFileError
    from cop_widgets.settings import load_settings

    settings = load_settings()
    frameworks = load_frameworks(settings.frameworks_dir)
    protocols = load_protocols(settings.protocols_dir)
    item_sets, item_problems = load_item_sets(settings.data_dir / "session_items")
    for fw in frameworks.items:
        print(f"ok    {fw.path}  ({fw.id} v{fw.version}, {len(fw.stages)} stages)")
    for p in protocols.items:
        print(
            f"ok    {p.path}  ({p.id} v{p.version}, {len(p.phases)} phases, {p.total_minutes} min)"
        )
    for item_set in item_sets.values():
        print(f"ok    {item_set.path}  ({item_set.id}, {len(item_set.items)} items)")
    problems: list[DataFileError] = [*frameworks.problems, *protocols.problems, *item_problems]
    try:
        topics = load_topics(settings.data_dir / TOPICS_FILE)
        print(f"ok    {topics.path}  ({len(topics.topics)} library topics)")
    except DataFileError as exc:
        problems.append(exc)
    for problem in problems:
        print(f"error {problem}")
    store_ok = _check_store(settings)
    return 1 if problems or not store_ok else 0


def _check_store(settings) -> bool:
    """One line per check of the store (SQLite: integrity, schema version, WAL, free disk,
    newest backup; PostgreSQL: reachable, schema version); False if any check fails. A store
    not created yet is no problem."""
    from cop_widgets.store.maintenance import check_store

    results = check_store(settings)
    for health in results:
        if health.note:
            print(f"note  store {health.name}: {health.text}")
        else:
            print(f"{'ok   ' if health.ok else 'error'} store {health.name}: {health.text}")
    return all(h.ok for h in results)
