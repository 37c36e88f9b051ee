"""Reports: parameterised notebooks (reports/notebooks/*.ipynb) rendered to static HTML or PDF.

params   ids, ISO dates, whole numbers and the period: what a report may be given (light)
data     queries (pandas reads, filters in SQL) and the figures each report shows; the privacy
         rules of reports (what a record holds, minimum-N suppression) are decided here
blocks   HTML pieces and charts built from those figures (everything escaped), shown by the
         notebooks
render   papermill + nbconvert in-process: parameter checks, atomic writes, PDF via Chromium
"""
