"""`kubectl vmroll`: the command line of people who operate pools (a kubectl plugin).

`kubectl rollout status` has no status viewer for custom resources, so vmroll ships its own:
`status`, `rollout status`, `pause`, `resume`, `history`, `undo`, `restart` and `plan` (a dry
run). What to print and when a rollout is over are pure functions of the pool object (`view`,
`progress`, `undo`, `restart`, `plan_report`); `cluster` (and `plan_cluster`, for the dry run
and API discovery) is the one seam that talks to the API server, `cli` only parses and
sequences.
"""
