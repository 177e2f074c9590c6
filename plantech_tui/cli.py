"""`plantech`: the command line of SPEC §5. Parses, then calls the workspace or the sync layer.

Every failure is one line on stderr (`plantech: error: …`) and exit 2 (usage) or 1
(operation); never a traceback. Heavy modules (Textual, httpx, the engine) load lazily.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any, NoReturn

from . import __version__
from .domain.errors import PlantechError, UsageError
from .domain.models import legacy_id
from .notices import to_stderr

log = logging.getLogger("plantech.cli")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see {self.prog} --help)")

    def _get_values(self, action: argparse.Action, arg_strings: list[str]) -> Any:
        # Python 3.11 drops the value of "--opt=--" (it takes "--" for the end of options) and
        # hands the command an empty list: the value the user typed is "--".
        if action.option_strings and action.nargs in (None, "?") and arg_strings == ["--"]:
            value = self._get_value(action, "--")
            self._check_value(action, value)
            return value
        return super()._get_values(action, arg_strings)




def run_doctor(args: argparse.Namespace, out: Out) -> int:
    """`plantech doctor`: doctor.run_checks decides; this prints (text or --json)."""
    from .doctor import run_checks
    from .paths import default_db_path
    from .service.workspace import current_user_name

    db_path = Path(args.db) if getattr(args, "db", None) else default_db_path()
    checks = run_checks(db_path.expanduser(), current_user_name(getattr(args, "user", None)))
    failed = [c for c in checks if c.status == "fail"]
    marks = {"ok": "ok  ", "warn": "warn", "fail": "FAIL"}
    lines = [f"[{marks[c.status]}] {c.name}: {c.detail}" + (f"\n       fix: {c.fix}" if c.fix
                                                              else "") for c in checks]
    lines.append(f"{len(failed)} problem(s) to fix" if failed else "nothing to fix")
    out.emit({"checks": [c.as_json() for c in checks], "ok": not failed}, "\n".join(lines))
    return 1 if failed else 0

def _partner_fake(slug: str) -> Any:
    """A partner's fake server module, through the registry (no front end imports a
    partner's package)."""
    from .partners import registry

    return registry.fake(slug)


def _common() -> argparse.ArgumentParser:
    """--db, --user and --json, accepted before and after the subcommand."""
    common = _Parser(add_help=False)
    common.add_argument("--db", default=argparse.SUPPRESS, metavar="PATH",
                        help="database file (env PLANTECH_DB)")
    common.add_argument("--user", default=argparse.SUPPRESS, metavar="NAME",
                        help="act as this user (env PLANTECH_USER)")
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                        help="print exactly one JSON document on stdout")
    _global_flags(common)
    return common


MAX_ID = 2**63 - 1  # SQLite's INTEGER PRIMARY KEY


def _digits(text: str) -> int | None:
    """ASCII digits only, exactly: int() also reads "١", "１", "1_0", "+1" and " 1 "."""
    return int(text) if text.isascii() and text.isdigit() else None


def _ids(text: str) -> int:
    value = _digits(text)
    if value is None or not 0 < value <= MAX_ID:
        raise argparse.ArgumentTypeError(f"not an id: {text!r}")
    return value


def _source_id(text: str) -> str:
    """A partner's contact id: a Redtail id (digits, checked as an id) or another partner's
    opaque text id (one printable word)."""
    stripped = text.strip()
    if stripped.isascii() and stripped.isdigit():
        return str(_ids(stripped))
    if not stripped or len(stripped) > 64 or not stripped.isprintable() or any(
            ch.isspace() for ch in stripped):
        raise argparse.ArgumentTypeError(f"not an id: {text!r}")
    return stripped


def _positive(text: str) -> int:
    """A count (`--max-in-flight`): any whole number from 1 up; not an id, so no id bound."""
    value = _digits(text)
    if value is None:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}")
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {text!r}")
    return value


EXIT_CODES = """\
exit codes:
  0  success (repeating a state-setting command, e.g. pausing a paused account, is a no-op)
  1  the operation failed: Redtail or network errors, failed authentication, a sync in which
     any contact failed (the report is still printed), a database busy past the timeout, a
     credential-store failure, an action refused by role, an unknown current user
  2  usage: invalid arguments, ids that do not exist or are not visible to you, actions
     invalid in the current state, a destructive command without --yes off a terminal,
     a question answered no
  Every error is one line on stderr: "plantech: error: …"."""

ENVIRONMENT = """\
environment:
  PLANTECH_DB               database file (as --db; default: a file in the user data dir)
  PLANTECH_USER             who you are (as --user; default: your login name)
  PLANTECH_CONFIG           the config.toml to read (default: in the user config dir)
  PLANTECH_REDTAIL_API_KEY  the Redtail API key for `integration add` (safer than --api-key)
  PLANTECH_CREDENTIALS      "file": keep Redtail keys in a 0600 file, not the OS keyring
  PLANTECH_ASCII            1: ASCII icons and borders only in the TUI
  NO_COLOR                  any value: no colour in the TUI
  PLANTECH_DEBUG            1: log at DEBUG in the log file (as -vv, without stderr)"""


def _examples(*lines: str) -> str:
    return "examples:\n" + "\n".join(f"  {line}" for line in lines)


TOP_EXAMPLES = _examples(
    "plantech                              # open the TUI",
    "plantech demo                         # try it: fake Redtail + demo data",
    "plantech plan list --json",
    "plantech sync --all --dry-run",
    "plantech account delete 1 3 --yes",
    "plantech completion bash > ~/.local/share/bash-completion/completions/plantech")


def _global_flags(common: argparse.ArgumentParser) -> None:
    common.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                        help="no notices on stderr, only errors")
    common.add_argument("-v", "--verbose", action="count", default=argparse.SUPPRESS,
                        help="also write the log to stderr (-v: INFO, -vv: DEBUG; commands, not the TUI)")


def _partner_arguments(ia: argparse.ArgumentParser) -> None:
    """`integration add --partner SLUG`, and a flag for each registered partner's login field
    that the Redtail flags do not already give (its secret comes on stdin, as the password
    does). No partner is imported for this: the parser stays light."""
    from .partners import registry

    known = registry.slugs()
    ia.add_argument("--partner", default=registry.DEFAULT, metavar="SLUG", choices=known,
                    help=f"the integration partner (default {registry.DEFAULT}; one of "
                         f"{', '.join(known)})")
    have = {"base_url", "username", "password", "api_key", "environment", "partner",
            "login_url", "client_id"}
    for partner in registry.loaded():
        for f in partner.login_fields:
            if f.name in have or f.secret:
                continue
            have.add(f.name)
            ia.add_argument(f.flag, dest=f.name, metavar=f.name.upper(),
                            help=f"{partner.name}: {f.help or f.label}")


def _partner_criteria(sc: argparse.ArgumentParser) -> None:
    """A search flag for each registered partner's criterion the Redtail ones do not cover;
    `criteria` (a default) lists them all."""
    from .partners import registry

    keys = ["name", "first_name", "last_name", "email", "account_number"]
    for partner in registry.loaded():
        for key, label in partner.search_fields:
            if key in keys:
                continue
            keys.append(key)
            sc.add_argument("--" + key.replace("_", "-"), dest=key, metavar="T",
                            help=f"{partner.name}: contacts whose {label.lower()} matches T")
    sc.set_defaults(criteria=tuple(keys))


def build_parser() -> argparse.ArgumentParser:
    common = _common()
    p = _Parser(prog="plantech", parents=[common],
                formatter_class=argparse.RawDescriptionHelpFormatter,
                description="PlanTechHub ⇄ Redtail CRM accounts, in the terminal.\n\n"
                            "Without a command: open the TUI (needs a terminal).",
                epilog="\n\n".join((TOP_EXAMPLES, EXIT_CODES, ENVIRONMENT)))
    p.add_argument("--version", action="version", version=f"plantech {__version__}",
                   help="print the version and exit")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser,
                           help="one of the commands below; `plantech COMMAND --help` for more")

    def cmd(parent: Any, name: str, help_: str, examples: Sequence[str]) -> argparse.ArgumentParser:
        return parent.add_parser(  # type: ignore[no-any-return]
            name, parents=[common], help=help_, description=help_,
            formatter_class=argparse.RawDescriptionHelpFormatter,
            epilog=_examples(*examples))

    def actions(parser: argparse.ArgumentParser) -> Any:
        return parser.add_subparsers(dest="action", metavar="ACTION", required=True,
                                     parser_class=_Parser, help="what to do (see below)")

    def yes(parser: argparse.ArgumentParser, what: str) -> None:
        parser.add_argument("-y", "--yes", action="store_true",
                            help=f"{what} without asking (needed when stdin is not a terminal)")

    demo = cmd(sub, "demo", "fake Redtail + demo database + the TUI",
               ["plantech demo", "plantech demo --as morticia   # see what a client sees"])
    demo.add_argument("--as", dest="as_user", metavar="USER",
                      help="open the TUI as this demo user (default: the advisor)")
    demo.add_argument("--tour", action="store_true", help="show the opening tour again")

    docs = cmd(sub, "docs", "list the documents that ship with plantech, or print one",
               ["plantech docs", "plantech docs deploy | less"])
    docs.add_argument("name", nargs="?", metavar="NAME", help="guide or deploy")

    fake = cmd(sub, "fake-redtail", "run the fake Redtail server on 127.0.0.1",
               ["plantech fake-redtail --port 8765",
                "plantech fake-redtail --generate 500 --seed 7 --latency-ms 50",
                "plantech fake-redtail --faults rate_limit --json | head -1"])
    _partner_fake("redtail").configure_parser(fake)

    sf = cmd(sub, "fake-salesforce", "run the fake Salesforce (FSC) on 127.0.0.1",
             ["plantech fake-salesforce            # Enter approves a device code",
              "plantech fake-salesforce --auto-approve --generate 10 --latency-ms 50",
              "plantech fake-salesforce --faults request_limit:1 --json | head -1"])
    _partner_fake("salesforce-fsc").configure_parser(sf)

    serve = cmd(sub, "serve", "the TUI in a browser (textual-serve)",
                ["plantech serve                  # prints http://127.0.0.1:8000/?token=…",
                 "ssh -L 8000:127.0.0.1:8000 host plantech serve   # from another machine"])
    serve.add_argument("--port", type=int, default=8000, help="TCP port (default 8000)")
    serve.add_argument("--host", default="127.0.0.1",
                       help="address to listen on (default 127.0.0.1; loopback only unless "
                            "--allow-remote)")
    serve.add_argument("--allow-remote", action="store_true",
                       help="allow a non-loopback --host (anyone who reaches it gets the TUI)")
    serve.add_argument("--allow-host", action="append", metavar="NAME",
                       help="with --allow-remote: a host name the browser may use (repeatable)")

    sync = cmd(sub, "sync", "pull Redtail accounts into plans (headless)",
               ["plantech sync --plan 1 2", "plantech sync --all --dry-run --json",
                "plantech sync --all --max-in-flight 4   # gentler on Redtail"])
    target = sync.add_mutually_exclusive_group(required=True)
    target.add_argument("--plan", type=_ids, nargs="+", action="extend", metavar="ID",
                        help="the plans to pull (repeatable)")
    target.add_argument("--all", action="store_true", help="every plan you may pull")
    sync.add_argument("--dry-run", action="store_true",
                      help="report what would change; write nothing")
    sync.add_argument("--max-in-flight", type=_positive, default=8, metavar="N",
                      help="at most N requests at once per integration (default 8)")

    cmd(sub, "doctor", "check this machine's set-up",
        ["plantech doctor", "plantech doctor --json"])

    integ = actions(cmd(sub, "integration", "CRM integrations (Redtail, Salesforce)",
                        ["plantech integration list",
                         "plantech integration add --base-url URL --username U --password-stdin"]))
    ia = cmd(integ, "add", "connect a partner login (validates it first)",
             ["PLANTECH_REDTAIL_API_KEY=… plantech integration add \\\n"
              "      --base-url https://crm.redtailtechnology.com/api/public/v1 \\\n"
              "      --username jdoe --password-stdin < password.txt",
              "plantech integration add --partner salesforce-fsc \\\n"
              "      --login-url https://login.salesforce.com --client-id 3MVG9…   "
              "# prints a code to enter in a browser"])
    # required per partner, not by argparse: Redtail needs the first three, Salesforce the
    # login URL and client id (its login is a device code approved in a browser)
    ia.add_argument("--base-url", metavar="URL",
                    help="Redtail: the API root including its path (the fake prints its own)")
    ia.add_argument("--username", metavar="U", help="Redtail: the login name")
    ia.add_argument("--password-stdin", action="store_true",
                    help="Redtail: read the password as one line from stdin (required)")
    ia.add_argument("--api-key", metavar="KEY", help="Redtail: visible to other users in ps: "
                    "prefer PLANTECH_REDTAIL_API_KEY or config.toml [redtail] api_key")
    ia.add_argument("--login-url", metavar="URL",
                    help="Salesforce: https://login.salesforce.com, https://test.salesforce.com"
                         " (sandbox) or the org's My Domain URL")
    ia.add_argument("--client-id", metavar="ID",
                    help="Salesforce: the consumer key of the firm's connected app (device "
                         "flow on; see `plantech doctor`)")
    ia.add_argument("--environment", default=None, help="Production, Sandbox or Custom")
    _partner_arguments(ia)
    cmd(integ, "list", "list integrations",
        ["plantech integration list", "plantech integration list --json"])
    ir = cmd(integ, "remove", "remove an integration (revokes its login at the partner); "
             "asks first", ["plantech integration remove 2",
                            "plantech integration remove 2 --delete-accounts --yes"])
    ir.add_argument("integration", type=_ids, metavar="ID", help="the integration id")
    ir.add_argument("--delete-accounts", action="store_true",
                    help="delete the plan accounts linked through it (default: keep them as "
                         "manual accounts)")
    yes(ir, "remove")

    plan = actions(cmd(sub, "plan", "plans",
                       ["plantech plan list", "plantech plan show 1 --json"]))
    pc = cmd(plan, "create", "create a plan",
             ['plantech plan create "Addams Family" --clients "Gomez Addams;Morticia Addams"'])
    pc.add_argument("name", help="the plan's name")
    pc.add_argument("--clients", default="", metavar='"A;B"',
                    help='client and co-client, separated by ";"')
    cmd(plan, "list", "list plans", ["plantech plan list", "plantech plan list --json"])
    ps = cmd(plan, "show", "show a plan",
             ["plantech plan show 1",
              "plantech plan show 1 --json | jq '.pending[].id'   # the STAGED_IDs"])
    ps.add_argument("plan", type=_ids, metavar="PLAN", help="the plan id")
    sc = cmd(plan, "search-contacts", "search a partner's contacts (Redtail, Salesforce)",
             ["plantech plan search-contacts 1 --integration 1 --last-name addams",
              "plantech plan search-contacts 1 --integration 1 --account-number 1234 --json"])
    sc.add_argument("plan", type=_ids, metavar="PLAN", help="the plan id")
    sc.add_argument("--integration", type=_ids, required=True, metavar="ID",
                    help="the integration to search (see `integration list`)")
    for crit in ("name", "first-name", "last-name", "email", "account-number"):
        sc.add_argument(f"--{crit}", metavar="T",
                        help=f"contacts whose {crit.replace('-', ' ')} matches T")
    _partner_criteria(sc)
    for verb in ("link-contact", "unlink-contact"):
        lc = cmd(plan, verb, f"{verb.split('-')[0]} a partner contact",
                 [f"plantech plan {verb} 1 --integration 1 --contact 101"])
        lc.add_argument("plan", type=_ids, metavar="PLAN", help="the plan id")
        lc.add_argument("--integration", type=_ids, required=True, metavar="ID",
                        help="the contact's integration")
        lc.add_argument("--contact", type=_source_id,
                        required=True, metavar="REDTAIL_CONTACT_ID",
                        help="the partner's contact id, as text (see search-contacts)")

    acct = actions(cmd(sub, "account", "plan accounts",
                       ["plantech account add 1 --description Savings --type cash --balance 500",
                        "plantech account pause 1 3"]))
    aa = cmd(acct, "add", "add a manual account",
             ['plantech account add 1 --description "Gomez 401(k)" --type "401(k)" '
              "--balance 250000"])
    aa.add_argument("plan", type=_ids, metavar="PLAN", help="the plan id")
    aa.add_argument("--description", required=True, metavar="D", help="the account's name")
    aa.add_argument("--type", required=True, metavar="T",
                    help="an investment type of the active mapping")
    aa.add_argument("--balance", required=True, metavar="B", help="a plain decimal, e.g. 1250.50")
    aa.add_argument("--owner", default="Client", metavar="O",
                    help="Client (default), Co-client or Joint")
    verbs = {"pause": "pause an account's link (pulls leave its balance alone)",
             "play": "resume a paused link",
             "stop": "stop a link (its Redtail account goes back to Pending)",
             "delete": "delete an account (a linked one's Redtail account goes back to "
                       "Pending); asks first"}
    for verb, text in verbs.items():
        av = cmd(acct, verb, text, [f"plantech account {verb} 1 3"] + (
            ["plantech account delete 1 3 --yes --json   # in a script"]
            if verb == "delete" else []))
        av.add_argument("plan", type=_ids, metavar="PLAN", help="the plan id")
        av.add_argument("account", type=_ids, metavar="ACCOUNT_ID",
                        help="the account id (accounts[].id of `plan show`)")
        if verb == "delete":
            yes(av, "delete")

    tri = cmd(sub, "triage", "Pending / Ignored actions",
              ["plantech triage 1 ignore 7 8 --reason closed",
               "plantech triage 1 link 7 3", "plantech triage 1 add 7 --type Cash"])
    tri.add_argument("plan", type=_ids, metavar="PLAN", help="the plan id")
    tsub = actions(tri)
    ti = cmd(tsub, "ignore", "Ignore", ["plantech triage 1 ignore 7 8 --reason \"closed\""])
    ti.add_argument("staged", type=_ids, nargs="+", metavar="STAGED_ID",
                    help="pending rows to ignore (all or none)")
    ti.add_argument("--reason", help="why (kept in the audit log)")
    cmd(tsub, "stop-ignoring", "Stop Ignoring", ["plantech triage 1 stop-ignoring 7 8"]
        ).add_argument("staged", type=_ids, nargs="+", metavar="STAGED_ID",
                       help="ignored rows to return to Pending (all or none)")
    tl = cmd(tsub, "link", "Link to Existing Item", ["plantech triage 1 link 7 3"])
    tl.add_argument("staged", type=_ids, metavar="STAGED_ID", help="the pending row")
    tl.add_argument("account", type=_ids, metavar="ACCOUNT_ID",
                    help="the plan account it feeds from now on")
    tad = cmd(tsub, "add", "Add to Plan",
              ["plantech triage 1 add 7", "plantech triage 1 add 7 --type Cash --owner Joint"])
    tad.add_argument("staged", type=_ids, metavar="STAGED_ID", help="the pending row")
    tad.add_argument("--description", metavar="D", help="default: Redtail's description")
    tad.add_argument("--type", metavar="T", help="default: the mapped investment type")
    tad.add_argument("--owner", metavar="O", help="default: from the contact (Client, "
                     "Co-client or Joint)")
    tad.add_argument("--balance", metavar="B",
                     help="default: Redtail's balance (needed when it has none)")

    ex = cmd(sub, "export", "export a plan as CSV",
             ["plantech export 1 --csv > addams.csv", "plantech export 1 --csv addams.csv --force"])
    ex.add_argument("plan", type=_ids, metavar="PLAN", help="the plan id")
    ex.add_argument("--csv", nargs="?", const="-", required=True, metavar="FILE",
                    help="write FILE (never through a symbolic link); stdout without FILE "
                         "or with -")
    ex.add_argument("--force", action="store_true", help="replace an existing FILE")

    users = actions(cmd(sub, "users", "users and roles",
                        ["plantech users list", "plantech users add pat --role professional "
                         "--plan 1"]))
    ua = cmd(users, "add", "add (or change) a user",
             ["plantech users add morticia --role client --can-edit --plan 1",
              "plantech users add bob --role advisor --admin"])
    ua.add_argument("name", help="the user's name (what they pass as --user / PLANTECH_USER)")
    ua.add_argument("--role", required=True, choices=["advisor", "professional", "client"],
                    help="what they may do (SPEC §1)")
    ua.add_argument("--can-edit", action="store_true",
                    help="a client or professional may also edit accounts")
    ua.add_argument("--plan", type=_ids, nargs="+", action="extend", default=[], metavar="ID",
                    help="plans they may see (repeatable)")
    ua.add_argument("--admin", action=argparse.BooleanOptionalAction, default=None,
                    help="make (--no-admin: stop making) the user a firm administrator; "
                         "administrators only (unchanged when omitted)")
    cmd(users, "list", "list the users you may see",
        ["plantech users list", "plantech users list --json"])
    ur = cmd(users, "remove", "remove a user (who owns no plan and no integration); asks first",
             ["plantech users remove pat", "plantech users remove pat --yes   # in a script"])
    ur.add_argument("name", help="the user's name")
    yes(ur, "remove")
    cmd(users, "audit", "the audit entries of user changes you may see",
        ["plantech users audit", "plantech users audit --json"])

    comp = cmd(sub, "completion", "print a shell completion script",
               ["plantech completion bash > ~/.local/share/bash-completion/completions/plantech",
                "plantech completion zsh > \"${fpath[1]}/_plantech\""])
    comp.add_argument("shell", choices=["bash", "zsh"], help="the shell: bash or zsh")
    return p


# ---------------------------------------------------------------------- output


class Out:
    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json

    def emit(self, doc: Any, text: str | Callable[[], str]) -> None:
        if self.as_json:
            sys.stdout.write(json.dumps(doc, indent=2, default=_json_default) + "\n")
        else:
            from .domain.text import safe_for_terminal

            # stored text is shown, never obeyed: no control or bidi character reaches a terminal
            shown = safe_for_terminal(text() if callable(text) else text)
            sys.stdout.write(shown.rstrip("\n") + "\n")
        sys.stdout.flush()


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        from .domain.money import money_str

        return money_str(value)
    raise TypeError(type(value).__name__)


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[str(h) for h in headers]] + [[("" if c is None else str(c)) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    return "\n".join(lines)


# ---------------------------------------------------------------------- commands


def _db_path(args: argparse.Namespace) -> Path:
    from .paths import default_db_path

    return Path(args.db) if getattr(args, "db", None) else default_db_path()


def _workspace(args: argparse.Namespace) -> Any:
    from .service.workspace import Workspace

    return Workspace.open(_db_path(args), getattr(args, "user", None))


def run_plan(args: argparse.Namespace, out: Out) -> int:
    from .domain.money import money_display

    ws = _workspace(args)
    if args.action == "create":
        plan = ws.create_plan(args.name, [c for c in args.clients.split(";")])
        doc = {"id": plan.id, "name": plan.name, "clients": plan.clients, "accounts": 0,
               "pending": 0, "ignored": 0, "last_pull": None}
        out.emit(doc, f"created plan {plan.id}: {plan.name}")
    elif args.action == "list":
        plans = ws.list_plans()
        out.emit({"plans": [p.as_json() for p in plans]}, lambda: _table(
            ["ID", "PLAN", "CLIENTS", "ACCOUNTS", "PENDING", "LAST PULL"],
            [[p.plan.id, p.plan.name, "; ".join(p.plan.clients), p.accounts, p.pending,
              p.last_pull or "never"] for p in plans]) if plans else "No plans yet — create one "
            "with: plantech plan create NAME")
    elif args.action == "show":
        detail = ws.plan_detail(args.plan)

        def text() -> str:
            parts = [f"Plan {detail.plan.id}: {detail.plan.name} "
                     f"({'; '.join(detail.plan.clients) or 'no clients'})"]
            if detail.contacts:
                parts.append("\nLinked contacts:\n" + _table(
                    ["INTEGRATION", "CONTACT", "NAME"],
                    [[c.integration_id, c.redtail_contact_id, c.name] for c in detail.contacts]))
            parts.append("\nInvestment Assets:\n" + (_table(
                ["ID", "DESCRIPTION", "TYPE", "OWNER", "BALANCE", "LINK"],
                [[a.id, a.description, a.investment_type, a.owner, money_display(a.balance),
                  f"Redtail {a.link.redtail_account_id} ({a.link.state.value})" if a.link else ""]
                 for a in detail.accounts]) if detail.accounts else "  none"))
            for title, rows in (("Pending Data", detail.pending), ("Ignored Data", detail.ignored)):
                if ws.can(_action("PLAN_INTEGRATION")):
                    parts.append(f"\n{title}:\n" + (_table(
                        ["ID", "REDTAIL", "DESCRIPTION", "REDTAIL TYPE", "DEFAULT TYPE", "BALANCE"],
                        [[s.id, s.redtail_account_id, s.description, s.account_type or "",
                          s.default_investment_type + (" (review)" if s.review_type else ""),
                          money_display(s.balance)] for s in rows]) if rows else "  none"))
            return "\n".join(parts)

        out.emit(detail.as_json(), text)
    elif args.action in ("search-contacts", "link-contact"):
        from .service import connections

        if args.action == "search-contacts":
            criteria = {k: getattr(args, k) for k in args.criteria if getattr(args, k)}
            found = connections.search_contacts(ws, args.plan, args.integration, criteria)
            out.emit(found, lambda: (_table(
                ["CONTACT", "NAME", "LINKED"],
                [[c.get("redtail_contact_id", c["source_contact_id"]), c["name"],
                  "yes" if c["linked"] else ""]
                 for c in found["contacts"]]) or "no contacts match")
                + ("\n(more than 200 matches: narrow the search)" if found["truncated"] else ""))
        else:
            contact = connections.link_contact(ws, args.plan, args.integration, args.contact)
            out.emit(contact.as_json(), f"linked contact {contact.redtail_contact_id} "
                     f"({contact.name}) to plan {args.plan}")
    elif args.action == "unlink-contact":
        ws.unlink_contact(args.plan, args.integration, args.contact)
        out.emit({"plan_id": args.plan, "integration_id": args.integration,
                  "redtail_contact_id": legacy_id(args.contact), "linked": False,
                  "source_contact_id": args.contact},
                 f"unlinked contact {args.contact} from plan {args.plan}")
    return 0


def _action(name: str) -> Any:
    from .domain.permissions import Action

    return Action[name]


def _account_described(ws: Any, plan_id: int, account_id: int) -> str | None:
    """"'Gomez 401(k)'" (with its link) for the question; None when the workspace is going to
    refuse anyway (no such account, not allowed), so that its error is what the user sees."""
    if not ws.can(_action("EDIT_ACCOUNT")):
        return None
    account = next((a for a in ws.plan_detail(plan_id).accounts if a.id == account_id), None)
    if account is None:
        return None
    linked = (f" (linked to Redtail account {account.link.redtail_account_id}, which goes "
              "back to Pending)") if account.link else ""
    return f"{_quoted(account.description)}{linked}"


def _quoted(text: str) -> str:
    """A CRM or user-given name in a question: quoted, control characters shown escaped."""
    shown = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return f"'{shown}'"


def _confirm(args: argparse.Namespace, question: str, verb: str, kept: str) -> None:
    """Ask `question [y/N]` on the terminal; off a terminal, `--yes` is required (exit 2)."""
    if getattr(args, "yes", False):
        return
    if not sys.stdin.isatty():
        raise UsageError(f"refusing to {verb} without --yes (stdin is not a terminal)")
    sys.stderr.write(f"{question} [y/N] ")
    sys.stderr.flush()
    answer = sys.stdin.readline()
    if not answer.endswith("\n"):
        sys.stderr.write("\n")
    if answer.strip().lower() not in ("y", "yes"):
        raise UsageError(f"not confirmed: {kept}")


def run_account(args: argparse.Namespace, out: Out) -> int:
    from .domain.money import money_display

    ws = _workspace(args)
    if args.action == "add":
        account = ws.add_account(args.plan, {
            "description": args.description, "investment_type": args.type,
            "balance": args.balance, "owner": args.owner})
        out.emit(account.as_json(), f"added account {account.id}: {account.description} "
                 f"{money_display(account.balance)}")
        return 0
    if args.action == "delete":
        described = _account_described(ws, args.plan, args.account)
        if described is not None:  # else the workspace names what is wrong (missing, role)
            _confirm(args, f"Delete account {args.account} {described}?", "delete",
                     f"account {args.account} kept")
        ws.delete_account(args.plan, args.account)
        out.emit({"id": args.account, "deleted": True}, f"deleted account {args.account}")
        return 0
    account = getattr(ws, args.action)(args.plan, args.account)
    out.emit(account.as_json(), f"account {account.id} ({account.description}): " + (
        f"link {account.link.state.value}" if account.link else "no longer linked; its Redtail "
        "account is back in Pending"))
    return 0


def run_triage(args: argparse.Namespace, out: Out) -> int:
    from .domain.money import money_display

    ws = _workspace(args)
    if args.action in ("ignore", "stop-ignoring"):
        if args.action == "ignore":
            changed = ws.ignore(args.plan, args.staged, args.reason)
        else:
            changed = ws.stop_ignoring(args.plan, args.staged)
        detail = ws.plan_detail(args.plan)
        target = detail.ignored if args.action == "ignore" else detail.pending
        wanted = set(args.staged)
        out.emit({"changed": sorted(changed),
                  ("ignored" if args.action == "ignore" else "pending"):
                  [s.as_json() for s in target if s.id in wanted]},
                 f"{args.action}: {len(changed)} changed, {len(wanted) - len(changed)} already so")
    elif args.action == "link":
        account = ws.link_to_existing(args.plan, args.staged, args.account)
        out.emit(account.as_json(), f"linked staged {args.staged} to account {account.id} "
                 f"({account.description}), balance {money_display(account.balance)}")
    else:
        values = {"description": args.description, "investment_type": args.type,
                  "owner": args.owner, "balance": args.balance}
        account = ws.add_to_plan(args.plan, args.staged, values)
        out.emit(account.as_json(), f"added account {account.id}: {account.description} "
                 f"({account.investment_type}, {account.owner}) {money_display(account.balance)}")
    return 0


def run_export(args: argparse.Namespace, out: Out) -> int:
    from .service.export import csv_text, write_file

    ws = _workspace(args)
    rows = ws.export_rows(args.plan)
    data = csv_text(rows)
    if args.csv == "-":
        if out.as_json:
            out.emit({"plan_id": args.plan, "rows": len(rows), "csv": data}, "")
        else:
            sys.stdout.write(data)
        return 0
    path = Path(args.csv)
    write_file(path, data, force=args.force)
    out.emit({"plan_id": args.plan, "rows": len(rows), "file": str(path)},
             f"wrote {len(rows)} rows to {path}")
    return 0


def _user_change(before: Any, after: Any) -> str:
    """"role: client → professional; can_edit: 1 → 0" (the user columns that changed)."""
    if not isinstance(before, dict) or not isinstance(after, dict):
        return "created" if before is None and after is not None else \
            "removed" if after is None else ""
    return "; ".join(f"{k}: {before.get(k)} → {after.get(k)}" for k in sorted(set(before) | set(after))
                     if before.get(k) != after.get(k) and k != "created_at")


def run_users(args: argparse.Namespace, out: Out) -> int:
    ws = _workspace(args)
    if args.action == "add":
        user = ws.add_user(args.name, args.role, args.can_edit, args.plan, admin=args.admin)
        out.emit({"id": user.id, "name": user.name, "role": user.role.value,
                  "can_edit": user.can_edit, "plans": sorted(set(args.plan))}
                 | ({"admin": user.is_admin} if args.admin is not None else {}),
                 f"user {user.name}: {user.role.value}"
                 + (", can edit" if user.can_edit else "")
                 + (", administrator" if user.is_admin else "")
                 + (f", plans {', '.join(map(str, sorted(set(args.plan))))}" if args.plan else ""))
    elif args.action == "remove":
        if ws.can(_action("MANAGE_USERS")):
            wanted = " ".join(args.name.split()).casefold()
            found = next((u for u, _ in ws.list_users() if u.name.casefold() == wanted), None)
            if found is not None:  # else the workspace says "not found"
                _confirm(args, f"Remove user {found.name!r} ({found.role.value})?", "remove",
                         f"user {found.name!r} kept")
        ws.remove_user(args.name)
        out.emit({"name": " ".join(args.name.split()), "removed": True},
                 f"removed user {' '.join(args.name.split())}")
    elif args.action == "audit":
        entries = []
        for e in ws.user_audit():
            before = json.loads(e.before) if e.before else None
            after = json.loads(e.after) if e.after else None
            side = after if isinstance(after, dict) else before if isinstance(before, dict) else {}
            entries.append({"id": e.id, "at": e.at, "user_name": e.user_name, "action": e.action,
                            "plan_id": e.plan_id, "object_id": e.object_id,
                            "target": side.get("name", side.get("user")), "before": before,
                            "after": after, "detail": e.detail})
        out.emit({"entries": entries}, lambda: _table(
            ["ID", "WHEN", "WHO", "ACTION", "USER", "PLAN", "CHANGE"],
            [[d["id"], d["at"], d["user_name"], d["action"], d["target"], d["plan_id"] or "",
              "; ".join(x for x in (d["detail"], _user_change(d["before"], d["after"])) if x)]
             for d in entries]) if entries else "no user changes you may see")
    else:
        users = ws.list_users()
        out.emit({"users": [{"id": u.id, "name": u.name, "role": u.role.value,
                             "can_edit": u.can_edit, "admin": u.is_admin, "plans": plans}
                            for u, plans in users]},
                 lambda: _table(["ID", "NAME", "ROLE", "CAN EDIT", "ADMIN", "PLANS"],
                                [[u.id, u.name, u.role.value, "yes" if u.can_edit else "",
                                  "yes" if u.is_admin else "", ", ".join(map(str, plans))]
                                 for u, plans in users]))
    return 0


def _whose(error: Any) -> str:
    """"contact 101: " for a contact's error; nothing for an integration's (its message names
    the integration and what failed)."""
    return f"contact {error.redtail_contact_id}: " if error.redtail_contact_id is not None else ""


class _SyncProgress:
    """`sync --all` on a terminal: one line on stderr, rewritten in place, cleared at the end."""

    def __init__(self) -> None:
        self.width = 0

    def __call__(self, done: int, of: int, requests: int, failed: int) -> None:
        line = f"plantech sync: {done}/{of} plans, {requests} requests, {failed} failed"
        self.width = max(self.width, len(line))
        sys.stderr.write(f"\r{line:<{self.width}}")
        sys.stderr.flush()

    def clear(self) -> None:
        if self.width:
            sys.stderr.write(f"\r{' ' * self.width}\r")
            sys.stderr.flush()


def run_sync_command(ws: Any, args: argparse.Namespace, out: Out) -> int:
    from .domain.report import PullError, RefreshReport
    from .service.pulls import run_async, sync_async
    from .sync.diff import describe_change

    # a terminal only; not with -q (quiet) or -v (the log lines share stderr)
    progress = (_SyncProgress() if args.all and sys.stderr.isatty()
                and not getattr(args, "quiet", False) and not getattr(args, "verbose", 0)
                else None)
    try:
        results = run_async(sync_async(ws, None if args.all else args.plan,
                                       dry_run=args.dry_run, max_in_flight=args.max_in_flight,
                                       progress=progress))
    finally:
        if progress:
            progress.clear()
    docs: list[dict[str, Any]] = []
    lines: list[str] = []
    failed = False
    for result in results:
        if isinstance(result, PullError):
            failed = True
            docs.append({"plan_id": result.plan_id, "status": "failed", "dry_run": args.dry_run,
                         "errors": [result.as_json()]})
            lines.append(f"plan {result.plan_id}: {result.message}")
            continue
        docs.append(result.as_json())
        failed = failed or result.status != "ok"
        lines.append(f"plan {result.plan_id}: {result.status}{' (dry run)' if args.dry_run else ''}"
                     f" — {result.summary()}")
        lines += [f"  new: {n.description} ({n.default_investment_type})" for n in result.new]
        lines += [f"  changed: {describe_change(c)}" for c in result.changes]
        lines += [f"  error: {_whose(e)}{e.message}" for e in result.errors]
        lines += [f"  cut: {t}" for t in result.truncated]
        lines += [f"  type not in the mapping: {t}" for t in result.unknown_types]
    docs.sort(key=lambda d: d.get("plan_id") or 0)
    out.emit({"plans": docs}, "\n".join(lines) or "no plans to sync")
    for r in results:
        if isinstance(r, RefreshReport):
            for e in r.errors:
                to_stderr(f"plan {r.plan_id}: {_whose(e)}{e.message}")
    if failed:
        first = next((r for r in results if isinstance(r, PullError)), None)
        if first is not None:
            raise PlantechError(f"sync: {first.message}")
        return 1
    return 0


def _stdin_password() -> str:
    line = sys.stdin.readline()
    password = line[:-1] if line.endswith("\n") else line
    password = password[:-1] if password.endswith("\r") else password
    if not password:
        raise UsageError("empty password on stdin")
    return password


def run_integration_command(ws: Any, args: argparse.Namespace, out: Out) -> int:
    from .partners import registry
    from .service.connections import (
        connect_integration,
        remove_integration_async,
        run_async,
        unmapped_types_async,
    )

    if args.action == "remove":
        if ws.can(_action("ADVISOR_INTEGRATION")):
            found = ws.integration(args.integration)  # not found / not theirs: one line
            _confirm(args, f"Remove {found.partner} integration {found.id} ({found.username}, "
                     f"{found.environment})? Accounts linked through it are "
                     f"{'deleted' if args.delete_accounts else 'kept as manual accounts'}.",
                     "remove", f"integration {found.id} kept")
        removed, warning = run_async(remove_integration_async(
            ws, args.integration, keep_accounts=not args.delete_accounts))
        if warning:
            to_stderr(f"warning: {warning}")
        out.emit({"id": removed.id, "partner": removed.partner, "removed": True,
                  "warning": warning},
                 f"removed integration {removed.id}: {removed.partner} {removed.username}")
        return 0
    if args.action == "list":
        items = ws.list_integrations()
        out.emit({"integrations": [i.as_json() for i in items]},
                 "\n".join(f"{i.id}  {i.partner}  {i.environment}  {i.base_url}  {i.username}  "
                           f"{i.status}" for i in items) or "No integrations yet — add one with: "
                 "plantech integration add --base-url URL --username U --password-stdin")
        return 0
    partner = registry.get(args.partner)
    values = {f.name: getattr(args, f.name, None) for f in partner.login_fields}
    for f in partner.login_fields:
        if f.required and not f.secret and not values.get(f.name) and f.default is None:
            raise UsageError(f"{partner.label} needs {f.flag} ({f.help or f.label})")
    if partner.password_login:
        if not args.password_stdin:
            raise UsageError(f"{partner.label} needs --password-stdin (the password, one line "
                             "on stdin)")
        values[next(f.name for f in partner.login_fields if f.secret and f.required)] = (
            _stdin_password())
    elif args.password_stdin:
        raise UsageError(f"{partner.label} takes no password (its login is approved in a "
                         "browser): drop --password-stdin")
    integration, created = run_async(connect_integration(
        ws, partner=partner.slug, environment=args.environment,
        prompt=lambda code: to_stderr(str(code)), **values))
    unknown = run_async(unmapped_types_async(ws, integration.id))
    if unknown:
        to_stderr(f"warning: {unknown}")
    out.emit(integration.as_json(),
             f"{'connected' if created else 're-keyed'} integration {integration.id}: "
             f"{integration.partner} {integration.environment} as {integration.username}")
    return 0


def _require_tty() -> None:
    if "web_driver" in os.environ.get("TEXTUAL_DRIVER", ""):
        return  # textual-serve (plantech serve) drives the app through pipes
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise UsageError("not a terminal: the TUI needs an interactive terminal "
                         "(use the subcommands for scripts; see plantech --help)")


def docs_dir() -> Path:
    return Path(__file__).resolve().parent / "docs"


def run_docs(args: argparse.Namespace, out: Out) -> int:
    """`plantech docs [NAME]`: the documents installed with the package."""
    found = {p.stem.lower(): p for p in sorted(docs_dir().glob("*.md"))}
    if args.name is None:
        out.emit({"docs": [{"name": n, "path": str(p)} for n, p in found.items()]},
                 "\n".join(f"{n:<12} {p}" for n, p in found.items()))
        return 0
    path = found.get(args.name.lower().removesuffix(".md"))
    if path is None:
        raise UsageError(f"no document {args.name!r}: one of {', '.join(found)}")
    text = path.read_text(encoding="utf-8")
    out.emit({"name": path.stem.lower(), "path": str(path), "text": text}, text.rstrip("\n"))
    return 0


def _chattiness(args: argparse.Namespace) -> None:
    """--quiet: notices are dropped (errors still print); --verbose: the log on stderr too."""
    quiet, verbose = getattr(args, "quiet", False), getattr(args, "verbose", 0)
    if quiet and verbose:
        raise UsageError("--quiet and --verbose cannot be used together")
    if quiet:
        from . import notices

        notices.claim(notices.drop)
    if verbose and args.command not in (None, "demo"):  # a full-screen TUI keeps its stderr
        from .logs import log_to_stderr

        log_to_stderr(logging.DEBUG if verbose > 1 else logging.INFO)


def _chattiness_done() -> None:
    """Back to the defaults (main may run again in this process: the tests, the demo)."""
    from . import notices
    from .logs import stop_log_to_stderr

    notices.release(notices.drop)
    stop_log_to_stderr()


def dispatch(args: argparse.Namespace) -> int:
    out = Out(bool(getattr(args, "json", False)))
    command = args.command
    if command is None:
        _require_tty()
        # no garbage collection while the UI's ~1,000 modules import and the first screen is
        # built (~20 ms of collections that free nothing); the app re-enables it after the
        # first frame (PlantechApp._started)
        gc.disable()
        from .app import run_app

        return run_app(_db_path(args), getattr(args, "user", None))
    if command == "demo":
        _require_tty()
        from .demo import run_demo

        return run_demo(as_user=args.as_user, tour=args.tour)
    if command == "docs":
        return run_docs(args, out)
    if command == "fake-redtail":
        return int(_partner_fake("redtail").run_from_args(args))
    if command == "fake-salesforce":
        return int(_partner_fake("salesforce-fsc").run_from_args(args))
    if command == "serve":
        from .serve import run_serve

        return run_serve(args)
    if command == "doctor":
        return run_doctor(args, out)
    if command == "sync":
        return run_sync_command(_workspace(args), args, out)
    if command == "integration":
        return run_integration_command(_workspace(args), args, out)
    if command == "completion":
        from .completion import script

        text = script(args.shell)
        if out.as_json:
            out.emit({"shell": args.shell, "script": text}, "")
        else:
            sys.stdout.write(text)
        return 0
    runners = {"plan": run_plan, "account": run_account, "triage": run_triage,
               "export": run_export, "users": run_users}
    return runners[command](args, out)


def main(argv: Sequence[str] | None = None) -> int:
    from .logs import setup_logging

    setup_logging()
    parser = build_parser()
    args = argparse.Namespace()
    try:
        args = parser.parse_args(argv)
        _chattiness(args)
        return dispatch(args)
    except PlantechError as exc:
        from .domain.text import safe_for_terminal

        first = exc.message.splitlines()[0] if exc.message else str(exc)
        print(f"plantech: error: {safe_for_terminal(first, multiline=False)}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("plantech: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except Exception as exc:  # the promise: one line, never a traceback
        from .store.db import DatabaseDamaged, is_disk_full, is_malformed

        if is_malformed(exc):  # a big file meets its malformed pages past the open check
            print(f"plantech: error: {DatabaseDamaged.of(str(exc)).message}", file=sys.stderr)
            return 1
        if is_disk_full(exc):  # SQLITE_FULL outside the store's own mapping (DiskFull)
            from .domain.errors import DiskFull

            print(f"plantech: error: {DiskFull.of(_db_path(args).name).message}",
                  file=sys.stderr)
            return 1
        log.exception("internal error")
        text = str(exc).splitlines()[0][:500] if str(exc) else ""
        text = "".join(c if c.isprintable() else " " for c in text)
        print(f"plantech: error: internal error ({type(exc).__name__}{': ' + text if text else ''})",
              file=sys.stderr)
        return 1
    finally:
        _chattiness_done()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
