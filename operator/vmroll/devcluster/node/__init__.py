"""A real Kubernetes node beside the local control plane: containerd, kubelet and controllers.

`vmroll devcluster up --with-node` (or `LocalControlPlane(..., with_node=True)`) starts it;
`down` removes it with everything it did to the host. See the devcluster README for what each
part needs and why.
"""
