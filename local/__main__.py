"""python -m local serve | demo — the Docker-free local runtime."""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import socket
import sys
import threading
from dataclasses import replace

from local.platforms import demo_store, platform_names
from local.runtime import LocalRuntime, RuntimeConfig
from local.simulators import SimulatorConfig


def _free(port: int) -> int:
    """The port if it is free, else any free one (so `make demo` works while `make local` runs)."""
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _verdicts(value: str) -> dict[str, str]:
    """``MUG-CC-BLU=failed,TORCH-CB-01=damaged`` → {sku: verdict}."""
    verdicts = {}
    for pair in filter(None, (part.strip() for part in value.split(","))):
        sku, _, verdict = pair.partition("=")
        if verdict not in ("passed", "failed", "damaged"):
            raise SystemExit(f"--return-inspection {pair!r}: expected SKU=passed|failed|damaged")
        verdicts[sku] = verdict
    return verdicts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    for name, text in (
        ("serve", "serve the HTTP API and AWS endpoint until interrupted"),
        ("demo", "run one WooCommerce order through to Completed and print it"),
    ):
        command = commands.add_parser(name, help=text)
        command.add_argument("--http-port", type=int, default=3000)
        command.add_argument("--aws-port", type=int, default=4566)
        command.add_argument(
            "--delivery",
            choices=["delivered", "silent", "lost", "returned_to_sender", "failed_attempt"],
            default="delivered",
            help="what the EasyPost test trackers report after the labels are bought",
        )
        command.add_argument("--delivered-after", type=float, default=1.5, help="seconds from label to delivery")
        command.add_argument(
            "--inspection", default="passed", help="the warehouse's results in attempt order, e.g. failed,passed"
        )
        command.add_argument(
            "--return-goods",
            choices=["arrive", "never"],
            default="arrive",
            help="whether returned goods reach the warehouse (never: the RMA lapses after 14 days)",
        )
        command.add_argument(
            "--return-inspection",
            default="",
            metavar="SKU=VERDICT,…",
            help="the warehouse's verdict on returned units by SKU: passed, failed or damaged (default passed)",
        )
    send = commands.add_parser(
        "send", help="send a platform's signed 'order paid' sample (every platform's, without one) to `make local`"
    )
    send.add_argument("platform", nargs="?", choices=platform_names(), help="default: every platform, in turn")
    send.add_argument("--api-url", default="http://127.0.0.1:3000")
    send.add_argument("--store-id", help="defaults to the platform's demo store in local/stores.json")
    send.add_argument("--secret", default="test-secret", help="the store's webhook secret (demo stores: test-secret)")
    args = parser.parse_args(argv)
    if args.command == "send":
        if args.store_id and not args.platform:
            parser.error("--store-id names one store: give its platform too")
        platforms = [args.platform] if args.platform else platform_names()
        failed = [
            platform
            for platform in platforms
            if send_sample(platform, args.api_url, args.store_id or demo_store(platform), args.secret)
        ]
        return 1 if failed else 0
    exact = args.command == "serve"  # serve promises its ports; the demo takes free ones
    pick = (lambda port: port) if exact else _free
    config = RuntimeConfig(
        http_port=pick(args.http_port),
        aws_port=pick(args.aws_port),
        carrier_port=pick(3101),
        payment_port=pick(3103),
        warehouse_port=pick(3102),
        simulators=replace(
            SimulatorConfig(),
            delivery=args.delivery,
            delivered_after=args.delivered_after,
            inspections=args.inspection.split(","),
            return_goods=args.return_goods,
            return_inspection=_verdicts(args.return_inspection),
        ),
    )
    runtime = LocalRuntime(config).start()
    try:
        if args.command == "demo":
            from local.demo import run_demo

            return 0 if run_demo(runtime) == "COMPLETED" else 1
        print(f"HTTP API      {runtime.api_url}   (POST /webhooks/<platform>/<storeId>)")
        print(f"Console       {runtime.api_url}/_console   (orders, timelines, executions; read-only)")
        print(f"AWS endpoint  {runtime.aws_endpoint}   (aws --endpoint-url {runtime.aws_endpoint} ...)")
        print(f"State machine {runtime.state_machine_arn}")
        print("Stores        " + ", ".join(f"{s}" for s in _store_ids()))
        print("Ctrl-C to stop.", flush=True)
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait()
        return 0
    finally:
        runtime.stop()


def send_sample(platform: str, api_url: str, store_id: str, secret: str) -> int:
    from local.client import post
    from local.deliveries import paid_delivery

    delivery = paid_delivery(platform, secret)
    answer = post(f"{api_url}/webhooks/{platform}/{store_id}", delivery.body, delivery.headers)
    print(platform, answer.status, json.dumps(answer.body))
    return 0 if answer.status < 300 else 1


def _store_ids() -> list[str]:
    from local.platforms import STORES_FILE

    return [f"{entry['platform']}/{entry['store_id']}" for entry in json.loads(STORES_FILE.read_text())]


if __name__ == "__main__":
    sys.exit(main())
