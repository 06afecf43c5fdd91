"""Command line: `python -m docspace_simulator` with tests/ on PYTHONPATH."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys

from .model import DEFAULT_VERSION
from .server import Simulator

DEFAULT_PORT = 8085

# Listing every portal of a load test would bury the listening URLs.
MAX_PORTALS_PRINTED = 20


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m docspace_simulator",
        description="Serve simulated ONLYOFFICE DocSpace portals on loopback until SIGINT or SIGTERM.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on: 127.0.0.1 (default), ::1 or localhost")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"HTTP port, 0 for a free one (default {DEFAULT_PORT})")
    parser.add_argument("--https-port", type=int, help="also serve HTTPS with a test CA on this port, 0 for a free one")
    parser.add_argument(
        "--portal",
        action="append",
        default=[],
        metavar="ALIAS[=PREFIX]",
        help="add a portal at /ALIAS, or at PREFIX ('/' is the root); repeatable. Without --portal and --portals, one portal 'demo' is served at the root",
    )
    parser.add_argument("--portals", type=int, default=0, metavar="N", help="add N generated portals portal001... at /portal001...")
    parser.add_argument("--docspace-version", default=DEFAULT_VERSION, help=f"DocSpace version to behave like (default {DEFAULT_VERSION})")
    parser.add_argument("--link-base", help="base URL that emailed links carry instead of the portal address, e.g. http://docspace.invalid:8092")
    parser.add_argument("--owner-email-unactivated", action="store_true", help="seed owners whose email is not activated")
    parser.add_argument("--rate-limit", type=int, metavar="PER_MINUTE", help="turn on rate limiting with this many requests per minute and user")
    parser.add_argument("--manifest", metavar="FILE", help="write the URLs, users and API keys as JSON to FILE once listening")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"], help="log level (default INFO)")
    return parser


def add_portals(simulator: Simulator, args: argparse.Namespace) -> None:
    options = {
        "version": args.docspace_version,
        "link_base": args.link_base,
        "owner_email_activated": not args.owner_email_unactivated,
        "rate_limit": args.rate_limit,
    }
    specs = list(args.portal)
    if not specs and not args.portals:
        specs = ["demo=/"]

    for spec in specs:
        alias, separator, prefix = spec.partition("=")
        simulator.add_portal(alias, prefix=prefix if separator else None, **options)

    width = max(3, len(str(args.portals)))
    for number in range(1, args.portals + 1):
        simulator.add_portal(f"portal{number:0{width}d}", **options)


def print_summary(simulator: Simulator) -> None:
    print(f"DocSpace simulator listening on {simulator.http_url}", flush=True)
    if simulator.https_url:
        print(f"DocSpace simulator listening on {simulator.https_url} (CA: {simulator.ca_path})", flush=True)

    portals = list(simulator.portals.values())
    for portal in portals[:MAX_PORTALS_PRINTED]:
        print(f"  portal {portal.alias}: {portal.base_url} (DocSpace {portal.version})", flush=True)
    if len(portals) > MAX_PORTALS_PRINTED:
        print(f"  ... and {len(portals) - MAX_PORTALS_PRINTED} more portals; see the manifest", flush=True)


async def run(simulator: Simulator, manifest_path: str | None) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)

    def announce() -> None:
        if manifest_path:
            simulator.write_manifest(manifest_path)
        print_summary(simulator)

    await simulator.serve_until(stop, on_ready=announce)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    https = args.https_port is not None
    simulator = Simulator(args.host, args.port, https=https, https_port=args.https_port or 0)
    try:
        add_portals(simulator, args)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    try:
        asyncio.run(run(simulator, args.manifest))
    except OSError as exc:
        print(f"error: cannot listen on {args.host}: {exc}", file=sys.stderr)
        return 1
    print("DocSpace simulator stopped", flush=True)
    return 0
