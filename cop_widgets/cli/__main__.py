"""`python -m cop_widgets.cli`: the `cop` command."""

import sys

from cop_widgets.cli.command import main

sys.exit(main())
