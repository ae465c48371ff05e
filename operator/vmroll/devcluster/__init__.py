"""A local Kubernetes control plane (real etcd and kube-apiserver) for development and tests."""
