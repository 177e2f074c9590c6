"""CRM partners behind one small interface (`partners.base`); `partners.registry` lists them.

Adding a partner (Salesforce FSC, say) is one package, `partners/<slug>/`:

1. a `Partner` subclass (`base.Partner`): `slug` (the registry key and `--partner` value),
   `name` (stored in `integrations.partner`), `partner_type`, `login_fields` (they make the
   Add Integration form and the `integration add` flags), `connect` (log in, return the secret
   to keep as one opaque string; a device flow shows its code through `prompt`), `open` (a
   `PartnerConnection` for an integration: search contacts, a contact, a household, a
   contact's accounts as `SourceAccount`s whose investment type the partner's mapping already
   resolved; a rotating token is kept through `save_secret`), `default_mapping` (its
   `mapping.toml`, read with `domain.mapping.read_builtin`) and `mapping_file` (the firm's
   override in the config directory);
2. its HTTP client on `partners.http` (retry policy, capped reads, secret scrubbing, base-URL
   checks) raising `base`'s error kinds (`InvalidCredentials` marks the integration for
   re-authentication);
3. one line in `registry._BUILTIN`; a fake server under the package for its tests.

Ids from a partner are opaque text; nothing outside the package knows its record shapes.
"""
