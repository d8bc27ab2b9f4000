"""Build hook: ship the repository's `escalation.example.yaml` inside the `bot` package.

The file has one copy, at the repository root (the README and tests point there); a built
wheel carries it as `bot/escalation.example.yaml` so that an installed bot finds it.
"""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

EXAMPLE = "escalation.example.yaml"


class BuildWithExample(build_py):
    """Copy the root example config into the built `bot` package."""

    def run(self) -> None:
        super().run()
        if not getattr(self, "editable_mode", False):
            source = Path(__file__).resolve().parent / EXAMPLE
            self.copy_file(str(source), str(Path(self.build_lib) / "bot" / EXAMPLE))


setup(cmdclass={"build_py": BuildWithExample})
