"""The environment every Ray process this project starts gets (local serving, tests, benchmarks).

* ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` keeps Ray on 127.0.0.1 (every address it binds and
  advertises); it also makes ``ray start --address`` refuse, so worker nodes on one machine are
  started in-process (``cluster.py``), and real multi-host clusters leave the variable unset.
* ``RAY_AUTH_MODE`` explicit: when unset, Ray 2.60 switches token authentication on by itself if
  ``~/.ray/auth_token`` exists, and a first ``ray.init`` writes that file. Loopback-only Ray runs
  with ``disabled``; a caller that set the variable (e.g. ``token``) keeps it.
* ``RAY_USAGE_STATS_ENABLED=0``: no usage report leaves the machine.
"""

from __future__ import annotations

import os

LOOPBACK_ONLY = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
DEFAULTS = {"RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}


def loopback_ray_environment() -> dict[str, str]:
    """Set (in ``os.environ``, which Ray's processes inherit) and return the variables above."""
    os.environ.update(LOOPBACK_ONLY)
    for name, value in DEFAULTS.items():
        os.environ.setdefault(name, value)
    return {name: os.environ[name] for name in (*LOOPBACK_ONLY, *DEFAULTS)}
