"""The `cop` command, one module per command group: ``command`` (the parser), ``setup`` (init,
check), ``serve`` (serve, review, rehearse), ``people`` (people, roster), ``data`` (backup,
export, erasure, retention, migrate), ``report`` (session, community and person reports) and
``demo`` (the demo content a first run adds)."""

from cop_widgets.cli.command import main

__all__ = ["main"]
