"""Redtail CRM: its client, records, type mapping, fake server and `partner.RedtailPartner`."""
