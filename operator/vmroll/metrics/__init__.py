"""The operator's Prometheus metrics: what it did (reconcile passes, Azure requests, waits) and
what it sees (each pool's VMs, rollout progress and image staleness).

`registry` owns the metrics, `server` serves them at /metrics; `pool_figures` and `staleness` are
pure: they turn a pool's status into the numbers the gauges show.
"""
