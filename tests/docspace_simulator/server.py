"""The HTTP(S) server that hosts the simulated portals and the control API."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import socket
import ssl
import tempfile
import threading
from typing import Any, Callable

from aiohttp import web

from . import api, control, faults
from .api import Call
from .envelopes import REASONS, Reply, error, nginx_page
from .portal import Portal, RequestRecord

log = logging.getLogger("docspace_simulator")

CONTROL_PREFIX = "/_simulator"

# Generous so that a few hundred concurrent clients are not rejected at connect time.
LISTEN_BACKLOG = 1024

# How long stop() waits for requests still in progress, e.g. those held by a slow fault.
SHUTDOWN_TIMEOUT = 1.0


class Simulator:
    """Serve several simulated DocSpace portals on loopback.

    `port` 0 picks a free port. With `https=True` a second listener serves TLS
    with a certificate from a throwaway CA whose PEM file is `ca_path`. Use
    start()/stop() or a `with` block; the server then runs its own event loop in
    a background thread.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        https: bool = False,
        https_port: int = 0,
        state_dir: str | None = None,
    ):
        self.host = host
        self.port = port
        self.https = https
        self.https_port = https_port
        self.state_dir = state_dir
        self.http_url: str | None = None
        self.https_url: str | None = None
        self.ca_path: str | None = None

        self._portals: dict[str, Portal] = {}
        self._mounts: list[tuple[str, Portal]] = []
        self._baseline: set[str] = set()
        self._lock = threading.RLock()
        self._sockets: list[tuple[socket.socket, ssl.SSLContext | None]] = []
        self._runner: web.AppRunner | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._temp_dir: str | None = None

    # Portals

    def add_portal(self, alias: str, *, prefix: str | None = None, **options: Any) -> Portal:
        """Create a portal mounted at `prefix` ("/<alias>" by default, "" for the root)."""
        portal = Portal(alias, prefix=prefix, **options)
        with self._lock:
            if alias in self._portals:
                raise ValueError(f"portal {alias!r} already exists")
            aliases_by_prefix = {mounted.prefix: mounted.alias for mounted in self._portals.values()}
            if portal.prefix in aliases_by_prefix:
                where = portal.prefix or "the root"
                raise ValueError(f"prefix {where!r} is already used by portal {aliases_by_prefix[portal.prefix]!r}")
            portal.simulator = self
            self._portals[alias] = portal
            self._rebuild_mounts()
        return portal

    def remove_portal(self, alias: str) -> None:
        with self._lock:
            portal = self._portals.pop(alias)
            portal.simulator = None
            self._rebuild_mounts()

    @property
    def portals(self) -> dict[str, Portal]:
        with self._lock:
            return dict(self._portals)

    def portal(self, alias: str) -> Portal:
        with self._lock:
            try:
                return self._portals[alias]
            except KeyError:
                raise KeyError(f"no portal {alias!r}; portals: {', '.join(sorted(self._portals)) or 'none'}") from None

    def reset(self) -> None:
        """Reset every portal to its seeded state and drop portals added after start()."""
        with self._lock:
            for alias in list(self._portals):
                if self._baseline and alias not in self._baseline:
                    self.remove_portal(alias)
            for portal in self._portals.values():
                portal.reset()

    def _rebuild_mounts(self) -> None:
        # Longest prefix first, so "/acme/eu" wins over "/acme" and both over the root.
        self._mounts = sorted(((p.prefix, p) for p in self._portals.values()), key=lambda item: -len(item[0]))

    def find_portal(self, path: str) -> tuple[Portal | None, str]:
        """Return the portal that serves `path` and the path relative to its prefix."""
        for prefix, portal in self._mounts:
            if prefix == "" or path == prefix or path.startswith(prefix + "/"):
                return portal, path[len(prefix) :] or "/"
        return None, path

    # Manifest

    def manifest(self) -> dict[str, Any]:
        with self._lock:
            return {
                "http_url": self.http_url,
                "https_url": self.https_url,
                "ca_path": self.ca_path,
                "portals": {alias: portal.manifest() for alias, portal in self._portals.items()},
            }

    def write_manifest(self, path: str) -> None:
        """Write the manifest atomically, so a reader never sees half a file."""
        directory = os.path.dirname(os.path.abspath(path))
        with tempfile.NamedTemporaryFile("w", dir=directory, delete=False, suffix=".tmp", encoding="utf-8") as handle:
            json.dump(self.manifest(), handle, indent=2, ensure_ascii=False)
            handle.write("\n")
        os.replace(handle.name, path)

    # Lifecycle

    def start(self) -> Simulator:
        """Bind the listeners and serve in a background thread until stop()."""
        if self._thread is not None:
            raise RuntimeError("the simulator is already running")
        self._bind()

        loop = asyncio.new_event_loop()
        ready = threading.Event()
        failures: list[BaseException] = []

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._serve())
            except BaseException as exc:  # reported to the thread that called start()
                failures.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()

        self._loop = loop
        self._thread = threading.Thread(target=run, name="docspace-simulator", daemon=True)
        self._thread.start()
        ready.wait()
        if failures:
            self._thread.join()
            self._thread = None
            loop.close()
            self._close_sockets()
            raise failures[0]
        return self

    def stop(self) -> None:
        """Stop serving and release the ports; safe to call twice."""
        if self._thread is None or self._loop is None:
            return
        future = asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop)
        try:
            future.result(timeout=SHUTDOWN_TIMEOUT + 10)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            self._loop.close()
            self._thread = None
            self._loop = None

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    async def serve_until(self, stop: asyncio.Event, on_ready: Callable[[], None] | None = None) -> None:
        """Serve in the running event loop until `stop` is set (the CLI's foreground mode)."""
        self._bind()
        await self._serve()
        try:
            if on_ready is not None:
                on_ready()
            await stop.wait()
        finally:
            await self._shutdown()

    def _bind(self) -> None:
        """Open the listening sockets now, so a port in use fails in the caller."""
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        url_host = f"[{self.host}]" if ":" in self.host else self.host
        try:
            http_socket = socket.create_server((self.host, self.port), family=family, backlog=LISTEN_BACKLOG)
            self._sockets = [(http_socket, None)]
            self.http_url = f"http://{url_host}:{http_socket.getsockname()[1]}"

            if self.https:
                context = self._make_tls_context()
                https_socket = socket.create_server((self.host, self.https_port), family=family, backlog=LISTEN_BACKLOG)
                self._sockets.append((https_socket, context))
                self.https_url = f"https://{url_host}:{https_socket.getsockname()[1]}"
        except BaseException:
            self._close_sockets()
            raise

    def _make_tls_context(self) -> ssl.SSLContext:
        import trustme

        authority = trustme.CA(organization_name="DocSpace simulator test CA")
        certificate = authority.issue_cert("127.0.0.1", "::1", "localhost")
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        certificate.configure_cert(context)

        directory = self.state_dir
        if directory is None:
            self._temp_dir = directory = tempfile.mkdtemp(prefix="docspace-simulator-")
        os.makedirs(directory, exist_ok=True)
        self.ca_path = os.path.join(directory, "ca.pem")
        authority.cert_pem.write_to_path(self.ca_path)
        return context

    async def _serve(self) -> None:
        app = web.Application(client_max_size=4 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT)
        await self._runner.setup()
        for sock, context in self._sockets:
            await web.SockSite(self._runner, sock, ssl_context=context, backlog=LISTEN_BACKLOG).start()
        self._baseline = set(self._portals)
        urls = ", ".join(url for url in (self.http_url, self.https_url) if url)
        log.info("DocSpace simulator listening on %s with %d portal(s)", urls, len(self._portals))

    async def _shutdown(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        self._close_sockets()
        if self._temp_dir:
            shutil.rmtree(self._temp_dir, ignore_errors=True)
            self._temp_dir = None
        log.info("DocSpace simulator on %s stopped", self.http_url)

    def _close_sockets(self) -> None:
        for sock, _unused in self._sockets:
            sock.close()
        self._sockets = []

    # Request handling

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        if path == CONTROL_PREFIX or path.startswith(CONTROL_PREFIX + "/"):
            return await control.handle(self, request, path[len(CONTROL_PREFIX) :] or "/")

        portal, relative_path = self.find_portal(path)
        if portal is None:
            log.debug("%s %s -> 404, no portal at this path", request.method, path)
            return to_response(nginx_page(404))

        # The raw query string, because yarl would decode characters such as %40.
        raw_query = request.raw_path.partition("?")[2].partition("#")[0]
        call = Call(
            method=request.method,
            path=relative_path,
            query_string=raw_query,
            headers=request.headers,
            cookies=request.cookies,
            body=await request.read(),
            base=f"{request.scheme}://{request.host}{portal.prefix}",
            remote=request.remote or "",
        )
        endpoint, template = api.endpoint_name(call.method, relative_path)
        record = RequestRecord(
            method=call.method,
            path=relative_path,
            endpoint=endpoint,
            query=call.query_string,
            body=call.body.decode("utf-8", errors="replace"),
            header_names=list(dict.fromkeys(request.headers.keys())),
            has_authorization="Authorization" in request.headers,
            has_confirm="confirm" in request.headers,
            at=portal.now(),
        )
        portal.record_request(record)

        # A short-link code opens the confirmation link, so the log shows the template instead.
        shown_path = portal.prefix + template if template == "/s/{code}" else path
        fault = portal.faults_table.take(call.method, relative_path, template)
        if fault is not None:
            record.fault = fault.kind

        reply: Reply | None = None
        if fault is None or fault.after_processing or fault.kind == "slow":
            if fault is not None and fault.kind == "slow" and not fault.after_processing:
                await asyncio.sleep(fault.delay)
            reply = self._dispatch(portal, call)

        if fault is not None and fault.kind == "slow" and fault.after_processing:
            await asyncio.sleep(fault.delay)
        elif fault is not None and fault.kind == "drop":
            log.debug("%s %s on portal %s: dropping the connection (fault %d)", call.method, shown_path, portal.alias, fault.id)
            record.status = 0
            if request.transport is not None:
                request.transport.abort()
            raise asyncio.CancelledError()
        elif fault is not None and fault.kind != "slow":
            reply = faults.render(fault, reply, url=call.url, method=call.method)

        assert reply is not None
        record.status = reply.status
        log.debug("%s %s on portal %s -> %d%s", call.method, shown_path, portal.alias, reply.status, f" (fault {fault.kind})" if fault else "")
        return to_response(reply)

    def _dispatch(self, portal: Portal, call: Call) -> Reply:
        try:
            return api.dispatch(portal, call)
        except Exception:
            log.exception("%s %s on portal %s failed inside the simulator", call.method, call.path, portal.alias)
            return error(500, "The simulator failed to handle this request; see its log")


def to_response(reply: Reply) -> web.Response:
    headers = {"Server": "nginx", **reply.headers}
    if reply.content_type:
        headers["Content-Type"] = reply.content_type
    return web.Response(status=reply.status, reason=REASONS.get(reply.status, "Unknown"), body=reply.body, headers=headers)
