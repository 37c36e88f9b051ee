"""Loaded before pytest's plugins (`-p tests.fast_start`, in the Makefile's pytest target):
nbval's plugin reads notebooks at load, and jsonschema would then compile the unused IRI
checker's Lark parsers, 2.9 s in each pytest process (cop_widgets/fast_start.py says why)."""

from cop_widgets.fast_start import skip_unused_iri_checker

skip_unused_iri_checker()
