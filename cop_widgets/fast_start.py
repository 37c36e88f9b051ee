"""Start-up time of our own processes (the `cop` command, report rendering, the Voilà server).

jsonschema imports ``rfc3987_syntax`` whenever it is installed (nbformat pulls it in through
``jsonschema[format-nongpl]``), and that module compiles about 35 Lark parsers at import: 1.5 s
on this machine, paid by every process that reads a notebook, for the "iri" string formats that
no Jupyter, nbformat or Voilà schema uses (upstream: python-jsonschema/jsonschema#1428).
Marking it unavailable before jsonschema is first imported skips that work; jsonschema then
does not check "iri" formats, and nothing else changes.
"""

from __future__ import annotations

import sys

SLOW_UNUSED_MODULE = "rfc3987_syntax"


def skip_unused_iri_checker() -> None:
    """Call before anything imports jsonschema; a no-op once it has been imported."""
    if "jsonschema._format" not in sys.modules:
        sys.modules.setdefault(SLOW_UNUSED_MODULE, None)  # type: ignore[arg-type]
