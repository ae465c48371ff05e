"""`kubectl-vmroll`: parses the command line, calls the cluster seam, prints the pure views.

Installed as the console script `kubectl-vmroll`, so kubectl runs it as `kubectl vmroll ...`
once it is on PATH. Errors print as `error: ...` on stderr with exit code 1, as kubectl's do.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from datetime import UTC, datetime

from vmroll.kubectl import images, plan_command, pool_object, progress, restart, undo, view
from vmroll.kubectl.cluster import RESOURCE, ClusterTarget, PluginError, Pools
from vmroll.kubectl.pool_object import Pool

CLEAR_SCREEN = "\x1b[H\x1b[2J"
DURATION = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s?)?$")


def duration(text: str) -> float:
    """kubectl's `--timeout` forms: `90s`, `5m`, `1h30m`, a number of seconds; 0 = forever."""
    match = DURATION.match(text)
    if not text or match is None:
        raise argparse.ArgumentTypeError(f"invalid duration {text!r}: use e.g. 90s, 5m or 1h")
    hours, minutes, seconds = (int(part or 0) for part in match.groups())
    return float(hours * 3600 + minutes * 60 + seconds)


def _connection_flags() -> argparse.ArgumentParser:
    flags = argparse.ArgumentParser(add_help=False)
    flags.add_argument("--kubeconfig", default=argparse.SUPPRESS, help="path to the kubeconfig")
    flags.add_argument("--context", default=argparse.SUPPRESS, help="kubeconfig context to use")
    flags.add_argument("-n", "--namespace", default=argparse.SUPPRESS,
                       help="the pool's namespace (default: the context's)")  # fmt: skip
    return flags


def build_parser() -> argparse.ArgumentParser:
    flags = _connection_flags()
    parser = argparse.ArgumentParser(
        prog="kubectl vmroll", parents=[flags],
        description="Operate vmroll VirtualMachinePools: status, rollouts, pause, history, undo, "
        "restart, plan, images.",
    )  # fmt: skip
    commands = parser.add_subparsers(dest="command", required=True)
    status = commands.add_parser("status", parents=[flags], help="a pool's compact status view")
    status.add_argument("pool")
    status.add_argument("-w", "--watch", action="store_true", help="redraw at every change")
    rollout = commands.add_parser("rollout", help="follow a rollout")
    rollout_commands = rollout.add_subparsers(dest="rollout_command", required=True)
    rollout_status = rollout_commands.add_parser(
        "status", parents=[flags],
        help="wait until the rollout completes (exit 0) or stalls, rolls back, pauses or times out",
    )  # fmt: skip
    rollout_status.add_argument("pool")
    rollout_status.add_argument("--timeout", type=duration, default=0.0,
                                help="give up after this long (e.g. 10m); 0, the default, waits "
                                     "forever")  # fmt: skip
    for verb, what in (("pause", "stop starting rollout steps"), ("resume", "resume rollouts")):
        command = commands.add_parser(verb, parents=[flags], help=f"{what} (spec.strategy.paused)")
        command.add_argument("pool")
    history = commands.add_parser("history", parents=[flags], help="the pool's rollout history")
    history.add_argument("pool")
    undo_command = commands.add_parser(
        "undo", parents=[flags],
        help="set the pool's image version back to the one a history entry ran",
    )  # fmt: skip
    undo_command.add_argument("pool")
    undo_command.add_argument(
        "--to-revision", default=None,
        help="the revision (from `history`) whose image version to run; default: the last good "
        "version before the current one",
    )  # fmt: skip
    restart.add_parser(commands, flags)
    plan_command.add_parser(commands, flags)
    images.add_parser(commands, flags)
    return parser


def _show_status(pools: Pools, name: str, watching: bool) -> int:
    if not watching:
        print(view.render_status(pools.get(name)), end="")
        return 0
    redraw = CLEAR_SCREEN if sys.stdout.isatty() else "\n"
    for pool in pools.watch(name, timeout=None):
        if pool is None:
            raise PluginError(f'{RESOURCE} "{name}" was deleted')
        print(redraw + view.render_status(pool), end="", flush=True)
    return 0


def _rollout_status(pools: Pools, name: str, timeout: float) -> int:
    last = ""
    pool: Pool | None = None
    for pool in pools.watch(name, timeout=timeout or None):
        if pool is None:
            raise PluginError(f'{RESOURCE} "{name}" was deleted')
        verdict = progress.rollout_verdict(pool)
        if verdict.phase == progress.Phase.DONE:
            print(verdict.message, flush=True)
            return 0
        if verdict.phase == progress.Phase.FAILED:
            raise PluginError(verdict.message)
        if verdict.message != last:
            print(verdict.message, flush=True)
            last = verdict.message
    raise PluginError(f'timed out after {timeout:g}s waiting for pool "{name}" rollout: {last}')


def _set_paused(pools: Pools, name: str, paused: bool) -> int:
    word = "paused" if paused else "resumed"
    if pool_object.paused(pools.get(name)) == paused:
        print(f"{RESOURCE}/{name} already {word}")
        return 0
    pools.patch(name, {"spec": {"strategy": {"paused": paused}}})
    print(f"{RESOURCE}/{name} {word}")
    return 0


def _undo(pools: Pools, name: str, to_revision: str | None) -> int:
    pool = pools.get(name)
    try:
        entry = undo.undo_target(pool, to_revision)
        patch = undo.undo_patch(pool, str(entry["imageVersion"]))
    except undo.NoUndo as error:
        raise PluginError(str(error)) from error
    pools.patch(name, patch)
    print(f"{RESOURCE}/{name} rolled back to image version {entry['imageVersion']} "
          f"(revision {entry['revision']})")  # fmt: skip
    return 0


def run(args: argparse.Namespace) -> int:
    target = ClusterTarget(getattr(args, "kubeconfig", None), getattr(args, "context", None),
                    getattr(args, "namespace", None))  # fmt: skip
    if args.command == "images":
        return images.run(args, target)
    pools = Pools(target)
    if args.command == "status":
        return _show_status(pools, args.pool, args.watch)
    if args.command == "rollout":
        return _rollout_status(pools, args.pool, args.timeout)
    if args.command in ("pause", "resume"):
        return _set_paused(pools, args.pool, args.command == "pause")
    if args.command == "plan":
        return plan_command.run(target, args)
    if args.command == "restart":
        return restart.run(pools, args.pool, datetime.now(UTC))
    if args.command == "history":
        print(view.render_history(pools.get(args.pool)), end="")
        return 0
    return _undo(pools, args.pool, args.to_revision)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return run(args)
    except PluginError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
