"""Persistence: engine, sessions, models, repositories, migrations."""
