"""A local stand-in of the Basic Memory Cloud API, a real HTTP server on 127.0.0.1.

It answers what bmsync's cloud client calls and what basic-memory 0.24.1's own `bm cloud`
commands call for a Personal workspace (read from its code: `bisync_commands.py`,
`cloud_utils.py`, `project_sync.py`, `mcp/project_context.py`, `cli/commands/project.py`,
`core_commands.py`), with the response shapes of its pydantic schemas:

    GET  /workspaces/                  WorkspaceListResponse (control plane, no /proxy)
    GET  /tenant/mount/info            TenantMountInfo {tenant_id, bucket_name}
    POST /tenant/mount/credentials     MountCredentials {access_key, secret_key}
    GET  /proxy/v2/projects/           ProjectList {projects: [ProjectItem], default_project}
    POST /proxy/v2/projects/           ProjectStatusResponse, 201 (basic-memory's v2 router:
                                       same name and path again -> 201, another path -> 400)
    GET  /proxy/health                 {"status": "ok"} (`bm cloud status`)

The bucket and the keys handed out are those of a real S3 server from `tests/servers.py`, so
what a client does with them is a real listing of a real bucket. Every request is recorded
(`requests`) for tests to assert on. Test controls: `fail()` queues answers (5xx, 401, ...)
for a route, `subscription_required` makes every tenant route answer basic-memory's 403,
`listing_lag` delays a new project's appearance in the listing by that many listings (the
service registers projects asynchronously).

Auth is the `Authorization: Bearer <api_key>` header, as the service checks it; a wrong or
missing token is 401 like the service's.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from bmsync.cloud.permalink import permalink

API_KEY = "bmc_test_0123456789abcdef"
SUBSCRIBE_URL = "https://basicmemory.com/subscribe?from=stand-in"
PROJECTS = "/proxy/v2/projects/"
MOUNT_ROOT = "/app/data"


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    """Names lower-cased."""
    body: Any
    """The parsed JSON body, or None."""


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


class CloudServer:
    """`start()` / `stop()`, or a context manager; `url` is `http://127.0.0.1:PORT`."""

    def __init__(
        self,
        *,
        bucket: str,
        access_key: str,
        secret_key: str,
        tenant_id: str = "11111111-2222-3333-4444-555555555555",
        api_key: str = API_KEY,
    ) -> None:
        self.bucket = bucket
        self.access_key = access_key
        self.secret_key = secret_key
        self.tenant_id = tenant_id
        self.api_key = api_key
        self.subscription_required = False
        self.listing_lag = 0
        self.requests: list[RecordedRequest] = []
        self._projects: list[dict[str, Any]] = []
        self._hidden: dict[str, int] = {}  # project name -> listings it still stays hidden for
        self._faults: dict[tuple[str, str], deque[Answer]] = {}
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name="cloud-stand-in", daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> CloudServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread.is_alive():
            self._httpd.shutdown()
            self._thread.join(timeout=10)
        self._httpd.server_close()

    def __enter__(self) -> CloudServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- test controls ---------------------------------------------------------------------

    def add_project(self, name: str, path: str | None = None) -> dict[str, Any]:
        """A project that already exists, listed at `path` (default `/app/data/<permalink>`)."""
        with self._lock:
            return self._create(name, path or f"{MOUNT_ROOT}/{permalink(name)}")

    def project_names(self) -> list[str]:
        with self._lock:
            return [project["name"] for project in self._projects]

    def fail(
        self,
        method: str,
        path: str,
        status: int,
        *,
        body: Any = None,
        times: int = 1,
        headers: dict[str, str] | None = None,
    ) -> None:
        """The next `times` requests to `method path` get this answer instead of the real one."""
        answer = Answer(status, body if body is not None else {"detail": f"injected {status}"},
                        headers or {})  # fmt: skip
        with self._lock:
            self._faults.setdefault((method, path), deque()).extend([answer] * times)

    def requests_to(self, method: str, path: str) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.method == method and r.path == path]

    # -- the API (called from the server's threads, under the lock) -------------------------

    def answer(self, method: str, path: str, headers: dict[str, str], body: Any) -> Answer:
        with self._lock:
            self.requests.append(RecordedRequest(method, path, headers, body))
            queued = self._faults.get((method, path))
            if queued:
                return queued.popleft()
            if headers.get("authorization") != f"Bearer {self.api_key}":
                return Answer(401, {"detail": "Invalid or expired credentials"})
            tenant_route = path.startswith(("/tenant/", "/proxy/"))
            if tenant_route and self.subscription_required:
                return Answer(403, {"detail": {
                    "error": "subscription_required",
                    "message": "Active subscription required",
                    "subscribe_url": SUBSCRIBE_URL,
                }})  # fmt: skip
            workspace = headers.get("x-workspace-id")
            if tenant_route and workspace not in (None, self.tenant_id):
                return Answer(403, {"detail": f"Workspace {workspace} is not accessible"})
            route = _ROUTES.get((method, path))
            if route is None:
                return Answer(404, {"detail": "Not Found"})
            return route(self, body)

    def _workspaces(self, _body: Any) -> Answer:
        workspace = {
            "tenant_id": self.tenant_id,
            "workspace_type": "personal",
            "slug": "personal",
            "name": "Personal",
            "role": "owner",
            "is_default": True,
            "organization_id": None,
            "has_active_subscription": not self.subscription_required,
        }
        return Answer(200, {
            "workspaces": [workspace], "count": 1,
            "default_workspace_id": self.tenant_id, "current_workspace_id": self.tenant_id,
        })  # fmt: skip

    def _mount_info(self, _body: Any) -> Answer:
        return Answer(200, {"tenant_id": self.tenant_id, "bucket_name": self.bucket})

    def _mount_credentials(self, _body: Any) -> Answer:
        return Answer(200, {"access_key": self.access_key, "secret_key": self.secret_key})

    def _health(self, _body: Any) -> Answer:
        return Answer(200, {"status": "ok"})

    def _list_projects(self, _body: Any) -> Answer:
        visible = []
        for project in self._projects:
            left = self._hidden.get(project["name"], 0)
            if left:
                self._hidden[project["name"]] = left - 1
            else:
                visible.append(project)
        default = next((p["name"] for p in visible if p["is_default"]), None)
        return Answer(200, {"projects": visible, "default_project": default})

    def _create_project(self, body: Any) -> Answer:
        problem = _invalid_create_request(body)
        if problem:
            return Answer(422, {"detail": problem})
        name, path = body["name"], f"{MOUNT_ROOT}/{body['path'].strip('/')}"
        existing = next(
            (p for p in self._projects if permalink(p["name"]) == permalink(name)), None
        )
        if existing is not None and existing["path"] != path:
            return Answer(400, {"detail": (
                f"Project '{name}' already exists with different path. "
                f"Existing: {existing['path']}, Requested: {body['path']}"
            )})  # fmt: skip
        if existing is not None:
            return Answer(201, _status(f"Project '{name}' already exists", existing))
        project = self._create(name, path)
        self._hidden[name] = self.listing_lag
        return Answer(201, _status(f"Project '{name}' added successfully", project))

    def _create(self, name: str, path: str) -> dict[str, Any]:
        project = {
            "id": len(self._projects) + 1,
            "external_id": str(uuid.uuid4()),
            "name": name,
            "path": path,
            "is_default": False,
        }
        self._projects.append(project)
        return project


_ROUTES = {
    ("GET", "/workspaces/"): CloudServer._workspaces,
    ("GET", "/tenant/mount/info"): CloudServer._mount_info,
    ("POST", "/tenant/mount/credentials"): CloudServer._mount_credentials,
    ("GET", "/proxy/health"): CloudServer._health,
    ("GET", PROJECTS): CloudServer._list_projects,
    ("POST", PROJECTS): CloudServer._create_project,
}


def _invalid_create_request(body: Any) -> str | None:
    """basic-memory's CloudProjectCreateRequest: what the service validates."""
    if not isinstance(body, dict):
        return "body must be a JSON object"
    if not isinstance(body.get("name"), str) or not body["name"]:
        return "name is required"
    if not isinstance(body.get("path"), str) or not body["path"].strip("/"):
        return "path is required"
    if not isinstance(body.get("set_default", False), bool):
        return "set_default must be a boolean"
    if body.get("visibility", "workspace") not in ("workspace", "shared"):
        return "visibility must be 'workspace' or 'shared'"
    return None


def _status(message: str, project: dict[str, Any]) -> dict[str, Any]:
    return {
        "message": message,
        "status": "success",
        "default": project["is_default"],
        "old_project": None,
        "new_project": project,
    }


def _handler_for(server: CloudServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        # HTTP/1.1 keep-alive, as httpx's connection pool expects of a real service.
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            self._serve()

        def do_POST(self) -> None:
            self._serve()

        def _serve(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = None
            headers = {name.lower(): value for name, value in self.headers.items()}
            answer = server.answer(self.command, urlsplit(self.path).path, headers, body)
            payload = json.dumps(answer.body).encode()
            self.send_response(answer.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in answer.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # the recorded requests are the log

    return Handler
