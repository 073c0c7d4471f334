"""What the `bmsync` command does to start and to stop quickly, and that nothing is lost by it.

- aiobotocore is imported with httpx hidden (`bmsync/s3/aio.py`): httpx stays importable and
  works afterwards, and a process that imported httpx first is left as it was.
- the command imports aiohttp with the CA certificates of its default TLS contexts loaded on a
  thread (`bmsync/s3/cacerts.py`): the contexts end up as aiohttp would have made them, the
  `ssl` module is left as it was, and a library caller is not opted in.
- the command leaves with `os._exit` once its work is done (`cli.startup.entry`): its output
  must still be complete, its exit code kept, and the `atexit` handlers run.
Each runs in a fresh interpreter: what is imported, and how a process ends, is the point.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.servers import S3TestServer

REPO = Path(__file__).resolve().parent.parent


def python(
    code: str, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        check=False,
        env=env,
    )


def test_the_s3_client_loads_without_httpx_which_still_works_afterwards() -> None:
    done = python(
        "import sys\n"
        "import bmsync.s3.client\n"
        "assert 'aiobotocore.session' in sys.modules\n"
        "assert 'httpx' not in sys.modules and 'rich' not in sys.modules, 'httpx was loaded'\n"
        "import httpx\n"
        "assert httpx.URL('https://example.org/a').path == '/a'\n"
        "from bmsync.cloud.client import CloudClient\n"
        "print('ok')\n"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


_CA_PROBE = """
import json, ssl, _ssl, sys
from bmsync.s3 import cacerts
if sys.argv[1] == "command":
    cacerts.defer_for_this_process()
import bmsync.s3.client
from aiohttp import connector
deferred = cacerts._loader is not None
cacerts.wait()
assert ssl.SSLContext.set_default_verify_paths is _ssl._SSLContext.set_default_verify_paths
assert ssl.SSLContext.load_default_certs.__qualname__ == "SSLContext.load_default_certs"
fresh = ssl.create_default_context().cert_store_stats()
print(json.dumps({
    "deferred": deferred,
    "fresh": fresh,
    "verified": connector._SSL_CONTEXT_VERIFIED.cert_store_stats(),
    "unverified": connector._SSL_CONTEXT_UNVERIFIED.cert_store_stats(),
}))
"""


@pytest.mark.parametrize("caller", ["command", "library"])
def test_aiohttp_default_contexts_get_their_certificates(caller: str) -> None:
    """The command defers the loading; a library caller (whose own threads may be making TLS
    contexts meanwhile) does not. Either way the contexts hold what a fresh default has."""
    done = python(_CA_PROBE, caller)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen["deferred"] is (caller == "command")
    assert seen["verified"] == seen["fresh"], seen
    assert seen["unverified"]["x509_ca"] == seen["fresh"]["x509_ca"], seen


def test_a_process_that_imported_httpx_first_is_left_alone() -> None:
    done = python(
        "import httpx\n"
        "import bmsync.s3.client\n"
        "import aiobotocore._httpx as backend\n"
        "assert backend.httpx is not None\n"
        "print('ok')\n"
    )
    assert done.returncode == 0, done.stderr


def test_the_command_runs_atexit_handlers_and_keeps_its_exit_code() -> None:
    done = python(
        "import atexit, sys\n"
        "atexit.register(lambda: print('atexit ran'))\n"
        "from bmsync.cli import entry\n"
        "sys.argv = ['bmsync', 'sync', '/nonexistent/folder', 's3://b/p', '--json']\n"
        "entry()\n"
        "print('not reached: entry leaves the process')\n"
    )
    lines = done.stdout.strip().splitlines()
    assert lines[-1] == "atexit ran", done.stdout
    report = json.loads("\n".join(lines[:-1]))
    assert report["status"] == "error"
    assert done.returncode == report["exit_code"] != 0


@pytest.mark.moto_only("one server is enough for how the process ends")
def test_a_long_report_is_written_whole_before_the_quick_exit(
    tmp_path: Path, s3_server: S3TestServer
) -> None:
    """300 uploaded names make a report larger than the pipe's 8 KiB buffer: the last part sits
    in the buffer when the work ends, and must not be lost by leaving without the teardown."""
    notes = tmp_path / "notes"
    for i in range(300):
        (notes / f"folder-{i % 7}").mkdir(parents=True, exist_ok=True)
        (notes / f"folder-{i % 7}" / f"a-fairly-long-note-name-{i:04}.md").write_text(f"{i}\n")
    config = s3_server.config
    url = f"s3://{s3_server.create_bucket()}/p"
    argv = [
        sys.executable,
        "-m",
        "bmsync.cli",
        "sync",
        str(notes),
        url,
        "--endpoint-url",
        str(config.endpoint_url),
        "--region",
        str(config.region),
        "--state-dir",
        str(tmp_path / "state"),
        "--json",
    ]
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "AWS_ACCESS_KEY_ID": str(config.access_key_id),
        "AWS_SECRET_ACCESS_KEY": str(config.secret_access_key),
        "BASIC_MEMORY_CONFIG_DIR": str(tmp_path / "bm"),
    }
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300, cwd=REPO, env=env)
    assert done.returncode == 0, done.stderr
    assert len(done.stdout) > 8192
    report = json.loads(done.stdout)
    assert len(report["uploaded"]) == 300


def test_a_syncing_command_loads_its_engine_without_collections_and_freezes_it() -> None:
    """The ~250,000 objects of the engine's imports are never garbage: no collection runs
    while they are made, they are frozen out of later ones, and the collector is on again."""
    done = python(
        "import gc, json, sys\n"
        "from bmsync.cli import startup as cli\n"
        "runs = []\n"
        "gc.callbacks.append(lambda phase, info: runs.append(phase))\n"
        "cli._load_engine()\n"
        "print(json.dumps({'collections': len(runs), 'enabled': gc.isenabled(),\n"
        "    'frozen': gc.get_freeze_count(), 'loaded': 'sqlalchemy' in sys.modules\n"
        "    and 'aiobotocore.session' in sys.modules}))\n"
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen == {"collections": 0, "enabled": True, "frozen": seen["frozen"], "loaded": True}
    assert seen["frozen"] > 50_000, seen


@pytest.mark.parametrize(
    ("argv", "engine"),
    [(["--help"], False), (["sync", "--help"], False), (["-v", "sync", "x"], True)],
)
def test_only_a_syncing_command_loads_the_engine_up_front(argv: list[str], engine: bool) -> None:
    from bmsync.cli import startup as cli

    assert (cli._command_of(argv) in cli._ENGINE_COMMANDS) is engine


@pytest.mark.parametrize("argv", [["--help"], ["--version"], ["sync", "--help"]])
def test_help_and_version_end_in_the_parser_without_asyncio(argv: list[str]) -> None:
    """The handlers and the runner, and asyncio with them (about 20 ms), are imported only
    once the arguments parsed; `--help` and `--version` never get that far."""
    done = python(
        "import json, sys\n"
        "from bmsync.cli import main\n"
        "try:\n"
        "    main(sys.argv[1:])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(json.dumps(sorted(sys.modules)), file=sys.stderr)\n",
        *argv,
    )
    assert done.returncode == 0, done.stderr
    loaded = set(json.loads(done.stderr.splitlines()[-1]))
    assert "bmsync.cli.parser" in loaded
    assert not loaded & {"asyncio", "bmsync.cli.runner", "bmsync.cli.handlers"}, sorted(loaded)
