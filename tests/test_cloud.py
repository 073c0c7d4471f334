"""The Basic Memory Cloud API client, against the local stand-in (`tests/cloud_server.py`).

The stand-in is a real HTTP server; the tests that use the bucket it hands out (`cloud_api`)
run once per real S3 server, those about the API conversation alone (`cloud_http`) once.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import bmsync
from bmsync import (
    CloudAuthError,
    CloudClient,
    CloudError,
    CloudProject,
    CloudSubscriptionError,
    CloudUnavailableError,
    ConfigError,
    ConfiguredProject,
)
from bmsync.cloud.mount import TIGRIS_ENDPOINT
from bmsync.cloud.permalink import permalink
from tests.cloud_server import API_KEY, PROJECTS, SUBSCRIBE_URL, CloudServer
from tests.faultproxy import Decision, FaultProxy, Request
from tests.servers import S3TestServer, free_port

KEY_ENV = "BASIC_MEMORY_CLOUD_API_KEY"


@pytest.fixture
def bm_dir(tmp_path: Path) -> Path:
    """basic-memory's config dir for this test (conftest points BASIC_MEMORY_CONFIG_DIR here)."""
    folder = Path(os.environ["BASIC_MEMORY_CONFIG_DIR"])
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def write_config(bm_dir: Path, config: dict[str, Any]) -> Path:
    path = bm_dir / "config.json"
    path.write_text(json.dumps(config), encoding="utf-8")
    return path


def client(server: CloudServer, **options: Any) -> CloudClient:
    """Quick retries: the backoff schedule is not what these tests are about."""
    options.setdefault("token", API_KEY)
    return CloudClient(server.url, backoff=0.01, **options)


# -- the token ---------------------------------------------------------------------------------


async def test_token_from_the_environment_is_sent_as_bearer(
    cloud_http: CloudServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, API_KEY)
    async with CloudClient(cloud_http.url) as cloud:
        assert cloud.token.source == f"${KEY_ENV}"
        await bmsync.list_cloud_projects(cloud)
    [request] = cloud_http.requests
    assert request.headers["authorization"] == f"Bearer {API_KEY}"


async def test_token_from_basic_memorys_config(cloud_http: CloudServer, bm_dir: Path) -> None:
    config = write_config(bm_dir, {"cloud_api_key": API_KEY, "projects": {}})
    async with CloudClient(cloud_http.url) as cloud:
        assert cloud.token.source == f"cloud_api_key in {config}"
        await bmsync.list_cloud_projects(cloud)
    assert cloud_http.requests[0].headers["authorization"] == f"Bearer {API_KEY}"


async def test_the_environment_wins_over_the_config(
    cloud_http: CloudServer, bm_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_config(bm_dir, {"cloud_api_key": "bmc_stale"})
    monkeypatch.setenv(KEY_ENV, API_KEY)
    async with CloudClient(cloud_http.url) as cloud:
        await bmsync.list_cloud_projects(cloud)
    assert cloud_http.requests[0].headers["authorization"] == f"Bearer {API_KEY}"


async def test_a_valid_login_token_is_used_and_an_expired_one_named(
    cloud_http: CloudServer, bm_dir: Path
) -> None:
    tokens = bm_dir / "basic-memory-cloud.json"
    tokens.write_text(json.dumps({"access_token": API_KEY, "expires_at": time.time() + 3600}))
    async with CloudClient(cloud_http.url) as cloud:
        await bmsync.list_cloud_projects(cloud)
    assert cloud_http.requests[0].headers["authorization"] == f"Bearer {API_KEY}"

    tokens.write_text(json.dumps({"access_token": API_KEY, "expires_at": time.time() - 10}))
    with pytest.raises(CloudAuthError, match="expired") as caught:
        CloudClient(cloud_http.url)
    assert str(tokens) in str(caught.value)


def test_no_credentials_says_how_to_give_them(cloud_env: None) -> None:
    with pytest.raises(CloudAuthError) as caught:
        CloudClient("https://cloud.example")
    message = str(caught.value)
    assert KEY_ENV in message and "bm cloud api-key save" in message
    assert caught.value.exit_code == 2


def test_a_corrupt_config_is_not_read_as_no_key(bm_dir: Path, cloud_env: None) -> None:
    (bm_dir / "config.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid JSON"):
        CloudClient("https://cloud.example")


async def test_the_cloud_host_comes_from_the_environment_then_the_config(
    cloud_http: CloudServer, bm_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_config(bm_dir, {"cloud_api_key": API_KEY, "cloud_host": cloud_http.url})
    async with CloudClient() as cloud:
        assert cloud.url == cloud_http.url
    monkeypatch.setenv("BASIC_MEMORY_CLOUD_HOST", "https://elsewhere.example/")
    async with CloudClient() as cloud:
        assert cloud.url == "https://elsewhere.example"


@pytest.mark.parametrize("url", ["cloud.basicmemory.com", "ftp://x", "https://"])
def test_a_url_that_is_not_http_is_a_config_error(url: str) -> None:
    with pytest.raises(ConfigError, match="Invalid Basic Memory Cloud URL"):
        CloudClient(url, token="t")


def test_the_token_never_shows_in_a_repr(cloud_http: CloudServer) -> None:
    cloud = client(cloud_http)
    assert API_KEY not in repr(cloud) and API_KEY not in repr(cloud.token)


# -- the bucket and its credentials --------------------------------------------------------


async def test_mount_credentials_list_and_sync_a_real_bucket(
    cloud_api: CloudServer, s3_server: S3TestServer, tmp_path: Path
) -> None:
    s3_server.client.put_object(Bucket=cloud_api.bucket, Key="research/from-cloud.md", Body=b"c")
    local = tmp_path / "research"
    local.mkdir()
    (local / "from-here.md").write_text("h")

    async with client(cloud_api) as cloud:
        mount = await bmsync.open_cloud_mount(cloud, endpoint_url=s3_server.config.endpoint_url)
    assert mount.bucket == cloud_api.bucket and mount.tenant_id == cloud_api.tenant_id
    assert mount.url("research") == f"s3://{cloud_api.bucket}/research"
    report = await bmsync.sync_project(
        local, mount.url("research"), s3=mount.s3, state_dir=tmp_path / "state"
    )

    assert report.status == "ok"
    assert report.downloaded == ["from-cloud.md"] and report.uploaded == ["from-here.md"]
    assert (local / "from-cloud.md").read_bytes() == b"c"
    body = s3_server.client.get_object(Bucket=cloud_api.bucket, Key="research/from-here.md")
    assert body["Body"].read() == b"h"
    [info, credentials] = cloud_api.requests
    assert (info.method, info.path) == ("GET", "/tenant/mount/info")
    assert (credentials.method, credentials.path) == ("POST", "/tenant/mount/credentials")
    # basic-memory routes the minting to the tenant whose bucket it is.
    assert credentials.headers["x-workspace-id"] == cloud_api.tenant_id


async def test_every_s3_request_asks_tigris_for_consistency(
    cloud_api: CloudServer, s3_server: S3TestServer, tmp_path: Path
) -> None:
    seen: list[str | None] = []

    def record(request: Request, _rng: random.Random) -> Decision:
        seen.append(request.header("X-Tigris-Consistent"))
        return Decision()

    s3_server.client.put_object(Bucket=cloud_api.bucket, Key="notes/a.md", Body=b"a")
    local = tmp_path / "notes"
    local.mkdir()
    (local / "b.md").write_text("b")
    with FaultProxy(str(s3_server.config.endpoint_url), seed=0, policy=record) as proxy:
        async with client(cloud_api) as cloud:
            mount = await bmsync.open_cloud_mount(cloud, endpoint_url=proxy.endpoint_url)
        report = await bmsync.sync_project(
            local, mount.url("notes"), s3=mount.s3, state_dir=tmp_path / "state"
        )
    assert report.status == "ok" and report.downloaded == ["a.md"] and report.uploaded == ["b.md"]
    assert len(seen) >= 3 and set(seen) == {"true"}


async def test_the_mount_defaults_to_tigris(cloud_http: CloudServer) -> None:
    async with client(cloud_http) as cloud:
        mount = await bmsync.open_cloud_mount(cloud)
    assert mount.s3.endpoint_url == TIGRIS_ENDPOINT == "https://fly.storage.tigris.dev"
    assert mount.s3.region == "auto"
    assert (mount.s3.access_key_id, mount.s3.secret_access_key) == ("AK", "SK")
    assert dict(mount.s3.headers) == {"X-Tigris-Consistent": "true"}


async def test_a_mount_answer_without_a_bucket_is_a_clear_error(cloud_http: CloudServer) -> None:
    cloud_http.fail("GET", "/tenant/mount/info", 200, body={"tenant_id": "t"})
    async with client(cloud_http) as cloud:
        with pytest.raises(CloudError, match="lacks bucket_name"):
            await bmsync.open_cloud_mount(cloud)


# -- projects ----------------------------------------------------------------------------------


async def test_listed_paths_become_key_prefixes(cloud_http: CloudServer) -> None:
    cloud_http.add_project("research", "/app/data/research")
    cloud_http.add_project("Team Notes", "/app/data/team-notes/")
    cloud_http.add_project("notes", "/notes")  # basic-memory's own router lists it normalised
    cloud_http.add_project("everything", "/app/data")  # the whole bucket: never a project
    async with client(cloud_http) as cloud:
        projects = await bmsync.list_cloud_projects(cloud)
    assert {p.name: p.prefix for p in projects} == {
        "research": "research",
        "Team Notes": "team-notes",
        "notes": "notes",
    }


async def test_registration_sends_basic_memorys_body_and_waits_until_listed(
    cloud_http: CloudServer,
) -> None:
    cloud_http.listing_lag = 2  # listed only from the third listing after the 201
    async with client(cloud_http) as cloud:
        project = await bmsync.register_cloud_project(cloud, "My Research", poll=0.01)
    assert project == CloudProject("My Research", "/app/data/my-research")
    assert project.prefix == "my-research"
    [post] = cloud_http.requests_to("POST", PROJECTS)
    assert post.body == {
        "name": "My Research",
        "path": "my-research",
        "set_default": False,
        "visibility": "workspace",
    }
    assert len(cloud_http.requests_to("GET", PROJECTS)) == 3


async def test_a_project_never_listed_is_a_clear_error(cloud_http: CloudServer) -> None:
    cloud_http.listing_lag = 10**6
    async with client(cloud_http) as cloud:
        with pytest.raises(CloudUnavailableError, match="did not list it within"):
            await bmsync.register_cloud_project(cloud, "slow", wait=0.2, poll=0.01)


async def test_registering_a_project_that_exists_returns_it(cloud_http: CloudServer) -> None:
    cloud_http.add_project("Research", "/app/data/research-2023")
    async with client(cloud_http) as cloud:
        project = await bmsync.register_cloud_project(cloud, "Research")
    # The service refused a second "Research" at another path (400); the existing one is it.
    assert project.prefix == "research-2023"
    assert cloud_http.project_names() == ["Research"]


async def test_a_refused_registration_says_why(cloud_http: CloudServer) -> None:
    cloud_http.fail("POST", PROJECTS, 400, body={"detail": "Invalid project name"})
    async with client(cloud_http) as cloud:
        with pytest.raises(CloudError, match=r"400 Bad Request.*Invalid project name"):
            await bmsync.register_cloud_project(cloud, "x")


async def test_ensure_registers_folders_without_a_project_and_pairs_the_rest(
    cloud_http: CloudServer,
) -> None:
    cloud_http.add_project("research")
    cloud_http.add_project("archive")
    async with client(cloud_http) as cloud:
        pairing = await bmsync.ensure_cloud_projects(cloud, ["research", "My Ideas"])
    assert {folder: p.prefix for folder, p in pairing.matched.items()} == {
        "research": "research",
        "My Ideas": "my-ideas",
    }
    assert [p.name for p in pairing.remote_only] == ["archive"]
    assert pairing.unregistered == ()
    assert cloud_http.project_names() == ["research", "archive", "My Ideas"]


def test_folders_pair_by_name_then_by_permalink() -> None:
    projects = [
        CloudProject("research", "/app/data/research"),
        CloudProject("My Ideas", "/app/data/my-ideas"),
        CloudProject("archive", "/app/data/archive"),
    ]
    pairing = bmsync.pair_folders(["research", "My Ideas", "drafts"], projects)
    assert {f: p.name for f, p in pairing.matched.items()} == {
        "research": "research",
        "My Ideas": "My Ideas",
    }
    assert pairing.unregistered == ("drafts",)
    assert [p.name for p in pairing.remote_only] == ["archive"]


def test_two_folders_for_one_project_are_refused() -> None:
    with pytest.raises(ConfigError, match="'My Notes' and 'my notes'"):
        bmsync.pair_folders(["My Notes", "my notes"], [])
    with pytest.raises(ConfigError, match="'research' and 'Research'"):
        bmsync.pair_folders(["research", "Research"], [CloudProject("research", "/research")])


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("research", "research"),
        ("My Research", "my-research"),
        ("API (v2)", "api-v2"),
        ("unified_model_refactor", "unified-model-refactor"),
        ("Version 2.0.0", "version-2.0.0"),
        ("myProject", "my-project"),
        ("Bob's notes", "bobs-notes"),
        ("Café Notes", "cafe-notes"),
        ("Straße", "strasse"),
        ("中文Notes", "中文-notes"),
    ],
)
def test_permalinks_are_basic_memorys(name: str, expected: str) -> None:
    assert permalink(name) == expected


# -- errors ------------------------------------------------------------------------------------


async def test_401_says_to_set_the_key_or_log_in_again(
    cloud_http: CloudServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, "bmc_revoked")
    async with CloudClient(cloud_http.url, backoff=0.01) as cloud:
        with pytest.raises(CloudAuthError) as caught:
            await bmsync.list_cloud_projects(cloud)
    message = str(caught.value)
    assert "401" in message and f"${KEY_ENV}" in message
    assert "bm cloud api-key save" in message and "bm cloud login" in message
    assert caught.value.status_code == 401
    assert len(cloud_http.requests) == 1  # a refused key is not retried


async def test_403_subscription_required_names_the_subscribe_url(
    cloud_http: CloudServer,
) -> None:
    cloud_http.subscription_required = True
    async with client(cloud_http) as cloud:
        with pytest.raises(CloudSubscriptionError) as caught:
            await bmsync.open_cloud_mount(cloud)
    assert caught.value.subscribe_url == SUBSCRIBE_URL
    assert SUBSCRIBE_URL in str(caught.value) and "subscription" in str(caught.value)


async def test_403_subscription_required_also_unnested(cloud_http: CloudServer) -> None:
    body = {"error": "subscription_required", "message": "Trial ended"}
    cloud_http.fail("GET", PROJECTS, 403, body=body)
    async with client(cloud_http) as cloud:
        with pytest.raises(CloudSubscriptionError, match="Trial ended") as caught:
            await bmsync.list_cloud_projects(cloud)
    assert caught.value.subscribe_url == "https://basicmemory.com/pricing"


async def test_another_403_is_not_about_the_subscription(cloud_http: CloudServer) -> None:
    async with client(cloud_http, workspace="someone-elses") as cloud:
        with pytest.raises(CloudError, match=r"403 Forbidden.*not accessible") as caught:
            await bmsync.list_cloud_projects(cloud)
    assert not isinstance(caught.value, CloudSubscriptionError)
    assert cloud_http.requests[0].headers["x-workspace-id"] == "someone-elses"


async def test_5xx_is_retried_until_it_answers(cloud_http: CloudServer) -> None:
    cloud_http.add_project("research")
    cloud_http.fail("GET", PROJECTS, 503, times=2)
    async with client(cloud_http) as cloud:
        projects = await bmsync.list_cloud_projects(cloud)
    assert [p.prefix for p in projects] == ["research"]
    assert len(cloud_http.requests_to("GET", PROJECTS)) == 3


async def test_5xx_that_persists_is_a_clear_error(cloud_http: CloudServer) -> None:
    cloud_http.fail("GET", "/tenant/mount/info", 502, times=10)
    async with client(cloud_http, retries=2) as cloud:
        with pytest.raises(CloudUnavailableError) as caught:
            await bmsync.open_cloud_mount(cloud)
    message = str(caught.value)
    assert "502 Bad Gateway" in message and "3 times" in message and "Try again" in message
    assert caught.value.status_code == 502
    assert len(cloud_http.requests) == 3


async def test_429_waits_as_told_then_goes_on(cloud_http: CloudServer) -> None:
    cloud_http.fail("GET", PROJECTS, 429, headers={"Retry-After": "0"})
    async with client(cloud_http) as cloud:
        assert await bmsync.list_cloud_projects(cloud) == []
    assert len(cloud_http.requests) == 2


async def test_other_4xx_is_not_retried(cloud_http: CloudServer) -> None:
    cloud_http.fail("GET", PROJECTS, 404, body={"detail": "Not Found"})
    async with client(cloud_http) as cloud:
        with pytest.raises(CloudError, match="404 Not Found") as caught:
            await bmsync.list_cloud_projects(cloud)
    assert caught.value.status_code == 404 and len(cloud_http.requests) == 1


async def test_network_down_is_a_clear_error(cloud_env: None) -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    async with CloudClient(url, token="t", retries=1, backoff=0.01) as cloud:
        with pytest.raises(CloudUnavailableError) as caught:
            await bmsync.list_cloud_projects(cloud)
    message = str(caught.value)
    assert f"Could not reach Basic Memory Cloud at {url}" in message
    assert "network connection" in message and caught.value.status_code is None


async def test_an_answer_of_another_shape_is_a_clear_error(cloud_http: CloudServer) -> None:
    cloud_http.fail("GET", PROJECTS, 200, body=["not", "a", "ProjectList"])
    async with client(cloud_http) as cloud:
        with pytest.raises(CloudError, match="has no project list"):
            await bmsync.list_cloud_projects(cloud)


# -- configured projects -------------------------------------------------------------------


def test_configured_projects_from_unified_entries(tmp_path: Path) -> None:
    config = {
        "projects": {
            "research": {"path": "/srv/bm/research", "local_sync_path": str(tmp_path / "r")},
            "Team Notes": {"path": "/x", "cloud_sync_path": str(tmp_path / "t")},
            "local-only": {"path": "/srv/bm/local-only"},
        }
    }
    assert bmsync.configured_projects(config) == [
        ConfiguredProject("Team Notes", tmp_path / "t", "team-notes"),
        ConfiguredProject("research", tmp_path / "r", "research"),
    ]


def test_configured_projects_from_the_older_shape(tmp_path: Path) -> None:
    config = {
        "projects": {"research": "/home/me/basic-memory/research", "misc": "/home/me/misc"},
        "cloud_projects": {"research": {"local_path": str(tmp_path / "r"), "last_sync": None}},
    }
    assert bmsync.configured_projects(config) == [
        ConfiguredProject("research", tmp_path / "r", "research")
    ]


def test_the_unified_entry_wins_over_the_older_one(tmp_path: Path) -> None:
    config = {
        "projects": {"research": {"path": "/p", "local_sync_path": str(tmp_path / "new")}},
        "cloud_projects": {"research": {"local_path": str(tmp_path / "old")}},
    }
    [project] = bmsync.configured_projects(config)
    assert project.local_path == tmp_path / "new"


def test_load_reads_basic_memorys_config_dir(bm_dir: Path, tmp_path: Path) -> None:
    write_config(bm_dir, {"projects": {"research": {"path": "/p", "local_sync_path": "~/r"}}})
    [project] = bmsync.load_configured_projects()
    assert project == ConfiguredProject("research", Path.home() / "r", "research")


def test_a_missing_config_says_how_to_make_one(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "config.json"
    with pytest.raises(ConfigError, match=r"does not exist.*bm cloud sync-setup") as caught:
        bmsync.load_configured_projects(missing)
    assert str(missing) in str(caught.value)


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ('{"projects": {', "not valid JSON \\(line 1, column 15"),
        ("[1, 2]", "holds a JSON list, not an object"),
        ('{"projects": ["research"]}', "projects in .* is not an object"),
        ('{"projects": {"research": 3}}', "projects.research in .* neither an object nor a path"),
        ('{"cloud_projects": {"research": "/p"}}', "cloud_projects.research .* not an object"),
        ('{"projects": {"r": {"local_sync_path": 7}}}', "folder of project 'r' .* not a path"),
    ],
)
def test_a_corrupt_config_is_a_clear_error(tmp_path: Path, text: str, complaint: str) -> None:
    path = tmp_path / "config.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=complaint):
        bmsync.load_configured_projects(path)


def test_a_config_that_is_not_utf8_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_bytes(b'{"projects": "\xff"}')
    with pytest.raises(ConfigError, match="not UTF-8"):
        bmsync.load_configured_projects(path)


def test_a_config_with_no_synced_project_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"projects": {"main": {"path": "/home/me/basic-memory"}}}))
    with pytest.raises(ConfigError, match=r"No project .* has a local sync folder"):
        bmsync.load_configured_projects(path)


def test_a_relative_sync_folder_is_refused() -> None:
    config = {"projects": {"research": {"path": "r", "local_sync_path": "notes/research"}}}
    with pytest.raises(ConfigError, match=r"not an absolute path.*sync-setup research"):
        bmsync.configured_projects(config)


def test_a_mapping_given_by_the_caller(tmp_path: Path) -> None:
    projects = bmsync.projects_from_mapping({"My Notes": tmp_path / "n", "work": "~/work"})
    assert projects == [
        ConfiguredProject("My Notes", tmp_path / "n", "my-notes"),
        ConfiguredProject("work", Path.home() / "work", "work"),
    ]
    with pytest.raises(ConfigError, match=r"'My Notes' and 'my notes'.*prefix 'my-notes'"):
        bmsync.projects_from_mapping({"My Notes": tmp_path / "a", "my notes": tmp_path / "b"})


def test_cloud_prefixes_replace_the_permalinks(tmp_path: Path) -> None:
    configured = bmsync.projects_from_mapping({"Research": tmp_path / "r", "new": tmp_path / "n"})
    listed = [CloudProject("research", "/app/data/research-2023")]
    assert [p.prefix for p in bmsync.with_cloud_prefixes(configured, listed)] == [
        "research-2023",  # found by permalink, as basic-memory finds it
        "new",  # not in the cloud yet: the path register_cloud_project creates
    ]


def test_configured_projects_do_not_load_the_http_client() -> None:
    """`sync-all --config` against a plain s3:// remote never talks to the Cloud API."""
    code = (
        "import sys, bmsync; bmsync.load_configured_projects; bmsync.pair_folders; "
        "bmsync.CloudMount; assert 'httpx' not in sys.modules, 'httpx loaded'"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
