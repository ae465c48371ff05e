"""The validating admission webhook: the API server asks vmroll before it stores a pool or an
account, so that every object it accepts is one the operator can parse and act on.

Served by vmroll's own aiohttp endpoint rather than kopf's `@kopf.on.validate` and its
`WebhookServer`, for three reasons:

- kopf serves admission from inside `kopf.operator()`, which with `--leader-elect` runs only on
  the replica holding the Lease. A Service in front of two replicas would then send half the
  admissions to a standby that does not listen; with `failurePolicy: Fail` those are refused.
  This endpoint starts in `vmroll run` before leader election, so every replica answers.
- kopf's managed configuration (`settings.admission.managed`) writes the
  ValidatingWebhookConfiguration itself: the operator would need RBAC to create and patch
  webhook configurations cluster-wide, and kopf's has no `matchConditions`, which vmroll uses
  so that finalizer removal and metadata-only updates never wait on the webhook.
- kopf generates self-signed certificates with optional dependencies that are not in the
  operator's image; here the certificate comes from files (the chart's Secret, or the local
  stack's own CA), and the review itself is a pure function tested without a server.

`review` decides, `server` serves it over TLS, `registration` describes the
ValidatingWebhookConfiguration that the local stack, the e2e tests and (as YAML) the chart
register.
"""
