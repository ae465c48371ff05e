"""vmroll's kopf handlers: thin adapters from Kubernetes events to `vmroll.reconcile`.

Importing `vmroll.handlers.operator` registers every handler; `vmroll run` does that and starts
kopf.
"""
