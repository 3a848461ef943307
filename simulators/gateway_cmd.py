"""``lanewarden sim gateway``: the payment gateway simulator in the foreground."""

from __future__ import annotations

import argparse
import sys

from plumbing.cli import Groups

DEFAULT_SECRET = "sim-secret"  # noqa: S105 - the simulator's well-known default, logged at start
DEFAULT_MERCHANT = "sim-merchant"


def register(groups: Groups) -> None:
    parser = groups.group("sim").add_parser(
        "gateway",
        help="QR payment gateway over HTTP (orders, callbacks, refunds)",
        description="A QR payment gateway speaking the lane's gateway protocol, with signed "
        "callbacks and fault injection. Prints its URL on the first line of stdout. "
        'Play the customer with: curl -X POST URL/_sim/pay -d \'{"order_id": "..."}\'. '
        "GET URL/ lists the routes; GET URL/_sim/state shows orders, refunds and callbacks.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: loopback)")
    parser.add_argument("--port", type=int, default=8090, help="port to bind (0: any free port)")
    parser.add_argument(
        "--secret", default=DEFAULT_SECRET, help=f"shared HMAC secret (default: {DEFAULT_SECRET})"
    )
    parser.add_argument(
        "--merchant-id", default=DEFAULT_MERCHANT, help=f"merchant id (default: {DEFAULT_MERCHANT})"
    )
    parser.add_argument(
        "--callback-url",
        default=None,
        help="the lane's callback URL, for orders created without notify_url",
    )
    parser.add_argument(
        "--auto-pay-ms",
        type=int,
        default=None,
        help="the customer pays every order this long after it is created",
    )
    faults = parser.add_argument_group("fault injection")
    faults.add_argument("--latency-ms", type=int, default=0, help="delay every API answer")
    faults.add_argument(
        "--decline-rate", type=float, default=0.0, help="share of payments declined (0-1)"
    )
    faults.add_argument(
        "--timeout-rate",
        type=float,
        default=0.0,
        help="share of API requests carried out but never answered (0-1)",
    )
    faults.add_argument(
        "--duplicate-callbacks", action="store_true", help="send every callback twice"
    )
    faults.add_argument(
        "--late-callback-s", type=float, default=0.0, help="delay every callback by this much"
    )
    faults.add_argument(
        "--forge-rate",
        type=float,
        default=0.0,
        help="share of payments followed by a forged callback (bad signature) (0-1)",
    )
    faults.add_argument("--seed", type=int, default=None, help="seed for repeatable faults")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from plumbing import log
    from simulators.gateway.faults import GatewayFaults
    from simulators.gateway.server import GatewayServer
    from simulators.running import announce, stop_on_signal

    logger = log.get("simulators.gateway")
    try:
        faults = GatewayFaults(
            latency_ms=args.latency_ms,
            decline_rate=args.decline_rate,
            timeout_rate=args.timeout_rate,
            forge_rate=args.forge_rate,
            duplicate_callbacks=args.duplicate_callbacks,
            late_callback_s=args.late_callback_s,
            auto_pay_ms=args.auto_pay_ms,
        )
        server = GatewayServer(
            secret=args.secret.encode(),
            merchant_id=args.merchant_id,
            faults=faults,
            callback_url=args.callback_url,
            seed=args.seed,
            host=args.host,
            port=args.port,
        )
    except ValueError as exc:
        print(f"lanewarden sim gateway: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(
            f"lanewarden sim gateway: cannot listen on {args.host}:{args.port}: {exc}",
            file=sys.stderr,
        )
        return 1
    with stop_on_signal() as stop:
        announce(("payment gateway (and its /_sim control routes)", server.url))
        server.start()
        if args.secret == DEFAULT_SECRET:
            logger.warning("gateway_sim_default_secret", secret=DEFAULT_SECRET)
        stop.wait()
        server.stop()
    return 0
