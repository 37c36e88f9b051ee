"""`make bench-smoke` (which `make test` runs) covers every benchmark: a new benchmark script
left out of the Makefile's SMOKE_BENCHMARKS would never run and could rot unseen (issue 16)."""

import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def smoke_benchmarks() -> list[str]:
    found = re.search(r"^SMOKE_BENCHMARKS := (.+)$", (REPO / "Makefile").read_text(), re.M)
    assert found, "Makefile: the SMOKE_BENCHMARKS line is missing"
    return found.group(1).split()


def runnable_benchmarks() -> set[str]:
    """The benchmark scripts (a helper module such as bench_signin.py has no __main__)."""
    return {
        path.stem.removeprefix("bench_")
        for path in (REPO / "benchmarks").glob("bench_*.py")
        if 'if __name__ == "__main__"' in path.read_text()
    }


def test_make_bench_smoke_runs_every_benchmark():
    assert set(smoke_benchmarks()) == runnable_benchmarks()


def test_every_benchmark_has_a_smoke_configuration():
    for name in smoke_benchmarks():
        assert '"--smoke"' in (REPO / "benchmarks" / f"bench_{name}.py").read_text(), name
