"""Reports: parameterised notebooks (reports/notebooks/*.ipynb) rendered to static HTML or PDF.

params   ids, ISO dates, whole numbers and the period: what a report may be given (light)
*_data   one per report (person, community, session, library): queries (pandas reads,
         filters in SQL) and the figures the report shows; the privacy rules of reports (what
         a record holds, minimum-N suppression) are decided here; common_data holds what two
         of them share
*_blocks one per report: HTML pieces and charts built from those figures (everything escaped),
         shown by the notebooks; common_blocks holds the shared charts and headers
html     the escaped pieces every page is built from (light)
render   papermill + nbconvert in-process: parameter checks, atomic writes, PDF via Chromium
"""
