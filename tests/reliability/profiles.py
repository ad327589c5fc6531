"""Hypothesis profiles for the reliability suites: `ci` (short, the default) and `long` (by hand).

Select with HYPOTHESIS_PROFILE=long. The profiles are applied to these suites' tests only
(`PROFILE`), never loaded globally, so other suites keep their own settings.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

_QUIET = [HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large]
settings.register_profile(
    "ci",
    max_examples=20,
    stateful_step_count=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=_QUIET,
    database=None,
)
settings.register_profile(
    "long",
    max_examples=400,
    stateful_step_count=60,
    deadline=None,
    suppress_health_check=_QUIET,
)
PROFILE = settings.get_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
"""The settings these suites run under."""
