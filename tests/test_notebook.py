"""Notebooks: the example notebook and script run against moto; async APIs under a foreign loop;
HTML reprs; progress bars.

The notebook runs headless in a Jupyter kernel (nbclient) whose kernel spec is written to a
temporary directory and names this interpreter (``sys.executable -m ipykernel_launcher``), so
the kernel is the test venv's Python whatever kernels the machine has installed.
"""

from __future__ import annotations

import ast
import asyncio
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from nbclient import NotebookClient

import aiokit
from aiokit._fleet.progress import progress_bar
from aiokit.testing import TEST_CREDENTIALS, FakeOrganization

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "docs" / "examples"
PLOT = "items_per_account_region.png"

# The example's organization: 4 accounts x 3 regions; account i in region j holds
# (i + j) % 3 + 1 queues and i % 2 + 1 tables.
EXAMPLE_ACCOUNTS, EXAMPLE_REGIONS = 4, 3
EXPECTED_ITEMS = sum(
    (i + j) % 3 + 1 + i % 2 + 1 for i in range(EXAMPLE_ACCOUNTS) for j in range(EXAMPLE_REGIONS)
)


@pytest.fixture
def jupyter_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Keep Jupyter, IPython and matplotlib out of the home directory."""
    for name, sub in [
        ("JUPYTER_RUNTIME_DIR", "runtime"),
        ("JUPYTER_DATA_DIR", "data"),
        ("JUPYTER_CONFIG_DIR", "config"),
        ("IPYTHONDIR", "ipython"),
        ("MPLCONFIGDIR", "matplotlib"),
    ]:
        (tmp_path / sub).mkdir()
        monkeypatch.setenv(name, str(tmp_path / sub))
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")  # no path-migration warning
    monkeypatch.setenv("PYDEVD_DISABLE_FILE_VALIDATION", "1")  # quiet debugpy in the kernel
    return tmp_path


def install_kernel(data_dir: Path) -> str:
    """Install a kernel spec running this interpreter's ipykernel; its name.

    In ``$JUPYTER_DATA_DIR/kernels``, which ``jupyter_path()`` searches before the system's
    kernel directories, under a name no installed kernel has.
    """
    name = "aiokit-test"
    spec_dir = data_dir / "kernels" / name
    spec_dir.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "aiokit test (venv python)",
        "language": "python",
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    assert KernelSpecManager().get_kernel_spec(name).argv[0] == sys.executable
    return name


def tagged(nb: Any, tag: str) -> Any:
    (cell,) = [c for c in nb.cells if tag in c.metadata.get("tags", [])]
    return cell


def result_text(cell: Any) -> str:
    (result,) = [o for o in cell.outputs if o.output_type == "execute_result"]
    return str(result.data["text/plain"])


def test_example_notebook_runs_against_moto(
    moto_endpoint: str, jupyter_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIOKIT_ENDPOINT_URL", moto_endpoint)
    workdir = jupyter_env / "work"
    workdir.mkdir()
    nb = nbformat.read(EXAMPLES / "explore_demo.ipynb", as_version=4)
    client = NotebookClient(
        nb,
        kernel_name=install_kernel(jupyter_env / "data"),
        timeout=120,
        startup_timeout=120,
        resources={"metadata": {"path": str(workdir)}},
    )
    client.execute()

    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in errors if o.output_type == "error"]
    # Top-level await worked and the crawl's DataFrame has every queue and table.
    assert result_text(tagged(nb, "inventory-size")) == str(EXPECTED_ITEMS)
    # The plot is shown inline and written to the working directory.
    plot_outputs = tagged(nb, "plot").outputs
    assert any("image/png" in o.get("data", {}) for o in plot_outputs)
    assert (workdir / PLOT).stat().st_size > 10_000
    # The sync facade worked inside the kernel's running loop: account 0, eu-west-1.
    assert result_text(tagged(nb, "sync-facade")) == str((0 + 1) % 3 + 1)
    # The crawl report renders as an HTML table.
    html = [o for c in nb.cells for o in c.get("outputs", []) if "text/html" in o.get("data", {})]
    assert any("aiokit.Report" in o.data["text/html"] for o in html)


def test_example_script_runs_against_moto(
    moto_endpoint: str, tmp_path: Path, jupyter_env: Path
) -> None:
    env = {**os.environ, "AIOKIT_ENDPOINT_URL": moto_endpoint}
    done = subprocess.run(
        [sys.executable, "-W", "error::ResourceWarning", str(EXAMPLES / "explore_demo.py")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert f"inventory: {EXPECTED_ITEMS} items" in done.stdout
    assert (tmp_path / PLOT).stat().st_size > 10_000


def test_the_notebook_and_the_script_tell_the_same_story() -> None:
    """The two examples seed the same organization, so one expectation fits both."""
    script = (EXAMPLES / "explore_demo.py").read_text()
    nb = nbformat.read(EXAMPLES / "explore_demo.ipynb", as_version=4)
    notebook = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    for fragment in [
        "(i + j) % 3 + 1",
        "i % 2 + 1",
        'REGIONS = ["us-east-1", "eu-west-1", "ap-northeast-1"]',
        "accounts=4" if "accounts=4" in notebook else "ACCOUNTS = 4",
        PLOT,
    ]:
        assert fragment in notebook or fragment == "ACCOUNTS = 4", fragment
        assert fragment in script or fragment == "accounts=4", fragment


# --- top-level await: no aiokit API needs or starts a loop of its own ------------------------

LOOP_STARTERS = {"run", "run_until_complete", "new_event_loop", "start_blocking_portal"}
# the fault proxy serves from a thread with an event loop of its own, as the sync facade does
MAY_START_A_LOOP = {
    "aiokit/sync.py",
    "aiokit/cli/__init__.py",
    "aiokit/cli/_demo.py",
    "aiokit/testing/_faults.py",
    "aiokit/_workers.py",  # a worker process's main (runner=Processes(n)), never a cell's
    "aiokit/dask.py",  # the Dask worker plugin's loop thread (runner=DaskRunner), ditto
}


def test_only_the_cli_and_the_sync_facade_start_an_event_loop() -> None:
    """Library code run in a notebook cell must not start (or nest) an event loop."""
    found = set()
    for path in sorted((ROOT / "aiokit").rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in LOOP_STARTERS
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id in {"asyncio", "anyio", "loop", "from_thread", "trio"}
            ) or (isinstance(node, ast.Name) and node.id == "start_blocking_portal"):
                found.add(str(path.relative_to(ROOT)))
    assert found <= MAY_START_A_LOOP, found - MAY_START_A_LOOP


def test_every_async_api_works_on_a_loop_started_elsewhere(
    moto_endpoint: str, fake_organization: FakeOrganization
) -> None:
    """As in Jupyter: a plain asyncio loop, started by someone else, runs the calls as a task."""
    regions = ["us-east-1", "eu-west-1"]

    async def cell() -> dict[str, Any]:
        pool = aiokit.SessionPool(
            endpoint_url=moto_endpoint,
            region="us-east-1",
            credentials=TEST_CREDENTIALS,
            role=fake_organization.role_name,
        )
        await pool.open()
        try:
            sqs = await pool.client("sqs")
            await sqs.create_queue(QueueName="jobs")
            ddb = await pool.client("dynamodb")
            await ddb.create_table(
                TableName="orders",
                KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                BillingMode="PAY_PER_REQUEST",
            )
            waited = await pool.wait("dynamodb", "table_exists", TableName="orders", timeout=30)
            many = await pool.wait_many(
                "dynamodb", "table_exists", [{"TableName": "orders"}], timeout=30
            )
            table = await pool.resource("dynamodb")
            urls = [u async for u in pool.paginate("sqs", "list_queues").items()]
            targets = await pool.targets(aiokit.Organization(), regions)

            async def account_of(ctx: aiokit.Context) -> str:
                sts = await ctx.client("sts")
                return str((await sts.get_caller_identity())["Account"])

            outcomes = await pool.fan_out(account_of, targets, concurrency=4).collect()
            df = await pool.crawl("sqs", "list_queues", targets).to_pandas()
            stats = pool.statistics()
        finally:
            await pool.aclose()
        return {
            "waited": waited["Table"]["TableStatus"],
            "many": [r.ok for r in many],
            "resource": type(table).__name__,
            "urls": len(urls),
            "targets": len(targets),
            "accounts": {o.value for o in outcomes if o.ok},
            "rows": len(df),
            "clients": stats.clients_created > 0,
        }

    got = asyncio.run(cell())
    accounts = set(fake_organization.account_ids)
    assert got == {
        "waited": "ACTIVE",
        "many": [True],
        "resource": "dynamodb.ServiceResource",
        "urls": 1,
        "targets": len(accounts) * len(regions),
        "accounts": accounts,
        "rows": 0,  # the members hold no queues; the management account's is not a target
        "clients": True,
    }


# --- reprs and progress bars -------------------------------------------------------------------


def test_html_reprs_are_small_escaped_tables() -> None:
    target = aiokit.Target("111122223333", "eu-west-1", name="<script>alert(1)</script>")
    assert "<script>" not in target._repr_html_()
    assert "&lt;script&gt;" in target._repr_html_()
    assert "aiokit.Target" in target._repr_html_()

    ok = aiokit.Outcome(target, aiokit.Status.OK, value=["a<b"], duration=0.5, calls=2)
    failed = aiokit.Outcome(
        target, aiokit.Status.FAILED, error=RuntimeError("x"), reason="error: <Boom>"
    )
    assert "a&lt;b" in ok._repr_html_() and "0.50" in ok._repr_html_()
    assert "error: &lt;Boom&gt;" in failed._repr_html_()

    report = aiokit.Report()
    for outcome in (ok, failed, failed):
        report.add(outcome)
    page = report._repr_html_()
    assert page.count("<table>") == 2  # counts, then reasons
    assert "<td>3</td><td>1</td><td>0</td><td>2</td>" in page
    assert "<td>failed</td><td>error: &lt;Boom&gt;</td><td>2</td>" in page
    assert aiokit.Report()._repr_html_().count("<table>") == 1


def test_progress_bar_is_off_outside_a_terminal_or_notebook() -> None:
    # pytest captures stderr (not a terminal), and no IPython kernel runs here.
    bar = progress_bar(3)
    assert not bar.enabled
    bar(aiokit.Progress(done=1, in_flight=0, ok=1, skipped=0, failed=0, items=4))  # no-op


def test_progress_bar_draws_and_closes_itself_at_the_total() -> None:
    out = io.StringIO()
    bar = progress_bar(2, description="sqs", enabled=True, file=out, mininterval=0)
    assert bar.enabled
    bar(aiokit.Progress(done=1, in_flight=1, ok=1, skipped=0, failed=0, items=5))
    bar(aiokit.Progress(done=2, in_flight=0, ok=1, skipped=0, failed=1, items=5))
    assert not bar.enabled  # closed at the total
    text = out.getvalue()
    assert "sqs" in text and "2/2" in text and "failed=1" in text
    bar.close()  # idempotent
