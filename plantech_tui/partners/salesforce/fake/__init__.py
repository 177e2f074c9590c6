"""A fake Salesforce Financial Services Cloud (SALESFORCE_FSC_API.md) for demos and tests.

Names are loaded on first use so that importing this package (e.g. to build the CLI parser)
does not import starlette or uvicorn.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .app import FakeState, create_app
    from .dataset import (
        DEMO_CLIENT_ID,
        DEMO_HOUSEHOLD,
        DEMO_USERNAME,
        FakeOrg,
        generate_data,
        load_demo_data,
    )
    from .faults import FAULTS, FaultSpecError, parse_faults
    from .server import FakeSalesforceServer, configure_parser, run_from_args

_WHERE = {
    "FAULTS": "faults", "FakeState": "app", "FaultSpecError": "faults", "create_app": "app",
    "parse_faults": "faults",
    "DEMO_CLIENT_ID": "dataset", "DEMO_HOUSEHOLD": "dataset", "DEMO_USERNAME": "dataset",
    "FakeOrg": "dataset", "generate_data": "dataset", "load_demo_data": "dataset",
    "FakeSalesforceServer": "server", "configure_parser": "server", "run_from_args": "server",
}

__all__ = [
    "DEMO_CLIENT_ID", "DEMO_HOUSEHOLD", "DEMO_USERNAME", "FAULTS", "FakeOrg",
    "FakeSalesforceServer", "FakeState", "FaultSpecError", "configure_parser", "create_app",
    "generate_data", "load_demo_data", "parse_faults", "run_from_args",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))
