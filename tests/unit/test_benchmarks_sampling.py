"""benchmarks/_sampling.py: py-spy's collapsed stacks summed by frame, as fleet.py prints them."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

_PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "_sampling.py"
_SPEC = importlib.util.spec_from_file_location("_sampling", _PATH)
assert _SPEC is not None
assert _SPEC.loader is not None
sampling = importlib.util.module_from_spec(_SPEC)
# Registered before it runs: its dataclasses look their module up by name.
sys.modules.setdefault("_sampling", sampling)
_SPEC.loader.exec_module(sampling)


@pytest.mark.parametrize(
    ("lines", "samples", "own", "inclusive"),
    [
        pytest.param([], 0, [], [], id="none"),
        pytest.param(
            ["main;run;list 3", "main;run;decode 5", "main;idle 2"],
            10,
            [("decode", 5), ("list", 3), ("idle", 2)],
            [("main", 10), ("run", 8), ("decode", 5)],
            id="leaves-and-callers",
        ),
        pytest.param(
            ["main;loop;loop;work 4", "main 1"],
            5,
            [("work", 4), ("main", 1)],
            [("main", 5), ("loop", 4), ("work", 4)],
            id="recursion-counted-once",
        ),
        pytest.param(
            ["", "not a stack", "main;x 2"], 2, [("x", 2)], [("main", 2), ("x", 2)], id="noise"
        ),
    ],
)
def test_frames_by_samples(
    lines: list[str],
    samples: int,
    own: list[tuple[str, int]],
    inclusive: list[tuple[str, int]],
) -> None:
    found = sampling.summary(lines, top=3)

    assert (found.samples, found.own, found.inclusive) == (samples, own, inclusive)
