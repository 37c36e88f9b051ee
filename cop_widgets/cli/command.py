"""The `cop` command: serve the workbooks, prepare the store, check content, manage people,
data and reports. Each command group lives in its own module of this package."""

from __future__ import annotations

import argparse
import sys

from cop_widgets.fast_start import skip_unused_iri_checker

skip_unused_iri_checker()  # before nbformat, papermill or Voilà import jsonschema

from cop_widgets.cli.data import add_data_commands  # noqa: E402
from cop_widgets.cli.people import add_people_commands  # noqa: E402
from cop_widgets.cli.report import add_report_commands  # noqa: E402
from cop_widgets.cli.serve import add_serve_commands  # noqa: E402
from cop_widgets.cli.setup import add_setup_commands  # noqa: E402
from cop_widgets.errors import CopWidgetsError  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    """Run one `cop` command; a refusal is one line on stderr and exit status 2."""
    parser = argparse.ArgumentParser(
        prog="cop", description="Serve the CoP workbooks, prepare the store, check content."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    add_serve_commands(sub)
    add_setup_commands(sub)
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
