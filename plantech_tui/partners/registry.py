"""The partners PlanTech knows, keyed by slug; `integrations.partner` stores the display name.

Redtail is registered on first use (importing this module imports no partner). A test can
`register` its own partner and `unregister` it afterwards.
"""

from __future__ import annotations

from ..domain.errors import UsageError
from .base import Partner

__all__ = ["DEFAULT", "all_partners", "by_name", "get", "register", "unregister"]

DEFAULT = "redtail"
_partners: dict[str, Partner] = {}


def _builtins() -> None:
    if DEFAULT not in _partners:
        from .redtail.partner import RedtailPartner

        _partners.setdefault(DEFAULT, RedtailPartner())


def register(partner: Partner) -> Partner:
    """Add (or replace) a partner under its slug; returns it."""
    _builtins()
    if not partner.slug or not partner.name:
        raise ValueError("a partner needs a slug and a name")
    _partners[partner.slug] = partner
    return partner


def unregister(slug: str) -> None:
    _partners.pop(slug, None)


def all_partners() -> list[Partner]:
    """Every registered partner, the default first."""
    _builtins()
    return sorted(_partners.values(), key=lambda p: (p.slug != DEFAULT, p.partner_type, p.name))


def get(slug: str | None = None) -> Partner:
    """The partner registered under `slug` (None: the default, Redtail)."""
    _builtins()
    key = (slug or DEFAULT).strip().lower()
    found = _partners.get(key)
    if found is None:
        known = ", ".join(p.slug for p in all_partners())
        raise UsageError(f"unknown partner {slug!r} (known: {known})")
    return found


def by_name(name: str | None) -> Partner:
    """The partner of an integration row: `integrations.partner` holds its display name
    (a slug is accepted too)."""
    _builtins()
    text = (name or "").strip()
    for partner in _partners.values():
        if partner.name.casefold() == text.casefold() or partner.slug == text.lower():
            return partner
    raise UsageError(f"no partner named {text!r} is installed; known: "
                     + ", ".join(p.name for p in all_partners()))
