"""Salesforce Financial Services Cloud behind the partner seam."""
