"""Running the fake Salesforce: two loopback ports (the login host and the instance host) in
a background thread (tests, the demo) or in the foreground (`plantech fake-salesforce`).
starlette and uvicorn are imported on first use, so building the CLI parser stays cheap."""

from __future__ import annotations

import argparse
import json
import sys
import threading
from types import TracebackType
from typing import Any

from ... import fake_server
from .dataset import DEMO_CLIENT_ID, FakeOrg, generate_data, load_demo_data

HOST = fake_server.HOST


class FakeSalesforceServer:
    """The fake on two free loopback ports in a background thread::

    with FakeSalesforceServer(load_demo_data(), auto_approve=True) as srv:
        srv.login_url, srv.instance_url, srv.client_id
        srv.state.approve(); srv.state.set_faults("request_limit:1")
    """

    def __init__(self, org: FakeOrg | None = None, *, faults: str | None = None,
                 auto_approve: bool = False, device_interval: int = 5, latency_ms: int = 0,
                 login_port: int = 0, approve_after: float | None = None) -> None:
        self.org = org if org is not None else load_demo_data()
        self._socks = [fake_server.bind(login_port), fake_server.bind(0)]
        self.login_url = f"http://{HOST}:{self._socks[0].getsockname()[1]}"
        self.instance_url = f"http://{HOST}:{self._socks[1].getsockname()[1]}"
        from .app import create_app

        self.app = create_app(self.org, faults, login_url=self.login_url,
                              instance_url=self.instance_url, auto_approve=auto_approve,
                              device_interval=device_interval, latency_ms=latency_ms,
                              approve_after=approve_after)
        self._runner = fake_server.ServerThread(self.app, self._socks, "fake Salesforce server")

    @property
    def client_id(self) -> str:
        return DEMO_CLIENT_ID

    @property
    def admin_url(self) -> str:
        return f"{self.login_url}/__admin"

    @property
    def state(self) -> Any:
        return self.app.state.fake

    def set_faults(self, spec: str | None) -> dict[str, Any]:
        faults: dict[str, Any] = self.state.set_faults(spec)
        return faults

    def start(self) -> FakeSalesforceServer:
        self._runner.start()
        return self

    def stop(self) -> None:
        self._runner.stop()

    def __enter__(self) -> FakeSalesforceServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


# -- command line ----------------------------------------------------------------------------


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """The options of `plantech fake-salesforce` (strings; `run_from_args` checks them)."""
    from .faults import FAULTS

    parser.add_argument("--port", default="0", metavar="P",
                        help="the login host's port on 127.0.0.1 (default 0: a free port; "
                             "the instance host always takes a free one)")
    parser.add_argument("--auto-approve", action="store_true",
                        help="approve every device code at once (scripts, cron tests)")
    parser.add_argument("--generate", metavar="N", default=None,
                        help="N generated clients (30 accounts each) instead of the demo org")
    parser.add_argument("--seed", metavar="S", default="1", help="seed for --generate")
    parser.add_argument("--latency-ms", metavar="N", default="0",
                        help="delay every request by N milliseconds")
    parser.add_argument("--faults", metavar="SPEC", default=None,
                        help="comma-separated name[:arg] faults; names: " + ", ".join(FAULTS))


def _whole(value: object, option: str, maximum: int) -> int:
    try:
        number = int(str(value).strip())
    except ValueError:
        raise ValueError(f"{option}: not a whole number: {str(value)[:40]!r}") from None
    if not 0 <= number <= maximum:
        raise ValueError(f"{option}: must be between 0 and {maximum}")
    return number


def _approve_on_enter(state: Any) -> None:
    """The presenter key of the standalone fake: Enter approves the newest device code."""
    for _line in sys.stdin:
        code = state.approve()
        print(f"approved {code}" if code else "no device code is waiting", file=sys.stderr,
              flush=True)


def run_from_args(args: argparse.Namespace) -> int:
    """Run until SIGINT/SIGTERM. Prints the login URL as the first stdout line and the client
    id as the second (with --json one document: {"login_url", "client_id", "instance_url",
    "admin_url"}). 0 on a signal, 2 on bad arguments, 1 when the port is taken."""
    from .app import create_app
    from .faults import FaultSpecError, parse_faults

    try:
        port = _whole(getattr(args, "port", 0) or 0, "--port", 65535)
        latency = _whole(getattr(args, "latency_ms", 0) or 0, "--latency-ms", 600_000)
        generate = getattr(args, "generate", None)
        org = (generate_data(_whole(generate, "--generate", 100_000),
                             _whole(getattr(args, "seed", 1) or 0, "--seed", 2**31))
               if generate is not None else load_demo_data())
        faults = getattr(args, "faults", None)
        parse_faults(faults)
    except (ValueError, FaultSpecError) as exc:
        print(f"plantech: error: fake-salesforce: {exc}", file=sys.stderr, flush=True)
        return 2
    try:
        socks = [fake_server.bind(port), fake_server.bind(0)]
    except OSError as exc:
        print(f"plantech: error: fake-salesforce: cannot listen on {HOST}:{port}: "
              f"{exc.strerror or exc}", file=sys.stderr, flush=True)
        return 1
    login_url = f"http://{HOST}:{socks[0].getsockname()[1]}"
    instance_url = f"http://{HOST}:{socks[1].getsockname()[1]}"
    auto = bool(getattr(args, "auto_approve", False))
    app = create_app(org, faults, login_url=login_url, instance_url=instance_url,
                     auto_approve=auto, latency_ms=latency)

    if getattr(args, "json", False):
        print(json.dumps({"login_url": login_url, "client_id": DEMO_CLIENT_ID,
                          "instance_url": instance_url, "admin_url": f"{login_url}/__admin"}),
              flush=True)
    else:
        print(login_url)
        print(DEMO_CLIENT_ID)
        print(f"instance: {instance_url}")
        print(f"admin: {login_url}/__admin", flush=True)
    if not auto:
        print("Press Enter to approve the newest device code (or POST /__admin/device/approve)",
              file=sys.stderr, flush=True)
        if sys.stdin is not None and not sys.stdin.closed:
            threading.Thread(target=_approve_on_enter, args=(app.state.fake,),
                             name="fake-salesforce-enter", daemon=True).start()
    fake_server.run_foreground(app, socks)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m plantech_tui.partners.salesforce.fake",
                                     description="Run the fake Salesforce on 127.0.0.1.")
    configure_parser(parser)
    parser.add_argument("--json", action="store_true")
    return run_from_args(parser.parse_args(argv))
