"""CRM partners behind one small interface (`partners.base`); `partners.registry` lists them."""
