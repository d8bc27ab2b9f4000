"""`escbot sandbox`: a local workspace, the bot wired to it, and a shell to act in it.

The package re-exports the public names: ``config`` finds the team config, ``forms``
renders Block Kit as text and fills and submits forms, ``session`` holds the interactive
:class:`Sandbox` shell, and ``launch`` starts and runs the whole sandbox.
"""

from __future__ import annotations

from bot.sandbox.shell.config import EXAMPLE_NAME, find_config, packaged_example
from bot.sandbox.shell.forms import _flatten, form_values, submit_form
from bot.sandbox.shell.launch import run_sandbox, start_sandbox
from bot.sandbox.shell.session import HELP, Sandbox

__all__ = [
    "EXAMPLE_NAME",
    "HELP",
    "Sandbox",
    "_flatten",
    "find_config",
    "form_values",
    "packaged_example",
    "run_sandbox",
    "start_sandbox",
    "submit_form",
]
