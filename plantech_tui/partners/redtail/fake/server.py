"""Running the fake Redtail: in a background thread (tests, the demo) or in the foreground
(``plantech fake-redtail``). Always bound to 127.0.0.1; starlette and uvicorn are imported on
first use so that building the CLI parser stays cheap."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import threading
from collections.abc import Iterator
from types import TracebackType
from typing import TYPE_CHECKING, Any

from ... import fake_server
from .dataset import (
    DEMO_API_KEY,
    DEMO_PASSWORD,
    DEMO_USERNAME,
    DatasetError,
    FakeData,
    generate_data,
    load_dataset,
    load_demo_data,
)
from .faults import FaultSpecError, faults_help, parse_faults

if TYPE_CHECKING:

    from .faults import FaultSet

HOST = fake_server.HOST
_bind = fake_server.bind


class FakeRedtailServer:
    """The fake on a free loopback port in a background thread::

    with FakeRedtailServer(load_demo_data()) as srv:
        httpx.get(srv.base_url + "/authentication", ...)
        srv.data.accounts[5001].balance = "1.0"     # live data
        srv.set_faults("rate_limit:2")
    """

    def __init__(
        self,
        data: FakeData | None = None,
        *,
        port: int = 0,
        latency_ms: int = 0,
        faults: str | list[str] | None = None,
    ) -> None:
        from .app import create_app

        self.data = data if data is not None else load_demo_data()
        self.app = create_app(self.data, latency_ms=latency_ms, faults=faults)
        self._requested_port = port
        self._runner: fake_server.ServerThread | None = None
        self.port = 0

    @property
    def root_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.root_url}/api/public/v1"

    @property
    def admin_url(self) -> str:
        return f"{self.root_url}/__admin"

    @property
    def state(self) -> Any:
        """The app's FakeState (faults, request_log, failed logins...)."""
        return self.app.state.fake

    @property
    def request_log(self) -> list[tuple[str, str]]:
        log: list[tuple[str, str]] = self.app.state.request_log
        return log

    def set_faults(self, spec: str | list[str] | None) -> FaultSet:
        """Replace the active faults (FaultSpecError if the spec is bad)."""
        faults: FaultSet = self.state.set_faults(spec)
        return faults

    @contextlib.contextmanager
    def holding_accounts(self) -> Iterator[threading.Event]:
        """Account listings wait (up to a minute) until the yielded event is set, or the block
        ends: a test can look at a pull in flight without racing it."""
        gate = threading.Event()
        self.state.accounts_gate = gate
        try:
            yield gate
        finally:
            self.state.accounts_gate = None
            gate.set()

    def start(self) -> FakeRedtailServer:
        if self._runner is not None:
            raise RuntimeError("the fake Redtail server is already running")
        sock = _bind(self._requested_port)
        self.port = sock.getsockname()[1]
        self._runner = fake_server.ServerThread(self.app, [sock],
                                                f"fake-redtail-{self.port}")
        try:
            self._runner.start()
        except RuntimeError:
            self._runner = None
            raise
        return self

    def stop(self) -> None:
        if self._runner is not None:
            self._runner.stop()
        self._runner = None

    def __enter__(self) -> FakeRedtailServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


# -- command line ----------------------------------------------------------------------------


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Add the options of ``plantech fake-redtail``. Values stay strings; `run_from_args`
    validates them so that a bad value is one line on stderr and exit 2."""
    parser.add_argument(
        "--port", default="0", metavar="P", help="TCP port on 127.0.0.1 (default 0: a free port)"
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--dataset", metavar="FILE", default=None, help="dataset JSON file (default: the demo)"
    )
    source.add_argument(
        "--generate", metavar="N", default=None, help="generate N contacts instead of the demo"
    )
    parser.add_argument("--seed", metavar="S", default="1", help="seed for --generate (default 1)")
    parser.add_argument(
        "--latency-ms", metavar="N", default="0", help="delay every request by N milliseconds"
    )
    parser.add_argument(
        "--faults",
        metavar="SPEC",
        default=None,
        help=f"comma-separated name[:arg] faults to inject; names: {faults_help()}",
    )


class _UsageError(Exception):
    pass


def _int_arg(value: object, option: str, *, minimum: int = 0, maximum: int | None = None) -> int:
    if isinstance(value, bool):
        raise _UsageError(f"{option}: not a whole number: {value!r}")
    try:
        number = int(str(value).strip())
    except ValueError:
        raise _UsageError(f"{option}: not a whole number: {str(value)[:40]!r}") from None
    if number < minimum or (maximum is not None and number > maximum):
        bound = f"between {minimum} and {maximum}" if maximum is not None else f">= {minimum}"
        raise _UsageError(f"{option}: must be {bound}")
    return number


def _data_from_args(args: argparse.Namespace) -> FakeData:
    dataset = getattr(args, "dataset", None)
    generate = getattr(args, "generate", None)
    if dataset is not None and generate is not None:
        raise _UsageError("--dataset and --generate cannot be used together")
    if dataset is not None:
        try:
            return load_dataset(dataset)
        except DatasetError as exc:
            raise _UsageError(f"--dataset: {exc}") from None
    if generate is not None:
        n = _int_arg(generate, "--generate", maximum=10_000_000)
        seed = _int_arg(getattr(args, "seed", 1) or 0, "--seed", minimum=-(2**63))
        return generate_data(n, seed)
    return load_demo_data()


def run_from_args(args: argparse.Namespace) -> int:
    """Run the fake in the foreground until SIGINT/SIGTERM. Prints the base URL as the first
    stdout line, then the demo credentials (with --json: one JSON document on the first line,
    {"base_url", "api_key", "username", "password", "admin_url"}). 0 on a signal, 2 on bad
    arguments (one line)."""
    from .app import create_app

    try:
        port = _int_arg(getattr(args, "port", 0) or 0, "--port", maximum=65535)
        latency = _int_arg(getattr(args, "latency_ms", 0) or 0, "--latency-ms")
        faults_spec = getattr(args, "faults", None)
        try:
            faults = parse_faults(faults_spec)
        except FaultSpecError as exc:
            raise _UsageError(f"--faults: {exc}") from None
        data = _data_from_args(args)
    except _UsageError as exc:
        print(f"plantech: error: fake-redtail: {exc}", file=sys.stderr, flush=True)
        return 2
    try:
        sock = _bind(port)
    except OSError as exc:
        print(
            f"plantech: error: fake-redtail: cannot listen on {HOST}:{port}: {exc.strerror or exc}",
            file=sys.stderr,
            flush=True,
        )
        return 1
    bound = sock.getsockname()[1]
    app = create_app(data, latency_ms=latency, faults=faults.spec)
    username = next(iter(data.users.values())).username if data.users else DEMO_USERNAME
    password = next(iter(data.users.values())).password if data.users else DEMO_PASSWORD
    api_key = data.api_keys[0] if data.api_keys else DEMO_API_KEY
    base_url = f"http://{HOST}:{bound}/api/public/v1"
    admin_url = f"http://{HOST}:{bound}/__admin"
    if getattr(args, "json", False):  # one JSON document, on one line (the first and only)
        print(json.dumps({"base_url": base_url, "api_key": api_key, "username": username,
                          "password": password, "admin_url": admin_url}), flush=True)
    else:
        print(base_url)
        print(f"api key: {api_key}")
        print(f"username: {username}")
        print(f"password: {password}")
        print(f"admin: {admin_url}", flush=True)
    fake_server.run_foreground(app, [sock])
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m plantech_tui.partners.redtail.fake",
        description="Run the fake Redtail CRM API on 127.0.0.1.",
    )
    configure_parser(parser)
    return run_from_args(parser.parse_args(argv))
