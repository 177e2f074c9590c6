"""`plantech demo`: the fake Redtail and the fake Salesforce on free loopback ports, a fresh
demo database, the TUI.

Both partners are connected: the Addams live in Redtail, the Munsters in Salesforce, and the
Addams Family plan links a client from each (Gomez from Redtail, Wednesday from Salesforce).

Everything lives in a new temporary directory (database, 0600 credential file, config), so
the demo never touches PLANTECH_DB, the OS keyring or the user's own files; on exit the fake
stops and the directory goes, also when the terminal is closed (SIGHUP) or the process is
told to stop (SIGTERM). The one file kept outside it is the tour's marker in the user's own
config dir: the tour opens on the first demo only (`plantech demo --tour` shows it again).
"""

from __future__ import annotations

import asyncio
import getpass
import os
import shutil
import signal
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

DEMO_PLAN = "Addams Family"
DEMO_CLIENTS = ["Gomez Addams", "Morticia Addams"]
CLIENT_USER = "morticia"
PROFESSIONAL_USER = "lurch"
SEEDED_CONTACT = 101  # Gomez: linked and pulled before the demo opens; Morticia (102) is not
SEEDED_LINK = (5001, "Gomez 401(k)")  # his Fidelity 401(k) → the plan's manual account
SEEDED_ADD = 5002  # the Schwab joint brokerage, added to the plan
TOUR_MARKER = "demo-tour-seen"
SF_PLAN = "Munster Family"
SF_CLIENTS = ["Herman Munster", "Lily Munster"]
SF_SEEDED = "Herman"  # linked and pulled in the Munster plan; Lily is the presenter's
SF_IN_ADDAMS = "Wednesday"  # the Addams plan's client from Salesforce (linked, pulled)
SF_APPROVE_AFTER = 4.0  # a device code shown in the demo approves itself, as a person would


def isolate(root: Path) -> None:
    """Point every per-user path of this process at `root`."""
    for var, sub in (("XDG_DATA_HOME", "data"), ("XDG_CONFIG_HOME", "config"),
                     ("XDG_STATE_HOME", "state"), ("XDG_CACHE_HOME", "cache")):
        (root / sub).mkdir(parents=True, exist_ok=True, mode=0o700)
        os.environ[var] = str(root / sub)
    os.environ.pop("PLANTECH_DB", None)
    os.environ["PLANTECH_CONFIG"] = str(root / "config" / "config.toml")
    os.environ["PLANTECH_CREDENTIALS"] = "file"


def _fake(slug: str) -> Any:
    """A partner's fake, through its partner (the demo households live in their datasets)."""
    from .partners import registry

    return registry.fake(slug)


def advisor_name() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name (some containers)
        return "advisor"


def build_demo(db_path: Path, base_url: str, advisor: str | None = None,
               salesforce: Any = None) -> dict[str, Any]:
    """The demo database: the Addams Family plan with manual accounts (one of them the
    "Gomez 401(k)" that a Redtail account links to), three users, the Redtail integration
    connected; with `salesforce` (a running fake), the Salesforce one too and the Munster
    Family plan."""
    from .service.connections import connect_integration
    from .service.workspace import Workspace

    fake = _fake("redtail")

    advisor = advisor or advisor_name()
    ws = Workspace.open(db_path, advisor)
    plan = ws.create_plan(DEMO_PLAN, DEMO_CLIENTS)
    for values in (
        {"description": "Gomez 401(k)", "investment_type": "401(k)", "owner": "Client",
         "balance": "240000.00", "number_last4": "4401", "equity_pct": "70",
         "fixed_income_pct": "25", "cash_pct": "5", "annual_contribution": "23000"},
        {"description": "Morticia's Roth IRA", "investment_type": "Roth IRA",
         "owner": "Co-client", "balance": "88000.00"},
        {"description": "Family emergency fund", "investment_type": "Cash", "owner": "Joint",
         "balance": "25000.00", "notes": "kept at the local credit union"},
    ):
        ws.add_account(plan.id, values)
    ws.add_user(CLIENT_USER, "client", can_edit=True, plan_ids=[plan.id])
    ws.add_user(PROFESSIONAL_USER, "professional", can_edit=False, plan_ids=[plan.id])
    integration, _ = asyncio.run(connect_integration(
        ws, base_url=base_url, username=fake.DEMO_USERNAME, password=fake.DEMO_PASSWORD,
        api_key=fake.DEMO_API_KEY, environment="Custom"))
    seed_links(ws, plan.id, integration.id)
    info: dict[str, Any] = {"plan_id": plan.id, "integration_id": integration.id,
                            "advisor": advisor}
    if salesforce is not None:
        info.update(seed_salesforce(ws, salesforce, plan.id))
    ws.close()
    return info


def seed_salesforce(ws: Any, server: Any, addams_plan_id: int) -> dict[str, Any]:
    """The Salesforce side: the integration connected (its device code approved by the
    fake, as the presenter would in a browser), the Munster Family plan with Herman linked
    and pulled, and Wednesday Addams linked into the Addams plan and pulled."""
    from .service.connections import connect_integration, link_contacts_async
    from .service.pulls import refresh_async

    integration, _ = asyncio.run(connect_integration(
        ws, partner="salesforce-fsc", login_url=server.login_url, client_id=server.client_id,
        prompt=lambda _code: server.state.approve()))
    people = {r["FirstName"]: r["Id"] for r in server.org.rows["Account"].values()
              if r.get("IsPersonAccount")}
    munsters = ws.create_plan(SF_PLAN, SF_CLIENTS)

    async def link_and_pull() -> None:
        await link_contacts_async(ws, munsters.id, integration.id, [people[SF_SEEDED]])
        await refresh_async(ws, munsters.id)
        await link_contacts_async(ws, addams_plan_id, integration.id, [people[SF_IN_ADDAMS]])
        await refresh_async(ws, addams_plan_id)

    asyncio.run(link_and_pull())
    return {"sf_plan_id": munsters.id, "sf_integration_id": integration.id}


def seed_links(ws: Any, plan_id: int, integration_id: int) -> None:
    """What an advisor did yesterday, through the same API the screens use: Gomez linked,
    his accounts pulled, his 401(k) linked to the plan's manual account and the joint
    brokerage added, so a client or professional opening the demo sees linked accounts."""
    from .service.connections import link_contacts_async
    from .service.pulls import refresh_async

    async def link_and_pull() -> None:
        await link_contacts_async(ws, plan_id, integration_id, [SEEDED_CONTACT])
        await refresh_async(ws, plan_id)

    asyncio.run(link_and_pull())
    pending = {row.redtail_account_id: row for row in ws.plan_detail(plan_id).pending}
    manual = {a.description: a for a in ws.plan_detail(plan_id).accounts}
    redtail_id, description = SEEDED_LINK
    ws.link_to_existing(plan_id, pending[redtail_id].id, manual[description].id)
    ws.add_to_plan(plan_id, pending[SEEDED_ADD].id)


@contextmanager
def demo_environment(advisor: str | None = None) -> Iterator[tuple[Path, dict[str, Any]]]:
    """Temp dir + running fake + built database; everything undone on exit."""
    from .sync import credentials

    fake = _fake("redtail")

    root = Path(tempfile.mkdtemp(prefix="plantech-demo-"))
    saved = dict(os.environ)
    previous = {signal.SIGTERM: signal.signal(signal.SIGTERM, _stop),
                signal.SIGHUP: signal.signal(signal.SIGHUP, partial(_hung_up, root))}
    try:
        isolate(root)
        credentials.reset_credential_store()
        credentials.credential_store(notify=lambda _message: None)  # the demo chose the file store
        sf = _fake("salesforce-fsc")
        with fake.FakeRedtailServer(fake.load_demo_data()) as server, \
                sf.FakeSalesforceServer(sf.load_demo_data(), device_interval=1,
                                        approve_after=SF_APPROVE_AFTER) as salesforce:
            db_path = root / "data" / "plantech-demo.db"
            info = build_demo(db_path, server.base_url, advisor, salesforce=salesforce)
            info["base_url"] = server.base_url
            info["admin_url"] = server.admin_url
            info["salesforce_login_url"] = salesforce.login_url
            info["salesforce_client_id"] = salesforce.client_id
            yield db_path, info
    finally:
        credentials.reset_credential_store()
        os.environ.clear()
        os.environ.update(saved)
        shutil.rmtree(root, ignore_errors=True)
        for sig, handler in previous.items():
            signal.signal(sig, handler)


# `kill` (SIGTERM) or closing the terminal (SIGHUP) would end the process where it stands,
# leaving the database and the credential file in the temp dir.
# SIGTERM: before the app runs it ends the set-up through its `finally`; while the app runs,
# the app quits the usual way (PlantechApp._demo_start: the terminal is given back), then
# the same `finally`.
# SIGHUP: the terminal is gone, so nothing is given back: writing the app's last frames to
# a hung-up terminal fails and Textual's shutdown can wait for its output thread for ever.
# The temp dir goes and the process ends at once, from any thread state.


class DemoStopped(SystemExit):
    pass


def _stop(signum: int, _frame: object) -> None:
    raise DemoStopped(128 + signum)


def _hung_up(root: Path, signum: int, _frame: object) -> None:
    shutil.rmtree(root, ignore_errors=True)
    os._exit(128 + signum)


def tour_marker() -> Path:
    """In the user's own config dir (the demo's temp dir is thrown away with its config)."""
    from .paths import config_dir

    return config_dir() / TOUR_MARKER


def run_demo(as_user: str | None = None, tour: bool = False) -> int:
    from .app import run_app

    marker = tour_marker()  # before demo_environment points XDG_CONFIG_HOME at the temp dir
    with demo_environment() as (db_path, info):
        os.environ["PLANTECH_DEMO_BASE_URL"] = info["base_url"]
        os.environ["PLANTECH_DEMO_SALESFORCE_URL"] = info["salesforce_login_url"]
        os.environ["PLANTECH_DEMO_SALESFORCE_CLIENT_ID"] = info["salesforce_client_id"]
        if tour or not marker.exists():
            os.environ["PLANTECH_DEMO_TOUR"] = str(marker)
        return run_app(db_path, as_user or info["advisor"], demo_admin_url=info["admin_url"])
