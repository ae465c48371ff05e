"""The `vmroll devcluster` subcommands: build, up, down, env and status of a local control plane.

Progress goes to stderr and results to stdout, so `eval "$(vmroll devcluster env)"` works.
Every failure the user can act on is a `DevclusterError` whose message says what to do.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Callable
from typing import Any

from vmroll.devcluster import health
from vmroll.devcluster.build import ensure_tools, locate_cache
from vmroll.devcluster.cache import check_cache
from vmroll.devcluster.certs import Pki
from vmroll.devcluster.controlplane import LocalControlPlane
from vmroll.devcluster.errors import DevclusterError, InstanceNotFound
from vmroll.devcluster.flags import apiserver_url, etcd_url
from vmroll.devcluster.instance import InstanceFiles, InstanceState, InstanceStatus, inspect, remove
from vmroll.devcluster.node.layout import NodeLayout
from vmroll.devcluster.paths import DEFAULT_INSTANCE_NAME, instance_dir
from vmroll.devcluster.toolsets import CONTROLPLANE, TOOL_SETS, tool_set
from vmroll.devcluster.versions import ETCD, KUBE_APISERVER, KUBECTL


def register(commands: argparse._SubParsersAction[Any]) -> None:
    parser = commands.add_parser(
        "devcluster",
        help="a local Kubernetes control plane (real etcd + kube-apiserver) for dev and tests",
        description="Build, start and stop a local Kubernetes control plane on loopback.",
    )
    actions = parser.add_subparsers(dest="devcluster_command", required=True, metavar="ACTION")
    build = actions.add_parser(
        "build", help="build the local stack's tools (cached): etcd, kube-apiserver, kubectl, helm"
    )
    build.add_argument(
        "tool_sets",
        nargs="*",
        metavar="SET",
        help=f"tool sets to build: {', '.join(TOOL_SETS)} or all (default: {CONTROLPLANE.name})",
    )
    build.add_argument("--force", action="store_true", help="rebuild even when the cache is valid")
    build.set_defaults(run=_guarded(_build))
    up = _with_name(actions.add_parser("up", help="start a control plane"))
    up.add_argument("--port", type=int, help="kube-apiserver's port (default: a free one)")
    up.add_argument(
        "--with-node",
        action="store_true",
        help="also run a real node (containerd, kubelet, scheduler, controller-manager) so that "
        "pods run; Linux and root only",
    )
    up.set_defaults(run=_guarded(_up))
    down = _with_name(actions.add_parser("down", help="stop a control plane and remove its data"))
    down.set_defaults(run=_guarded(_down))
    env = _with_name(actions.add_parser("env", help="print the shell exports to use it"))
    env.set_defaults(run=_guarded(_env))
    status = _with_name(actions.add_parser("status", help="say what runs, on which ports"))
    status.set_defaults(run=_guarded(_status))


def _with_name(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument(
        "--name", default=DEFAULT_INSTANCE_NAME, help="instance name (default: %(default)s)"
    )
    return parser


def _guarded(command: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        try:
            return command(args)
        except DevclusterError as error:
            print(f"vmroll devcluster {args.devcluster_command}: error: {error}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print(f"vmroll devcluster {args.devcluster_command}: interrupted", file=sys.stderr)
            return 130

    return run


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _build(args: argparse.Namespace) -> int:
    names = args.tool_sets or [CONTROLPLANE.name]
    chosen = list(TOOL_SETS.values()) if "all" in names else [tool_set(name) for name in names]
    for tools in chosen:
        cache = ensure_tools(tools, force=args.force, report=_progress)
        print(f"{tools.name} tools are ready in {cache.bin_dir}")
    return 0


def _up(args: argparse.Namespace) -> int:
    status = inspect(args.name, InstanceFiles(instance_dir(args.name)))
    if status.state is InstanceState.RUNNING:
        print(f"control plane {args.name!r} is already running")
        _print_usage(status)
        return 0
    control_plane = LocalControlPlane(
        args.name, apiserver_port=args.port, with_node=args.with_node, report=_progress
    )
    control_plane.start()
    status = inspect(args.name, control_plane.files)
    print(f"control plane {args.name!r} is up at {control_plane.server}")
    _print_usage(status)
    return 0


def _print_usage(status: InstanceStatus) -> None:
    assert status.record is not None
    kubectl = f"{status.record.bin_dir}/{KUBECTL}"
    name = "" if status.name == DEFAULT_INSTANCE_NAME else f" --name {status.name}"
    print(f"  kubeconfig: {status.files.kubeconfig}")
    print(f"  kubectl:    {kubectl}")
    print("use it from this shell with:")
    print(f'  eval "$(vmroll devcluster env{name})"')
    print("  kubectl get namespaces")
    print("or directly:")
    print(f"  {kubectl} --kubeconfig {status.files.kubeconfig} get namespaces")
    print(f"stop it with: vmroll devcluster down{name}")


def _down(args: argparse.Namespace) -> int:
    files = InstanceFiles(instance_dir(args.name))
    status = inspect(args.name, files)
    if status.state is InstanceState.ABSENT:
        print(f"no control plane named {args.name!r}: nothing to stop")
        return 0
    remove(files)
    print(f"control plane {args.name!r} stopped; removed {files.directory}")
    return 0


def _running(name: str) -> InstanceStatus:
    status = inspect(name, InstanceFiles(instance_dir(name)))
    if status.state is not InstanceState.RUNNING:
        raise InstanceNotFound(
            f"no control plane named {name!r} is running; start one with "
            f"`vmroll devcluster up{'' if name == DEFAULT_INSTANCE_NAME else f' --name {name}'}`"
        )
    return status


def _env(args: argparse.Namespace) -> int:
    status = _running(args.name)
    assert status.record is not None
    print(f"export KUBECONFIG={shlex.quote(str(status.files.kubeconfig))}")
    print(f'export PATH={shlex.quote(status.record.bin_dir)}:"$PATH"')
    return 0


def _status(args: argparse.Namespace) -> int:
    files = InstanceFiles(instance_dir(args.name))
    status = inspect(args.name, files)
    if status.state is InstanceState.ABSENT:
        print(f"control plane {args.name!r}: not running")
        for tools in TOOL_SETS.values():
            cache, key = locate_cache(tools)
            check = check_cache(tools, cache, key)
            verdict = ": ".join(filter(None, (check.verdict.value, check.reason)))
            print(f"  {tools.name} binaries: {cache.bin_dir} ({verdict})")
        return 1
    if status.state is InstanceState.STALE or status.record is None:
        print(f"control plane {args.name!r}: stale ({status.problem}) in {files.directory}")
        print(f"  clean it up with: vmroll devcluster down --name {args.name}")
        return 1
    record = status.record
    tls = health.admin_tls(Pki(files.pki))
    server = apiserver_url(record.ports)
    apiserver_version = health.apiserver_version(server, tls) or "not answering"
    etcd_version = health.etcd_version(etcd_url(record.ports)) or "not answering"
    print(f"control plane {args.name!r}: running")
    print(
        f"  kube-apiserver: {server}  {apiserver_version}  pid {status.live_pids[KUBE_APISERVER]}"
    )
    print(
        f"  etcd:           {etcd_url(record.ports)}  {etcd_version}  pid {status.live_pids[ETCD]}"
    )
    print(f"  kubeconfig:     {files.kubeconfig}")
    print(f"  binaries:       {record.bin_dir}")
    if record.with_node:
        print(f"  node:           localhost (state in {NodeLayout(files.directory).directory})")
    return 0
