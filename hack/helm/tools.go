//go:build tools

// Package tools pins the helm command that the chart's tests and the local stack use.
package tools

import (
	_ "helm.sh/helm/v3/cmd/helm"
)
