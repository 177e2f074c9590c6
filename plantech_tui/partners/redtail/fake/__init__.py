"""A fake Redtail CRM server (REDTAIL_API.md) for demos and tests.

Names are loaded on first use so that importing this package (e.g. to build the CLI parser)
does not import starlette or uvicorn.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .app import create_app
    from .dataset import (
        DEMO_API_KEY,
        DEMO_PASSWORD,
        DEMO_USERNAME,
        DatasetError,
        FakeAccount,
        FakeContact,
        FakeData,
        FakeFamily,
        FakeUser,
        FamilyMember,
        generate_data,
        load_dataset,
        load_demo_data,
    )
    from .faults import FAULT_NAMES, FaultSpecError
    from .server import FakeRedtailServer, configure_parser, run_from_args

_WHERE = {
    "DEMO_API_KEY": "dataset",
    "DEMO_USERNAME": "dataset",
    "DEMO_PASSWORD": "dataset",
    "DatasetError": "dataset",
    "FakeAccount": "dataset",
    "FakeContact": "dataset",
    "FakeData": "dataset",
    "FakeFamily": "dataset",
    "FakeUser": "dataset",
    "FamilyMember": "dataset",
    "generate_data": "dataset",
    "load_dataset": "dataset",
    "load_demo_data": "dataset",
    "FAULT_NAMES": "faults",
    "FaultSpecError": "faults",
    "create_app": "app",
    "FakeRedtailServer": "server",
    "configure_parser": "server",
    "run_from_args": "server",
}

__all__ = [
    "DEMO_API_KEY",
    "DEMO_USERNAME",
    "DEMO_PASSWORD",
    "DatasetError",
    "FakeAccount",
    "FakeContact",
    "FakeData",
    "FakeFamily",
    "FakeUser",
    "FamilyMember",
    "generate_data",
    "load_dataset",
    "load_demo_data",
    "FAULT_NAMES",
    "FaultSpecError",
    "create_app",
    "FakeRedtailServer",
    "configure_parser",
    "run_from_args",
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
