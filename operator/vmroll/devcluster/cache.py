"""The cache of a tool set's built binaries: its key, its completion marker, its validation.

A cache directory is named after the set's pinned versions and a hash of its Go wrapper modules'
go.mod and go.sum, so a change of either builds afresh. A build fills a temporary sibling
directory and writes the marker (each binary's sha256) last, then renames the directory into
place: a directory without a valid marker is never used, whatever interrupted its build.
"""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from vmroll.devcluster.toolsets import ToolSet

MARKER_NAME = "complete.json"
BUILD_COMMANDS = "go build commands"


def cache_key(wrapper_files: Mapping[str, bytes]) -> str:
    """A short hash of the wrapper modules' files, keyed by their path under the set's root."""
    digest = hashlib.sha256()
    for name in sorted(wrapper_files):
        content = wrapper_files[name]
        digest.update(f"{name}\0{len(content)}\0".encode())
        digest.update(content)
    return digest.hexdigest()[:12]


def cache_dir_name(tools: ToolSet, key: str) -> str:
    return f"{tools.label}-{key}"


def read_wrapper_files(tools: ToolSet) -> dict[str, bytes]:
    """What the set's binaries are built from: its wrapper modules' files and its build commands.

    The commands count too, so that changing a flag (a version stamped by ldflags) builds afresh.
    """
    names = [f"{module}/{file}" for module in tools.modules for file in ("go.mod", "go.sum")]
    names += tools.sources
    files = {name: (tools.modules_root / name).read_bytes() for name in names}
    commands = (" ".join(build.argv("go", Path("bin"))) for build in tools.builds)
    files[BUILD_COMMANDS] = "\n".join(commands).encode()
    return files


@dataclass(frozen=True)
class BinaryCache:
    """One versioned cache directory: `<root>/<name>/bin/<binary>` plus its marker."""

    directory: Path

    @property
    def bin_dir(self) -> Path:
        return self.directory / "bin"

    @property
    def marker(self) -> Path:
        return self.directory / MARKER_NAME

    def binary(self, name: str) -> Path:
        return self.bin_dir / name


class CacheVerdict(enum.Enum):
    VALID = "valid"
    MISSING = "missing"
    CORRUPTED = "corrupted"


@dataclass(frozen=True)
class CacheCheck:
    verdict: CacheVerdict
    reason: str = ""


def render_marker(tools: ToolSet, key: str, digests: Mapping[str, str]) -> str:
    marker = {
        "tools": tools.name,
        "versions": tools.label,
        "key": key,
        "sha256": dict(sorted(digests.items())),
    }
    return json.dumps(marker, indent=2) + "\n"


def judge_marker(
    marker_text: str | None, key: str, digests: Mapping[str, str | None]
) -> CacheCheck:
    """Compare a marker with each binary's actual digest (None: the binary is missing)."""
    if marker_text is None:
        return CacheCheck(CacheVerdict.CORRUPTED, "no completion marker (an interrupted build?)")
    try:
        marker = json.loads(marker_text)
        recorded = marker["sha256"]
        marker_key = marker["key"]
    except (ValueError, KeyError, TypeError):
        return CacheCheck(CacheVerdict.CORRUPTED, "the completion marker is unreadable")
    if marker_key != key:
        return CacheCheck(CacheVerdict.CORRUPTED, f"the marker is for key {marker_key}, not {key}")
    for name, actual in digests.items():
        if actual is None:
            return CacheCheck(CacheVerdict.CORRUPTED, f"{name} is missing")
        if recorded.get(name) != actual:
            return CacheCheck(CacheVerdict.CORRUPTED, f"{name} does not match its recorded sha256")
    return CacheCheck(CacheVerdict.VALID)


def sha256_of(path: Path) -> str | None:
    if not path.is_file():
        return None
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def check_cache(tools: ToolSet, cache: BinaryCache, key: str) -> CacheCheck:
    if not cache.directory.exists():
        return CacheCheck(CacheVerdict.MISSING, "not built yet")
    if not cache.marker.is_file():
        return judge_marker(None, key, {})
    digests = {name: sha256_of(cache.binary(name)) for name in tools.binaries}
    return judge_marker(cache.marker.read_text(), key, digests)
