"""The `vmroll image` subcommand: build vmroll's container image into dist/."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(commands: argparse._SubParsersAction[Any]) -> None:
    image = commands.add_parser("image", help="build vmroll's container image")
    actions = image.add_subparsers(dest="image_command", required=True, metavar="ACTION")
    build = actions.add_parser(
        "build",
        help="build dist/vmroll-<version>.oci.tar (from the cache when nothing changed)",
        description="Build vmroll's OCI image archive from Debian packages and the vmroll "
        "wheel, without Docker or a registry. Needs root. Cached under <cache>/image/.",
    )
    build.add_argument(
        "--rebuild", action="store_true", help="assemble the image again even if it is cached"
    )
    build.set_defaults(run=_build)


def _progress(message: str) -> None:
    print(f"vmroll image: {message}", flush=True)


def _build(args: argparse.Namespace) -> int:
    from vmroll.devcluster.errors import DevclusterError
    from vmroll.imagebuild.build import build_image
    from vmroll.imagebuild.rootfs import ImageBuildError

    try:
        build_image(rebuild=args.rebuild, report=_progress)
    except (ImageBuildError, DevclusterError) as error:
        print(f"vmroll image: {error}", file=sys.stderr)
        return 1
    return 0
