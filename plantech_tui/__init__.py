"""PlanTech TUI: the PlanTechHub <-> Redtail CRM account integration in a terminal."""

__version__ = "0.1.0"
