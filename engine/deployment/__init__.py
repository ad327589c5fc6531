"""Running the engine for one local authority: its configuration, set-up and upkeep.

`config` reads a deployment's `cme.toml` (found by `--config`, `CME_CONFIG`, beside the SQLite
database, or in the working directory); `init` makes a new deployment. Sits above the engine's
audit, reports and scheduling layers and below the CLI. Nothing is imported until named, so
`import engine.deployment` costs nothing.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "DeploymentConfig": "engine.deployment.config",
    "deployment_config": "engine.deployment.config",
    "find_config": "engine.deployment.config",
    "load_config": "engine.deployment.config",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'engine.deployment' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
