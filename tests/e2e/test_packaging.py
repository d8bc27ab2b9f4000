"""The package as shipped: a non-editable `pip install .` in a fresh venv, and its entry points.

The image (Dockerfile) installs the same wheel and runs these same commands: `escbot db
upgrade` (compose's `migrate`, the Procfile's `release`), `escbot run --no-scheduler` (web)
and `escbot scheduler` (clock).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.sandbox.emulator import Emulator
from bot.sandbox.seed import seed
from tests.support.commands import Proc, healthz
from tests.support.config import EXAMPLE, PG_URL, ROOT
from tests.support.databases import pg_schema_url

pytestmark = pytest.mark.slow

INSTALL_TIMEOUT = 300.0


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Return the bin directory of a fresh venv with the tracked sources `pip install`ed."""
    base = tmp_path_factory.mktemp("package")
    source = base / "src"
    tracked = (
        subprocess.run(
            ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True, timeout=30
        )
        .stdout.decode()
        .split("\0")
    )
    for name in filter(None, tracked):
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    subprocess.run(
        [str(venv / "bin" / "pip"), "install", "-q", str(source)],
        check=True,
        timeout=INSTALL_TIMEOUT,
        capture_output=True,
    )
    shutil.rmtree(source)  # nothing may still point at the sources
    yield venv / "bin"


def _env(**extra: str) -> dict[str, str]:
    return {"PYTHONPATH": "", "VIRTUAL_ENV": "", "ESCALATION_CONFIG": "escalation.yaml", **extra}


def test_the_installed_package_carries_the_example_config(installed: Path, tmp_path: Path):
    packaged = subprocess.run(
        [
            str(installed / "python"),
            "-c",
            "from bot.sandbox.shell import find_config; from bot.settings import load_settings;"
            " print(find_config(load_settings()))",
        ],
        cwd=tmp_path,
        env={**_env(), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.strip()
    assert "site-packages" in packaged and packaged.endswith("bot/escalation.example.yaml")
    assert Path(packaged).read_text() == EXAMPLE.read_text()  # one source: the root file

    check = Proc(
        [str(installed / "escbot"), "config", "check", packaged], _env(), tmp_path, "check"
    )
    result = check.run()
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr

    # The sandbox from an empty directory: it finds the packaged example, and ends at EOF.
    sandbox = subprocess.run(
        [str(installed / "escbot"), "sandbox"],
        cwd=tmp_path,
        env={k: v for k, v in check.env.items() if not k.startswith("SLACK_")},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert sandbox.returncode == 0, sandbox.stderr
    assert f"Team config: {packaged};" in sandbox.stdout + sandbox.stderr


@pytest.mark.postgres
def test_the_image_entry_points_run_on_postgresql(installed: Path, tmp_path: Path, config):
    if not PG_URL:
        pytest.skip("TEST_DATABASE_URL is not set")
    emulator = Emulator(rate_limits=False)
    emulator.start()
    seed(emulator, config)
    procs: list[Proc] = []
    try:
        with pg_schema_url(PG_URL) as url:
            env = _env(
                SLACK_BOT_TOKEN=emulator.bot_token,
                SLACK_SIGNING_SECRET="packaging-secret",
                SLACK_API_URL=emulator.url,
                DATABASE_URL=url,
                ESCALATION_CONFIG=str(EXAMPLE),
            )
            escbot = str(installed / "escbot")
            # Before the release step the web process refuses to start: the schema is behind.
            early = Proc([escbot, "run", "--no-scheduler"], env, tmp_path, "early").run()
            assert early.returncode != 0, early.stdout

            upgrade = Proc([escbot, "db", "upgrade"], env, tmp_path, "release").run()
            assert upgrade.returncode == 0, upgrade.stderr
            assert upgrade.stdout.startswith("database at revision ")

            web = Proc([escbot, "run", "--no-scheduler"], env, tmp_path, "web")
            procs.append(web.start())  # waits for /healthz 200 on its PORT
            clock = Proc([escbot, "scheduler"], env, tmp_path, "clock")
            procs.append(clock.start(http=False, ready="scheduler running"))
            assert healthz(web.port) == 200
            assert "scheduler started" not in web.log()  # --no-scheduler means none here
            for proc in procs:
                assert proc.terminate() in (0, -15), proc.log()
    finally:
        for proc in procs:
            proc.kill()
        emulator.stop()
