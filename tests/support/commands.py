"""Real `escbot` processes for end-to-end tests: start, wait for health, SIGKILL, restart."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from tests.support.process import free_port, wired

START_TIMEOUT = 60.0  # bounded wait for a process to come up (2 shared cores)


def wait_until(
    check: Callable[[], object], what: str, timeout: float = 60.0, every: float = 0.05
) -> None:
    """Poll `check` until it is true, or fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(every)  # the processes work in real time
    raise AssertionError(f"{what}: not within {timeout:.0f} s")


def healthz(port: int) -> int | None:
    """Return the status of GET /healthz on this port, or None when nothing answers."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as reply:
            return int(reply.status)
    except OSError:
        return None


class Proc:
    """One `escbot …` command in its own process, its output in a log file of `workdir`."""

    def __init__(self, argv: list[str], env: dict[str, str], workdir: Path, name: str):
        self.argv = argv
        self.env = {**os.environ, **env}
        self.workdir = workdir
        self.name = name
        self.port = int(env["PORT"]) if "PORT" in env else free_port()
        self.env["PORT"] = str(self.port)
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def log_path(self) -> Path:
        """Return the log file of the newest start."""
        return self.workdir / f"{self.name}-{self.starts - 1}.log"

    def log(self) -> str:
        """Return what the newest start has written so far."""
        return self.log_path.read_text(errors="replace")

    def start(self, *, http: bool = True, ready: str | None = None) -> Proc:
        """Start it; wait (bounded) until it has wired the bot, or until `ready` is logged."""
        self.starts += 1
        with open(self.log_path, "wb") as out:
            self.proc = subprocess.Popen(
                self.argv, env=self.env, cwd=self.workdir, stdout=out, stderr=subprocess.STDOUT
            )
        proc = self.proc

        def up() -> bool:
            assert proc.poll() is None, f"{self.name} exited {proc.returncode}:\n{self.log()}"
            if http:
                return wired(f"http://127.0.0.1:{self.port}")
            return ready is not None and ready in self.log()

        wait_until(up, f"{self.name} coming up", START_TIMEOUT)
        return self

    def run(self, timeout: float = START_TIMEOUT) -> subprocess.CompletedProcess[str]:
        """Run it to completion (bounded) and return its result."""
        return subprocess.run(
            self.argv,
            env=self.env,
            cwd=self.workdir,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def kill(self) -> None:
        """SIGKILL: no cleanup, no goodbye."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def terminate(self) -> int:
        """SIGTERM, and return the exit status (SIGKILL after a bounded wait)."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()
        return int(self.proc.returncode)
