"""Where the operator's CPU goes in a window: py-spy's samples of the process, summed by frame.

The figures in benchmarks/README.md say how much CPU the operator uses; finding what to cut
needs where. `sample` runs `py-spy record --nonblocking` against the operator's pid for the
window (py-spy reads the process's memory without stopping it, so the figures measured beside
it stay the operator's own) and `summary` reads py-spy's collapsed stacks (`--format raw`: one
line per distinct stack, `frame;frame;... count`) into the frames that hold the most samples,
by themselves (the leaf) and with what they call. py-spy is not a dependency of the project:
the caller names the binary.
"""

from __future__ import annotations

import subprocess
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

RATE = 20
"""Samples a second: enough for a window of minutes, little CPU for py-spy itself."""


@dataclass(frozen=True)
class Summary:
    samples: int
    own: list[tuple[str, int]]
    """Frames by the samples taken in them, most first."""
    inclusive: list[tuple[str, int]]
    """Frames by the samples taken in them or in what they called, most first."""


def sample(py_spy: str, pid: int, seconds: float, output: Path) -> subprocess.Popen[bytes]:
    """Start sampling `pid` for `seconds` into `output`; wait on the process it returns."""
    return subprocess.Popen(
        [py_spy, "record", "--pid", str(pid), "--duration", str(max(1, round(seconds))),
         "--rate", str(RATE), "--nonblocking", "--format", "raw", "--output", str(output)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip


def summary(lines: Iterable[str], top: int = 20) -> Summary:
    """The `top` frames of collapsed stacks; a frame counts once per stack it appears in, and
    frames with as many samples come in the order they were first seen."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    samples = 0
    for line in lines:
        stack, _, count_text = line.strip().rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        samples += count
        own[frames[-1]] += count
        for frame in dict.fromkeys(frames):
            inclusive[frame] += count
    return Summary(samples, own.most_common(top), inclusive.most_common(top))


def print_summary(found: Summary, seconds: float) -> None:
    print(f"  py-spy: {found.samples} samples in {seconds:.0f} s at {RATE} Hz")
    for title, rows in (("own", found.own), ("with callees", found.inclusive)):
        print(f"  top frames, {title}:")
        for frame, count in rows:
            print(f"    {100 * count / max(found.samples, 1):5.1f} %  {frame}")
