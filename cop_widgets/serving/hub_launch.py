"""`cop serve --hub` runs Voilà through this: serving/launch.py exactly, after the service's Hub
token and JUPYTERHUB_USER have left the environment that Voilà's kernels copy (they are kept in
serving.hub_auth for the Hub's OAuth). Voilà starts its preheated kernels while it is being set
up, before it makes the identity provider, so this cannot wait for the provider.
Run it as `python -m cop_widgets.serving.hub_launch <voila arguments>`.
"""

from __future__ import annotations

import runpy

from cop_widgets.fast_start import skip_unused_iri_checker

skip_unused_iri_checker()  # before Voilà imports jsonschema (as launch.py does)

from cop_widgets.serving import hub_auth  # noqa: E402  (the module Voilà's identity_provider_class names)

if __name__ == "__main__":
    hub_auth.take_hub_secrets()
    runpy.run_module("cop_widgets.serving.launch", run_name="__main__", alter_sys=True)
