"""vmroll's container image, built without Docker and without a container registry.

A Debian root filesystem from `mmdebstrap`, the vmroll wheel and its runtime dependencies
installed into a venv in it from wheels fetched on the host, then one layer and an OCI image
layout written by `hack/imagetool`. Development tooling: this package is not in the wheel, so
it is not in the image it builds.
"""
