"""aiokit.testing itself: importable without pytest, its fixtures under every async plugin."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "tests" / "sample_project"


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def test_aiokit_testing_imports_and_runs_moto_without_pytest() -> None:
    # What `pip install '.[cli]'` gives the demo: no pytest. A None entry in sys.modules
    # makes every `import pytest` (or `_pytest`, `pytest_asyncio`) raise ImportError.
    script = textwrap.dedent(
        """
        import sys
        for name in ("pytest", "_pytest", "pytest_asyncio", "anyio.pytest_plugin"):
            sys.modules[name] = None
        import boto3
        import aiokit.testing
        from aiokit.testing import MotoServer, make_fake_organization

        with MotoServer() as server:
            org = make_fake_organization(server.endpoint_url, accounts=2)
            sqs = boto3.client(
                "sqs", region_name="us-east-1", endpoint_url=server.endpoint_url,
                aws_access_key_id="testing", aws_secret_access_key="testing",
            )
            sqs.create_queue(QueueName="q")
            print("QUEUES", len(sqs.list_queues()["QueueUrls"]), "ACCOUNTS", len(org.accounts))
            sqs.close()
        assert not any(m == "pytest" or m.startswith("_pytest.") for m in sys.modules
                       if sys.modules[m] is not None)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "QUEUES 1 ACCOUNTS 2" in done.stdout


def test_plugin_module_is_what_pytest_loads() -> None:
    import aiokit.testing

    assert aiokit.testing.pytest_plugins == ["aiokit.testing._plugin"]
    # the fixtures are not in the pytest-free package itself
    assert not hasattr(aiokit.testing, "aiokit_pool")
    with pytest.raises(AttributeError):
        aiokit.testing.moto_endpoint  # noqa: B018


@pytest.mark.asyncio
async def test_suite_runs_on_pytest_asyncio_in_strict_mode(request: pytest.FixtureRequest) -> None:
    import asyncio

    config = request.config
    assert config.pluginmanager.has_plugin("asyncio")
    assert not config.pluginmanager.has_plugin("anyio")  # -p no:anyio: anyio's API only
    assert config.getini("asyncio_mode") == "strict"
    asyncio.get_running_loop()


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["test_inventory.py"], id="pytest-asyncio-strict"),
        pytest.param(["-o", "asyncio_mode=auto", "test_inventory.py"], id="pytest-asyncio-auto"),
        pytest.param(["test_inventory_anyio.py"], id="anyio-plugin"),
    ],
)
def test_sample_user_project_passes_under(args: list[str]) -> None:
    # A user's project (tests/sample_project: its own pytest.ini and conftest.py, the
    # fixtures aiokit_pool, fake_organization and aws_faults), run as its user would.
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=SAMPLE,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert re.search(r"^4 passed in ", done.stdout, re.MULTILINE), done.stdout[-1000:]
