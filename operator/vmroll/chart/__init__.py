"""The Helm chart's renderings: the kustomize base in manifests/ and the chart's copy of the CRDs.

charts/vmroll is the one source of the install objects; manifests/ is what `helm template` makes
of it with the default values, so that the two can never drift apart (a test renders again and
compares).
"""
