"""The escalation bot application."""
