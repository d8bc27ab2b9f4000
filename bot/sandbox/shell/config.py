"""Where the sandbox finds its team config: an explicit path, ESCALATION_CONFIG, the
example in the working directory or a source checkout, or the copy in the package.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from bot.settings import Settings

EXAMPLE_NAME = "escalation.example.yaml"


def packaged_example() -> Path:
    """Return where an installed package keeps the example config (copied in at build)."""
    return Path(str(resources.files("bot") / EXAMPLE_NAME))


def find_config(settings: Settings, explicit: Path | None = None) -> Path:
    """Return the team config the sandbox uses: explicit, ESCALATION_CONFIG, or the example."""
    candidates = (
        [explicit]
        if explicit
        else [
            settings.escalation_config,
            Path(EXAMPLE_NAME),
            Path(__file__).resolve().parents[3] / EXAMPLE_NAME,  # a source checkout
            packaged_example(),
        ]
    )
    for path in candidates:
        if path is not None and path.is_file():
            return path
    raise FileNotFoundError(f"no team config found (looked for {', '.join(map(str, candidates))})")
