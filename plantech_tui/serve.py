"""`plantech serve`: the TUI in a browser through textual-serve, on loopback by default.

Reach it from elsewhere through an SSH tunnel (docs/DEPLOY.md); a non-loopback host needs
--allow-remote, because the page is the whole app with the serving user's rights.
"""

from __future__ import annotations

import argparse
import ipaddress
import shlex
import sys

from .domain.errors import UsageError


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve_command(args: argparse.Namespace) -> str:
    """The command textual-serve runs once per browser tab."""
    parts = [sys.executable, "-m", "plantech_tui"]
    if getattr(args, "db", None):
        parts += ["--db", str(args.db)]
    if getattr(args, "user", None):
        parts += ["--user", str(args.user)]
    return shlex.join(parts)


def run_serve(args: argparse.Namespace) -> int:
    if not _is_loopback(args.host) and not args.allow_remote:
        raise UsageError(f"refusing to serve on {args.host}: not a loopback address "
                         "(use an SSH tunnel, or --allow-remote if you really mean it)")
    if not 0 <= args.port <= 65535:
        raise UsageError(f"invalid port {args.port}")
    from textual_serve.server import Server

    server = Server(serve_command(args), host=args.host, port=args.port, title="PlanTech TUI")
    print(f"serving PlanTech TUI on http://{args.host}:{args.port} (ctrl+c to stop)",
          file=sys.stderr, flush=True)
    server.serve()
    return 0
