"""Slack listeners: thin adapters from Slack surfaces to bot use cases."""
