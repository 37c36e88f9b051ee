"""Writing a benchmark's figures (shared by the benchmarks): benchmarks/results/<name>.json, or
benchmarks/results/smoke/ for a smoke run, which only checks that the benchmark works."""

from __future__ import annotations

import json
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def write_results(results_file: Path, figures: dict) -> None:
    """Write the figures as JSON to `results_file` (its folder made if missing) and say where."""
    results_file.parent.mkdir(parents=True, exist_ok=True)
    results_file.write_text(json.dumps(figures, indent=1))
    print(f"wrote {results_file.relative_to(REPO)}")
