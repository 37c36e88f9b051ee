"""De-identification guard: finds likely identifiers in free text before it is shared.

One package for every app that saves free text (DOMAIN.md §4.1). It runs locally, with no
network and no model: regular expressions, the `phonenumbers` library for phone numbers, and
small word lists. It is a prompt for the author, not a guarantee: it aims to catch most direct
identifiers while keeping false alarms on well de-identified writing rare, because a check that
cries wolf on every sentence teaches people to tick the box without reading.

Modules, one per kind of identifier, each with its patterns and word lists beside its finder:

- `candidates`: Finding and Candidate, KINDS and REASONS, the priorities that settle overlaps,
  and the word lists and helpers several kinds share (the allow-list of capitalised words).
- `dates`: exact dates.
- `online`: email addresses and social media handles.
- `phones`: phone numbers, with or without an area code.
- `government_numbers`: Medicare, Centrelink, tax file, licence and passport numbers.
- `case_numbers`: case, file and reference numbers.
- `vehicle_plates`: number plates.
- `addresses`: street addresses, PO boxes, suburb-state-postcode.
- `places`: named schools, childcare centres, clubs and hospitals.
- `names`: names of people, and the names an app was told were mentioned.
- `identifiers`: find_identifiers (runs every finder, settles overlaps) and describe.

The highlighting of findings for the author lives beside its widget, in widgets/deid_check.py.
"""

from cop_widgets.deidentify.candidates import KINDS, REASONS, Finding
from cop_widgets.deidentify.identifiers import describe, find_identifiers

__all__ = ["KINDS", "REASONS", "Finding", "describe", "find_identifiers"]
