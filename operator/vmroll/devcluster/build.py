"""`vmroll devcluster build`: build a tool set (see `toolsets.py`) into its versioned cache.

A cold build takes minutes on a small machine, so it reports progress every few seconds (packages
compiled, time elapsed) to show CI logs that it is alive. The cache is replaced atomically: see
`cache.py` for the marker that makes an interrupted build harmless.
"""

from __future__ import annotations

import collections
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from vmroll.devcluster.cache import (
    BinaryCache,
    CacheVerdict,
    cache_dir_name,
    cache_key,
    check_cache,
    read_wrapper_files,
    render_marker,
    sha256_of,
)
from vmroll.devcluster.errors import BuildFailed
from vmroll.devcluster.gobuild import GoBuild, find_go, go_build_environment
from vmroll.devcluster.paths import tools_root, wrapper_module
from vmroll.devcluster.toolsets import CONTROLPLANE, ToolSet

Report = Callable[[str], None]
PROGRESS_INTERVAL_SECONDS = 10.0


def locate_cache(
    tools: ToolSet, environ: Mapping[str, str] = os.environ
) -> tuple[BinaryCache, str]:
    """The set's cache directory for its wrapper modules as they are in this checkout, and key."""
    for module in tools.modules:
        wrapper_module(module, tools.modules_root)
    key = cache_key(read_wrapper_files(tools))
    return BinaryCache(tools_root(tools.name, environ) / cache_dir_name(tools, key)), key


def ensure_binaries(
    *, force: bool = False, report: Report = print, environ: Mapping[str, str] = os.environ
) -> BinaryCache:
    """The control plane's binaries: etcd, kube-apiserver and kubectl."""
    return ensure_tools(CONTROLPLANE, force=force, report=report, environ=environ)


def ensure_tools(
    tools: ToolSet,
    *,
    force: bool = False,
    report: Report = print,
    environ: Mapping[str, str] = os.environ,
) -> BinaryCache:
    """A valid cache of the set's binaries, building it when missing, corrupted or forced."""
    cache, key = locate_cache(tools, environ)
    check = check_cache(tools, cache, key)
    if check.verdict is CacheVerdict.VALID and not force:
        return cache
    if check.verdict is CacheVerdict.CORRUPTED:
        report(f"the binary cache {cache.directory} is corrupted ({check.reason}); rebuilding it")
    go = find_go(environ)
    cache.directory.parent.mkdir(parents=True, exist_ok=True)
    _remove_abandoned_builds(cache)
    staging = Path(
        tempfile.mkdtemp(
            prefix=f".{cache.directory.name}.building-{os.getpid()}-", dir=cache.directory.parent
        )
    )
    try:
        staging.chmod(0o755)
        staged = BinaryCache(staging)
        staged.bin_dir.mkdir()
        started = time.monotonic()
        for build in tools.builds:
            _run_build(tools, build, build.argv(go, staged.bin_dir), environ, report)
        digests = {name: sha256_of(staged.binary(name)) or "" for name in tools.binaries}
        staged.marker.write_text(render_marker(tools, key, digests))
        _install(tools, staging, cache, key, replace_valid=force)
        elapsed = _duration(time.monotonic() - started)
        report(f"{tools.name} tools built in {elapsed}: {cache.bin_dir}")
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return cache


def _install(
    tools: ToolSet, staging: Path, cache: BinaryCache, key: str, *, replace_valid: bool
) -> None:
    """Move a finished build into place, unless a concurrent build already put a valid one."""
    if cache.directory.exists():
        if not replace_valid and check_cache(tools, cache, key).verdict is CacheVerdict.VALID:
            return
        retired = cache.directory.with_name(f".{cache.directory.name}.retired-{os.getpid()}")
        os.rename(cache.directory, retired)
        shutil.rmtree(retired, ignore_errors=True)
    try:
        os.rename(staging, cache.directory)
    except OSError:
        if check_cache(tools, cache, key).verdict is not CacheVerdict.VALID:
            raise


def _remove_abandoned_builds(cache: BinaryCache) -> None:
    """Staging directories whose build process is gone: left by a build that was killed."""
    for leftover in cache.directory.parent.glob(f".{cache.directory.name}.*-*"):
        pid = leftover.name.rsplit(".", 1)[-1].split("-")[1]
        if not pid.isdigit() or not Path(f"/proc/{pid}").exists():
            shutil.rmtree(leftover, ignore_errors=True)


def _run_build(
    tools: ToolSet,
    build: GoBuild,
    argv: tuple[str, ...],
    environ: Mapping[str, str],
    report: Report,
) -> None:
    module = wrapper_module(build.module, tools.modules_root)
    report(f"building {build.binary} (go build in {module})")
    started = time.monotonic()
    process = subprocess.Popen(
        argv,
        cwd=module,
        env=go_build_environment(environ),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    compiled = [0]
    messages: collections.deque[str] = collections.deque(maxlen=40)
    reader = threading.Thread(target=_read_output, args=(process, compiled, messages), daemon=True)
    reader.start()
    while True:
        try:
            code = process.wait(timeout=PROGRESS_INTERVAL_SECONDS)
            break
        except subprocess.TimeoutExpired:
            elapsed = _duration(time.monotonic() - started)
            report(f"  {build.binary}: {compiled[0]} packages compiled, {elapsed} elapsed")
    reader.join()
    if code != 0:
        tail = "\n".join(messages)
        raise BuildFailed(f"go build of {build.binary} failed (exit {code}):\n{tail}")
    elapsed = _duration(time.monotonic() - started)
    report(f"  {build.binary}: done in {elapsed} ({compiled[0]} packages compiled)")


def _read_output(
    process: subprocess.Popen[str], compiled: list[int], messages: collections.deque[str]
) -> None:
    # `go build -v` names each package it compiles on a line of its own; anything else
    # (errors, downloads) is kept for the failure message.
    assert process.stdout is not None
    with process.stdout:
        for line in process.stdout:
            text = line.rstrip()
            if text and " " not in text and ":" not in text:
                compiled[0] += 1
            elif text:
                messages.append(text)


def _duration(seconds: float) -> str:
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes}m{rest:02d}s" if minutes else f"{seconds:.1f}s"
