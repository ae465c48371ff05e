"""One reconcile pass of a VirtualMachinePool, sequenced apart from kopf.

The handlers in `vmroll.handlers` own the loop, the Kubernetes reads and writes and the shared
state; this package owns the order of one pass (access, image, observe, plan, act, report) and
reaches Azure only through the `ComputeGateway` protocol, so that the pass is tested with a fake.
"""
