"""Settings every test of the project shares: the Hypothesis profile.

Two profiles, chosen before any test module is imported (``@settings`` on a test only
overrides what it names, the rest comes from the profile loaded here):

- ``ci`` (when ``CI=true``): no deadline and no ``too_slow`` health check, because a CI
  runner's speed says nothing about the code; derandomized, so a run is reproducible and a
  red build is the code's doing, not the draw's; the failing example is printed as a blob
  to replay with ``@reproduce_failure``.
- ``dev`` (otherwise): the same tolerance of a loaded machine (two cores shared by several
  test runs), but random draws and the example database, so each run explores further.

``HYPOTHESIS_PROFILE=ci`` (or ``dev``) picks one explicitly. The per-test timeout
(``timeout`` in ``[tool.pytest.ini_options]``) is what stops a test that hangs.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

# Hypothesis's own defaults, not whatever profile it loaded by itself (it loads its
# built-in "ci" profile when it sees a CI environment)
_LOADED_MACHINE = settings(settings.get_profile("default"), deadline=None,
                           suppress_health_check=[HealthCheck.too_slow], print_blob=True)

settings.register_profile("ci", _LOADED_MACHINE, derandomize=True, database=None)
settings.register_profile("dev", _LOADED_MACHINE)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE")
                      or ("ci" if os.environ.get("CI", "").lower() == "true" else "dev"))
