"""`kubectl vmroll plan [POOL] -f pool.yaml [--set version=V] [-o json|yaml]`: a dry run.

Reads the live pool, validates the planned spec (the operator's pydantic models, then the API
server's schema and CEL through a `dryRun=All` replace), and prints what the operator would do
(plan_report.py): the spec diff, each VM's fate and why, the batches, an estimate from the pool's
history and the policy verdict. Nothing is written. Exit 0 when the plan ran, whatever it
shows; 1 with `error: ...` on input that cannot be planned or that the API server refuses.
"""

from __future__ import annotations

import argparse
import copy
import json
from datetime import UTC, datetime
from typing import Any

import yaml
from kubernetes.client.exceptions import ApiException

from vmroll.api.pool import VirtualMachinePoolSpec
from vmroll.kubectl import plan_input, plan_report, policy_reads
from vmroll.kubectl.cluster import ClusterTarget, PluginError
from vmroll.kubectl.plan_cluster import PlanCluster
from vmroll.kubectl.view import table
from vmroll.plan.policy import Verdict, judge_pool_spec

POLICY_KIND = "ImagePolicy"


def add_parser(commands: Any, flags: argparse.ArgumentParser) -> None:
    """Register `plan` on the plugin's subcommands."""
    command = commands.add_parser(
        "plan", parents=[flags],
        help="dry run: what a spec change would do to a pool (nothing is written)",
    )  # fmt: skip
    command.add_argument("pool", nargs="?", help="the pool (default: the file's metadata.name)")
    command.add_argument("-f", "--filename", help="the planned pool manifest ('-': stdin)")
    command.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                         help="override a spec field: version=V, replicas=4, "
                              "template.vmSize=... (repeatable)")  # fmt: skip
    command.add_argument("-o", "--output", choices=("text", "json", "yaml"), default="text")


def _policy(cluster: PlanCluster, planned: VirtualMachinePoolSpec, live: dict[str, Any]) -> str:
    """The ImagePolicies' verdict on the planned spec, as the admission webhook judges it (no
    Azure read: `latest` only by the rules about the spec itself)."""
    if POLICY_KIND not in cluster.served_kinds():
        return f"no {POLICY_KIND} installed (the API server serves no vmroll.io {POLICY_KIND})"
    api_client = cluster.api_client
    try:
        policies = policy_reads.list_policies(api_client)
        labels = policy_reads.namespace_labels(api_client, cluster.namespace)
    except ApiException as error:
        return f"not judged: cannot read ImagePolicies ({error.status} {error.reason})"
    pool_labels = (live.get("metadata") or {}).get("labels") or {}
    verdict = judge_pool_spec(policies, planned, labels, pool_labels, datetime.now(UTC))
    return policy_line(verdict)


def policy_line(verdict: Verdict) -> str:
    """One line: compliant with how many policies, or the strictest violation first."""
    if not verdict.policies:
        return "compliant: no ImagePolicy selects this pool"
    if verdict.compliant:
        names = ", ".join(v.policy for v in verdict.policies)
        return f"compliant with {names}"
    first, *others = verdict.violations
    more = f" (and {len(others)} more)" if others else ""
    return f"{first.enforcement}: {first.message} (policy {first.policy}, {first.rule}){more}"


def run(target: ClusterTarget, args: argparse.Namespace) -> int:
    cluster = PlanCluster(target)
    if args.filename is None and args.pool is None:
        raise PluginError("name a pool, or give its manifest with -f")
    if args.filename is not None:
        try:
            manifest = plan_input.read_manifest(args.filename)
            name = plan_input.check_identity(manifest, args.pool, cluster.namespace)
        except plan_input.BadInput as error:
            raise PluginError(str(error)) from error
    live = cluster.get(args.pool if args.filename is None else name)
    name = live["metadata"]["name"]
    source = live if args.filename is None else manifest
    problems: list[str] = []
    planned: Any = None
    try:
        spec = plan_input.apply_overrides(source.get("spec") or {}, args.set)
    except plan_input.BadInput as error:
        raise PluginError(str(error)) from error
    try:
        planned = plan_input.validate(spec)
    except plan_input.BadInput as error:
        problems.append(f"vmroll: {error}")
    body = copy.deepcopy(live)
    body.pop("status", None)
    body["spec"] = spec
    verdict = cluster.dry_run(name, body)
    if not verdict.accepted:
        problems.append(f"the API server refused it (dryRun=All): {verdict.message}")
    if problems:
        raise PluginError(f'pool "{name}" cannot be planned:\n' + "\n".join(problems))
    stored_spec = (verdict.object or {}).get("spec") or spec
    report = plan_report.build_report(live, stored_spec, planned, datetime.now(UTC))
    report["server"] = verdict.message
    report["policy"] = _policy(cluster, planned, live)
    if args.output == "json":
        print(json.dumps(report, indent=2))
    elif args.output == "yaml":
        print(yaml.safe_dump(report, sort_keys=False), end="")
    else:
        print(render(report), end="")
    return 0


def _image_line(image: dict[str, Any]) -> str:
    live, planned = image["live"], image["planned"]
    if live == planned:
        return f"{live['image']} {live['version']} (unchanged)".replace("  ", " ")
    if live["image"] == planned["image"]:
        return f"{live['image']} {live['version']} -> {planned['version']}"
    return f"{live['image']} {live['version']} -> {planned['image']} {planned['version']}"


def render(report: dict[str, Any]) -> str:
    """The plan as a person reads it."""
    pool, revision, strategy = report["pool"], report["revision"], report["strategy"]
    same = revision["live"] == revision["planned"]
    lines = [
        f"Pool:        {pool['name']} (namespace {pool['namespace']})",
        f"Server:      {report['server']}",
        f"Policy:      {report['policy']}",
        f"Image:       {_image_line(report['image'])}",
        f"             version: {report['image']['versionFrom']}",
        f"Revision:    {revision['live']} -> {revision['planned']}"
        + (" (unchanged)" if same else ""),
    ]
    if not revision["liveReproduced"]:
        lines.append(
            "             note: the live spec does not hash to status.updateRevision (a rollback "
            "or an older operator): VM decisions compare against each VM's own revision"
        )
    lines += ["", "Spec diff (live -> planned):"]
    lines += [f"  {line}" for line in report["diff"]] or ["  none"]
    rows = [[vm["name"], vm["imageVersion"] or "-", vm["revision"], vm["action"],
             "; ".join(vm["why"])] for vm in report["vms"]]  # fmt: skip
    lines += ["", "VMs:"]
    lines += (
        table(("NAME", "VERSION", "REVISION", "ACTION", "WHY"), rows, "  ") if rows else ["  none"]
    )
    header = (
        f"Batches ({strategy['type']}, maxSurge {strategy['maxSurge']}, "
        f"maxUnavailable {strategy['maxUnavailable']}):"
    )
    lines += ["", header]
    for number, batch in enumerate(report["batches"], 1):
        work = [f"{verb} {', '.join(batch[key])}" for verb, key in
                (("reimage", "reimage"), ("replace", "replace"), ("remove", "remove"))
                if batch[key]]  # fmt: skip
        lines.append(f"  {number}. {'; '.join(work)}")
    if not report["batches"]:
        lines.append("  none")
    if report["created"]:
        lines.append(f"  {report['created']} new VMs created along the way")
    if not report["complete"]:
        lines.append("  old VMs stay until they are deleted (OnDelete)")
    if strategy["paused"]:
        lines.append("  the pool is paused: nothing starts until it is resumed")
    if strategy["maintenanceWindows"]:
        lines.append("  batches start only inside the pool's maintenance windows")
    lines += ["", f"Estimated duration: {report['estimate']['text']}"]
    return "\n".join(lines) + "\n"
