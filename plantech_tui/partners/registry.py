"""The partners PlanTech knows, keyed by slug; `integrations.partner` stores the display name.

The built-in partners are listed by slug and name only and imported on first use (the CLI's
parser and `plantech --version` must not pay for httpx and pydantic). A test can `register`
its own partner and `unregister` it afterwards.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from ..domain.errors import UsageError
from .base import Partner

__all__ = ["DEFAULT", "all_partners", "by_name", "fake", "get", "loaded", "register", "slugs",
           "unregister"]

DEFAULT = "redtail"
# slug → (module, class, display name): imported when first asked for
_BUILTIN: dict[str, tuple[str, str, str]] = {
    "redtail": ("plantech_tui.partners.redtail.partner", "RedtailPartner", "Redtail CRM"),
    "salesforce-fsc": ("plantech_tui.partners.salesforce.partner", "SalesforcePartner",
                       "Salesforce Financial Services Cloud"),
}
_partners: dict[str, Partner] = {}


def _load(slug: str) -> Partner | None:
    found = _partners.get(slug)
    if found is None and slug in _BUILTIN:
        module, cls, _name = _BUILTIN[slug]
        found = _partners[slug] = getattr(importlib.import_module(module), cls)()
    return found


def fake(slug: str) -> ModuleType:
    """A partner's fake server module (`plantech fake-…`, `plantech demo`). A built-in
    partner's is its package's `fake`, imported without the partner itself (the CLI's parser
    stays light); a registered one answers `Partner.fake()`."""
    key = slug.strip().lower()
    found = _partners.get(key)
    module = found.fake() if found is not None else None
    if module is None and key in _BUILTIN:
        module = importlib.import_module(_BUILTIN[key][0].rsplit(".", 1)[0] + ".fake")
    if module is None:
        raise UsageError(f"partner {slug!r} has no fake server")
    return module


def register(partner: Partner) -> Partner:
    """Add (or replace) a partner under its slug; returns it."""
    if not partner.slug or not partner.name:
        raise ValueError("a partner needs a slug and a name")
    _partners[partner.slug] = partner
    return partner


def unregister(slug: str) -> None:
    _partners.pop(slug, None)


def slugs() -> list[str]:
    """Every partner's slug, the default first, without importing any partner."""
    rest = sorted((set(_BUILTIN) | set(_partners)) - {DEFAULT})
    return [DEFAULT, *rest]


def loaded() -> list[Partner]:
    """The partners already imported or registered (no import)."""
    return [p for s in slugs() if (p := _partners.get(s)) is not None]


def all_partners() -> list[Partner]:
    """Every partner (importing the built-in ones), the default first."""
    out = [p for s in slugs() if (p := _load(s)) is not None]
    return sorted(out, key=lambda p: (p.slug != DEFAULT, p.partner_type, p.name))


def get(slug: str | None = None) -> Partner:
    """The partner registered under `slug` (None: the default, Redtail)."""
    key = (slug or DEFAULT).strip().lower()
    found = _load(key)
    if found is None:
        raise UsageError(f"unknown partner {slug!r} (known: {', '.join(slugs())})")
    return found


def by_name(name: str | None) -> Partner:
    """The partner of an integration row: `integrations.partner` holds its display name
    (a slug is accepted too)."""
    text = (name or "").strip()
    for slug, (_module, _cls, shown) in _BUILTIN.items():
        if text.casefold() in (shown.casefold(), slug):
            found = _load(slug)
            assert found is not None
            return found
    for partner in _partners.values():
        if partner.name.casefold() == text.casefold() or partner.slug == text.lower():
            return partner
    raise UsageError(f"no partner named {text!r} is installed; known: "
                     + ", ".join(p.name for p in all_partners()))
