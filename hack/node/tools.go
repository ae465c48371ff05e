//go:build tools

// Package tools pins the Kubernetes node commands this module builds: a kubelet and the two
// controllers (scheduler, controller-manager) that a control plane needs before pods run.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubelet"
)
