"""A local Slack-compatible workspace and its driver."""
