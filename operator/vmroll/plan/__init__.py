"""Pure decisions: plain data in, decisions out. No I/O, no kopf, no Azure SDK, no clock reads.

The API models are plain data too, and the modules that judge an object as users wrote it read
them (`conditions`, `access`, `account_trust`, `revision`); the rollout planner and the rest
take their own frozen records (see reconcile/spec_map.py). Contracts in pyproject.toml.
"""
