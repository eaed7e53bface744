"""Generated requests through the real HTTP Lambda handlers: never a 5xx, and nothing done for the unverified.

Every platform's intake route (``POST /webhooks/{platform}/{storeId}``) and every partner route (carrier
tracking, the warehouse's inspections and returns) takes ``REQUESTS_PER_ROUTE`` requests as API Gateway v2
events, through ``functions/<name>/app.py``'s ``lambda_handler`` with the in-memory fakes (which refuse what
DynamoDB and Step Functions would refuse, as a 500 would be there). About half are unsigned or forged:
random bytes, recorded deliveries bent out of shape, bodies nested 100,000 deep, ``NaN``, ``1e400``, 5,000-digit
integers, 3,000-character ids, wrong types, odd headers and content types. Those must be answered with a
4xx (or a registration ping's 200) and leave every fake as it was. The other half are signed with the
store's (or partner's) secret as the platform signs, so the same shapes reach the parsers and the use
cases behind verification: they may be accepted or refused, never answered with a 5xx.

A seeded generator, not hypothesis: tens of thousands of requests in seconds, the same ones every run.
A failure names the route, the request's number and its start; the generator is seeded by the route's
name, so every run makes the same requests (``FUZZ_N`` sets how many a route takes, for a quick look).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import random
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from fulfillment.adapters.http_client import HttpClient, HttpResponse
from fulfillment.adapters.platforms.bigcommerce import bigcommerce_signature
from fulfillment.adapters.platforms.ecwid import ecwid_signature
from fulfillment.adapters.platforms.opencart import opencart_signature
from fulfillment.adapters.platforms.registry import Projection, build_platforms, platform_names, platform_spec
from fulfillment.adapters.platforms.shopify import shopify_signature
from fulfillment.adapters.platforms.woocommerce import woocommerce_signature
from fulfillment.bootstrap import Container
from fulfillment.errors import PlatformRejected
from fulfillment.intake.partners import partner_signature
from fulfillment.model import OrderStatus
from fulfillment.model.store import Store
from fulfillment.returns.authorize import authorize_return
from fulfillment.returns.request import ReturnLineRequest, ReturnRequest, request_return
from fulfillment.returns.waits import park_return_wait
from fulfillment.settings import Settings
from local.easypost_stub import hmac_signature
from local.lambdas import LambdaContext
from local.platforms import EVENTS, demo_stores, sample_headers
from local.runtime import http_api_event
from local.template import Route
from tests.fakes import (
    FakeSecretStore,
    FulfillmentWorld,
    InMemoryDeliveryArchive,
    InMemoryDeliveryLog,
    InMemoryStoreRegistry,
    RecordingFetchQueue,
    RecordingStartQueue,
)
from tests.unit.properties.headers import SIGNATURE_HEADERS

REQUESTS_PER_ROUTE = int(os.environ.get("FUZZ_N", "10000"))  # 10,000 per route in make test; FUZZ_N for a quick look
SECRET = "fuzz-secret"  # not the samples' "test-secret": a recorded HMAC signature never verifies here
ADOBE_CLIENT_ID = "4f2d9c0b8e1a47c6b3d5e7f9a1c2b3d4"  # the recorded Adobe I/O deliveries' recipient
KEY_HOST = "https://keys.fuzz.example"
WAREHOUSE = "main"


# --- the world the handlers run in -----------------------------------------------------------------
class KeyHost(HttpClient):
    """Adobe's key host, offline: the recorded deliveries' public keys, 404 for any other path."""

    def request(self, method: str, url: str, **_: Any) -> HttpResponse:
        name = url.rsplit("/", 1)[-1]
        if url.startswith(KEY_HOST) and name in {"pub-key1.pem", "pub-key2.pem"}:
            return HttpResponse(200, {}, (EVENTS / "magento" / "test-keys" / f"adobe-io-{name}").read_bytes())
        raise PlatformRejected(f"GET {url}: 404", 404)


@dataclass
class World:
    """A Container whose every port is an in-memory fake, with some orders and a return waiting on partners."""

    fakes: FulfillmentWorld = field(default_factory=FulfillmentWorld)
    deliveries: InMemoryDeliveryLog = field(default_factory=InMemoryDeliveryLog)
    archive: InMemoryDeliveryArchive = field(default_factory=InMemoryDeliveryArchive)
    fetches: RecordingFetchQueue = field(default_factory=RecordingFetchQueue)
    starts: RecordingStartQueue = field(default_factory=RecordingStartQueue)
    deps: Container = field(init=False)
    shipment_ids: list[str] = field(default_factory=list)
    inspection_keys: list[str] = field(default_factory=list)
    returns: list[tuple[str, str]] = field(default_factory=list)  # (return key, RMA)

    def __post_init__(self) -> None:
        settings = Settings(table_name="FuzzTable", warehouse_name=WAREHOUSE)
        secrets = {settings.warehouse_secret_ref(WAREHOUSE): SECRET}
        stores = []
        for name, entry in demo_stores().items():
            identity_key = platform_spec(name).identity_key
            ref = f"/fulfillment/dev/stores/{entry['store_id']}/webhook-secret"
            store = Store(
                store_id=entry["store_id"],
                platform=name,
                secret_ref=ref,
                site_url=entry.get("site_url"),
                platform_store_id=None if identity_key == "site_url" else entry.get(identity_key),
                options=entry.get("options", {}),
            )
            extra = {"adobe_key_base_url": KEY_HOST, "adobe_client_id": ADOBE_CLIENT_ID} if name == "magento" else {}
            easypost = {"api_key": f"EZTK{name}", "webhook_secret": SECRET}
            secrets[ref] = json.dumps({"webhook_secret": SECRET, "extra": extra, "easypost": easypost})
            stores.append(store)
        adapters = build_platforms(KeyHost(timeout=0.2, attempts=1))
        deps = Container(settings)
        fakes = self.fakes
        deps.__dict__.update(  # the Container's cached properties, filled in with fakes
            platform_adapters=adapters,
            platforms=Projection(adapters, lambda found: found.inbound),
            stores=InMemoryStoreRegistry(*stores),
            secrets=FakeSecretStore(secrets),
            orders=fakes.orders,
            returns=fakes.returns,
            workflow=fakes.workflow,
            notifier=fakes.notifier,
            carrier=fakes.carrier,
            warehouse=fakes.warehouse,
            inventory=fakes.inventory,
            payments=fakes.payments,
            packer=fakes.packer,
            deliveries=self.deliveries,
            archive=self.archive,
            fetches=self.fetches,
            starts=self.starts,
        )
        self.deps = deps
        self._seed_waits()

    def _seed_waits(self) -> None:
        fakes = self.fakes
        for number in range(4):
            key = fakes.order_at(OrderStatus.SHIPPED, token=f"tok-delivery-{number}", external_id=f"90{number}")
            self.shipment_ids.extend(package.shipment_id or "" for package in fakes.stored(key).packages)
            self.inspection_keys.append(
                fakes.order_at(OrderStatus.RESERVED, token=f"tok-inspect-{number}", external_id=f"80{number}")
            )
            completed = fakes.order_at(OrderStatus.COMPLETED, external_id=f"70{number}")
            request = ReturnRequest(
                order_key=completed, lines=[ReturnLineRequest(line_id="301", quantity=1)], reason="defective"
            )
            opened = request_return(request, fakes)
            authorize_return(opened.key, fakes)
            park_return_wait(opened.key, f"tok-goods-{number}", "goods", fakes)
            ret = fakes.returns.get(opened.key)
            assert ret is not None and ret.rma
            self.returns.append((ret.key, ret.rma))

    def fingerprint(self) -> tuple[int, ...]:
        """Everything a request could have done: any change means it was acted on."""
        fakes = self.fakes
        workflow = fakes.workflow
        return (
            fakes.orders.writes,
            len(fakes.returns),
            workflow.start_calls,
            len(workflow.resumed),
            len(workflow.failed),
            len(workflow.heartbeats),
            len(fakes.notifier.requests),
            len(fakes.warehouse.requests),
            len(fakes.warehouse.rmas),
            len(self.deliveries.seen),
            len(self.archive.kept),
            len(self.fetches.requests),
        )


# --- what goes into the requests -------------------------------------------------------------------
class Raw(bytes):
    """JSON text put into a body as is: what ``json.dumps`` would never write (NaN, 1e400, a deep nest)."""


def _nest(rng: random.Random) -> Raw:
    depth = rng.choice([65, 100, 250, 1_000, 5_000, 100_000])
    opener, closer = rng.choice([(b"[", b"]"), (b'{"a":', b"}"), (b'[{"a":', b"}]")])
    return Raw(opener * depth + (b"1" if opener.endswith(b":") else b"") + closer * depth)


SPECIAL_NUMBERS = [
    b"NaN",
    b"Infinity",
    b"-Infinity",
    b"1e400",
    b"-1e400",
    b"1e-400",
    b"1" + b"0" * 40,
    b"-1" + b"0" * 40,
    b"9" * 5_000,
    b"-0",
    b"0.1e999999999",
    b"123456789012345678901234567890.5",
    b"1E+9999999",
]
WEIRD_STRINGS = [
    "",
    " ",
    "9" * 3_000,
    "x" * 3_000,
    "ü" * 1_000,
    "\U0001f600" * 600,
    "\x00",
    "\ud800",
    "1e400",
    "NaN",
    "Infinity",
    "-1",
    "9" * 50,
    "\u00b2",
    "\u0661\u0662\u0663",
    "../../etc/passwd",
    "null",
    "0x10",
    "1_000",
    " 12 ",
    "12.50",
    "sNaN",
    "2025-13-45T99:99:99",
    "1749021160",
    "PAID",
    "processing",
    "kaffeekontor:4711",
]
WEIRD_VALUES: list[Any] = [None, True, False, 0, -1, 1, 2**31, 2**63, 10**40, -(10**40), 0.1, 1e308, -1e-300, [], {}]


def weird_value(rng: random.Random) -> Any:
    roll = rng.random()
    if roll < 0.3:
        return rng.choice(WEIRD_STRINGS)
    if roll < 0.55:
        return Raw(rng.choice(SPECIAL_NUMBERS))
    if roll < 0.7:
        return _nest(rng)
    if roll < 0.8:
        return random_json(rng, 3)
    if roll < 0.85:
        return "".join(chr(rng.randrange(1, 0x3000)) for _ in range(rng.randrange(1, 40)))
    return rng.choice(WEIRD_VALUES)


def random_json(rng: random.Random, depth: int) -> Any:
    roll = rng.random()
    if depth <= 0 or roll < 0.4:
        return rng.choice([*WEIRD_VALUES[:12], *WEIRD_STRINGS[:6], "a", "order.updated"])
    if roll < 0.7:
        return [random_json(rng, depth - 1) for _ in range(rng.randrange(4))]
    keys = ["id", "data", "order", "eventId", "eventCreated", "status", "line_items", "items", "quantity", "value"]
    return {rng.choice(keys): random_json(rng, depth - 1) for _ in range(rng.randrange(5))}


def dump(value: Any) -> bytes:
    """JSON text, with ``Raw`` pieces as they are (json.dumps writes a placeholder for each, then it is swapped)."""
    raws: dict[bytes, int] = {}  # one placeholder per piece, however often a multiplied list repeats it

    def placeholder(piece: object) -> str:
        if not isinstance(piece, Raw):
            raise TypeError(f"{type(piece).__name__} is not JSON")
        return f"\x00raw{raws.setdefault(bytes(piece), len(raws))}\x00"

    text = json.dumps(value, default=placeholder, separators=(",", ":")).encode()
    for raw, number in raws.items():
        text = text.replace(f'"\\u0000raw{number}\\u0000"'.encode(), raw)
    return text


def _slots(document: Any) -> list[tuple[Any, Any]] | None:
    """Every (container, key or index) of a parsed document; None if it nests too deep for ``dump``."""
    found: list[tuple[Any, Any]] = []
    queue = [(document, 0)]
    while queue:
        node, depth = queue.pop()
        if depth > 40:
            return None
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for key, child in items:
            found.append((node, key))
            if isinstance(child, dict | list):
                queue.append((child, depth + 1))
    return found


def _damaged(rng: random.Random, body: bytes) -> bytes:
    data = bytearray(body)
    for _ in range(rng.randrange(1, 6)):
        if data:
            data[rng.randrange(len(data))] = rng.randrange(256)
    return bytes(data)


def mutate(rng: random.Random, body: bytes) -> bytes:
    """A recorded body bent out of shape: a few values changed, dropped or multiplied, or its bytes damaged."""
    roll = rng.random()
    if roll < 0.18:  # damaged bytes, or cut short
        return _damaged(rng, body) if roll < 0.12 else body[: rng.randrange(len(body) + 1)]
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        return body[::-1]
    slots = _slots(document)
    if slots is None:
        return body[::-1]
    if not slots:
        return dump(weird_value(rng))
    for _ in range(rng.randrange(1, 5)):
        container, key = rng.choice(slots)
        action = rng.random()
        if action < 0.75:
            container[key] = weird_value(rng)
        elif action < 0.85 and isinstance(container, dict):
            container.pop(key, None)
        elif action < 0.95 and isinstance(container[key], list) and container[key]:
            container[key] = container[key] * rng.choice([2, 50, 3_000])  # many lines, up to a megabyte and over
            break  # once: lists of multiplied lists would be gigabytes
        else:
            container[key] = str(container[key])[:1_000] * rng.choice([2, 100])
            break
        slots = _slots(document)
        if not slots:
            break
    return dump(document)


def weird_body(rng: random.Random) -> bytes:
    roll = rng.random()
    if roll < 0.25:
        return rng.randbytes(rng.randrange(0, 300))
    if roll < 0.5:
        return dump(_nest(rng))
    if roll < 0.75:
        return dump(random_json(rng, 4))
    if roll < 0.85:
        return b'{"eventCreated":' + rng.choice(SPECIAL_NUMBERS) + b',"eventId":"e-1"}'
    return rng.choice([b"", b"{}", b"[]", b"null", b"webhook_id=1", b"\xff\xfe", b'{"data":{}}', b"x" * 1_100_000])


HEADER_VALUES = [
    "",
    "v1,AAAA",
    "sha256=00",
    "1750000000",
    "\u00b2" * 10,
    "\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668\u0669\u0660",
    "9" * 5_000,
    "-99999999999999",
    "/prod/keys/pub-key1.pem",
    "/../../x.pem",
    "order.updated",
    "orders/paid",
    "refunds/create",
    "store/order/statusUpdated",
    "x" * 3_000,
]
CONTENT_TYPES = ["application/json", "application/json; charset=UTF-8", "APPLICATION/JSON", "text/plain", "", "a/b"]


def mangle_headers(rng: random.Random, headers: dict[str, str], *, keep_signature: bool = False) -> dict[str, str]:
    headers = dict(headers)
    for _ in range(rng.randrange(0, 4)):
        name = rng.choice(SIGNATURE_HEADERS)
        if keep_signature and name in headers:
            continue
        roll = rng.random()
        if roll < 0.3:
            headers.pop(name, None)
        elif roll < 0.8:
            headers[name] = rng.choice(HEADER_VALUES)
        else:
            headers[name] = "".join(chr(rng.randrange(32, 0x800)) for _ in range(rng.randrange(1, 30)))
    if rng.random() < 0.1:
        headers["content-type"] = rng.choice(CONTENT_TYPES)
    return headers


# --- signing as each platform (and partner) signs ------------------------------------------------
def _now() -> str:
    return str(int(time.time()))


def sign_store(platform: str, body: bytes, headers: dict[str, str], rng: random.Random) -> tuple[bytes, dict]:
    """``body`` signed with the store's secret as ``platform`` signs (Ecwid: its envelope, re-stamped)."""
    headers = {name.lower(): value for name, value in headers.items()}
    if platform == "woocommerce":
        headers["x-wc-webhook-signature"] = woocommerce_signature(SECRET, body)
    elif platform == "bigcommerce":
        webhook_id = headers.get("webhook-id") or str(uuid.uuid4())
        stamp = _now()
        headers |= {"webhook-id": webhook_id, "webhook-timestamp": stamp}
        headers["webhook-signature"] = "v1," + bigcommerce_signature(SECRET, webhook_id, stamp, body)
    elif platform == "ecwid":
        try:
            envelope = json.loads(body)
        except (ValueError, RecursionError):
            envelope = None
        event_id = rng.choice([str(uuid.uuid4()), "x" * 3_000, "e", "\U0001f600" * 300])
        stamp = _now()
        if isinstance(envelope, dict) and _slots(envelope) is not None:
            envelope |= {"eventCreated": int(stamp), "eventId": event_id}
            body = dump(envelope)
        else:  # the signed fields in front, whatever follows (Ecwid signs only these two)
            body = f'{{"eventCreated":{stamp},"eventId":{json.dumps(event_id)},"data":'.encode() + body + b"}"
        headers["x-ecwid-webhook-signature"] = ecwid_signature(SECRET, stamp, event_id)
    elif platform == "magento":
        for name in ("x-adobe-digital-signature-1", "x-adobe-digital-signature-2"):
            headers.pop(name, None)
        headers["x-magento-signature"] = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    elif platform == "opencart":
        stamp = _now()
        headers["x-oc-webhook-timestamp"] = stamp
        headers["x-oc-webhook-signature"] = opencart_signature(SECRET, stamp, body)
    elif platform == "shopify":
        headers["x-shopify-hmac-sha256"] = shopify_signature(SECRET, body)
    else:
        raise AssertionError(f"no signer for {platform}: add one for the new platform")
    return body, headers


def sign_partner(partner: str, body: bytes, headers: dict[str, str], rng: random.Random) -> tuple[bytes, dict]:
    stamp = _now()
    signature = partner_signature(SECRET, body, stamp)
    prefix = rng.choice(["sha256=", ""])
    return body, headers | {f"x-{partner}-timestamp": stamp, f"x-{partner}-signature": prefix + signature}


# --- the routes ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FuzzRoute:
    name: str
    route: Route
    function: str  # functions/<function>/app.py
    path: str
    params: dict[str, str]
    samples: tuple[tuple[bytes, dict[str, str]], ...]
    sign: Callable[[bytes, dict[str, str], random.Random], tuple[bytes, dict]]
    partner_bodies: Callable[[World, random.Random], bytes] | None = None


def _platform_samples(platform: str) -> tuple[tuple[bytes, dict[str, str]], ...]:
    samples = []
    for path in sorted((EVENTS / platform).glob("*.json")):
        if path.name.endswith(".headers.json") or path.name.startswith("rest_"):
            continue
        headers = {name.lower(): value for name, value in sample_headers(path).items()}
        headers.setdefault("content-type", "application/json")
        samples.append((path.read_bytes(), headers))
    ping = EVENTS / platform / "ping.txt"
    if ping.exists():
        samples.append((ping.read_bytes(), {"content-type": "application/x-www-form-urlencoded"}))
    return tuple(samples)


def _tracking_body(world: World, rng: random.Random) -> bytes:
    """An EasyPost Event (tests/fixtures/easypost/event-body.json's shape), mostly about our shipments; each field
    is sometimes out of shape (too long, the wrong type, a status EasyPost does not have)."""

    def pick(good: list[Any], bad: list[Any]) -> Any:
        return rng.choice(good) if rng.random() < 0.85 else rng.choice(bad)

    tracker = {
        "id": pick(["trk_1"], ["t" * 3_000, 5]),
        "object": "Tracker",
        "shipment_id": pick([*world.shipment_ids, "shp_nope"], [None, "s" * 3_000, 7]),
        "tracking_code": pick(["EZ1000000001", None], ["9" * 3_000]),
        "status": pick(["in_transit", "out_for_delivery", "delivered", "failure", "return_to_sender"], ["lost", 3]),
        "status_detail": pick(["arrived_at_facility", "lost", None], ["d" * 3_000]),
        "updated_at": pick(["2025-06-06T10:00:00Z", None], ["yesterday", "2025-06-06T25:00:00Z"]),
    }
    event = {
        "object": "Event",
        "id": pick([f"evt_{uuid.uuid4().hex}", "evt_1"], ["x" * 3_000]),
        "description": pick(["tracker.updated", "tracker.created"], ["batch.created", 5]),
        "result": pick([tracker], [None, [], "nope"]),
    }
    return dump(event)


def sign_easypost(body: bytes, headers: dict[str, str], rng: random.Random) -> tuple[bytes, dict]:
    return body, headers | {"x-hmac-signature": hmac_signature(body, SECRET)}


def _inspection_body(world: World, rng: random.Random) -> bytes:
    report = {
        "order_key": rng.choice([*world.inspection_keys, "kaffeekontor:nope", "k" * 3_000, "no-colon"]),
        "attempt": rng.choice([1, 2, 3, 4, 0, -1, 10**40, 1001]),
        "result": rng.choice(["passed", "failed", "maybe"]),
        "inspector": rng.choice(["", "ana", "i" * 3_000]),
        "notes": rng.choice(["", "chipped", "n" * 5_000]),
    }
    return dump(report)


def _return_body(world: World, rng: random.Random) -> bytes:
    return_key, rma = rng.choice(world.returns)
    report = {
        "return_key": rng.choice([return_key, return_key, f"{return_key}9", "k:o:R0", "r" * 3_000, "kaffeekontor:1"]),
        "rma": rng.choice([rma, rma, "RMA-x", "m" * 3_000]),
        "event": rng.choice(["received", "inspected", "lost"]),
        "lines": rng.choice(
            [[], [{"line_id": "301", "result": "passed"}], [{"line_id": "9" * 3_000, "result": "failed"}]]
        ),
        "inspector": rng.choice(["", "ana"]),
    }
    return dump(report)


def _routes() -> list[FuzzRoute]:
    routes = []
    intake = Route("POST", "/webhooks/{platform}/{storeId}", "IntakeWebhookFunction")
    stores = demo_stores()
    for platform in platform_names():
        store_id = str(stores[platform]["store_id"])
        routes.append(
            FuzzRoute(
                name=platform,
                route=intake,
                function="intake_webhook",
                path=f"/webhooks/{platform}/{store_id}",
                params={"platform": platform, "storeId": store_id},
                samples=_platform_samples(platform),
                sign=lambda body, headers, rng, platform=platform: sign_store(platform, body, headers, rng),
            )
        )
    for name, route, function, path, params, partner, bodies in [
        (
            "warehouse-inspections",
            Route("POST", "/warehouses/{warehouse}/inspections", "WarehouseCallbackFunction"),
            "warehouse_callback",
            f"/warehouses/{WAREHOUSE}/inspections",
            {"warehouse": WAREHOUSE},
            "warehouse",
            _inspection_body,
        ),
        (
            "warehouse-returns",
            Route("POST", "/warehouses/{warehouse}/returns", "WarehouseCallbackFunction"),
            "warehouse_callback",
            f"/warehouses/{WAREHOUSE}/returns",
            {"warehouse": WAREHOUSE},
            "warehouse",
            _return_body,
        ),
    ]:
        routes.append(
            FuzzRoute(
                name=name,
                route=route,
                function=function,
                path=path,
                params=params,
                samples=(),
                sign=lambda body, headers, rng, partner=partner: sign_partner(partner, body, headers, rng),
                partner_bodies=bodies,
            )
        )
    routes.append(
        FuzzRoute(
            name="carrier-tracking",
            route=Route("POST", "/carriers/easypost/tracking", "CarrierTrackingFunction"),
            function="carrier_tracking",
            path="/carriers/easypost/tracking",
            params={},
            samples=(),
            sign=sign_easypost,
            partner_bodies=_tracking_body,
        )
    )
    return routes


ROUTES = {route.name: route for route in _routes()}
PLATFORMS = frozenset(platform_names())


@dataclass(frozen=True)
class FuzzRequest:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    signed: bool


def _request(route: FuzzRoute, world: World, rng: random.Random) -> FuzzRequest:
    """One generated request for ``route``: signed about half the time."""
    signed = rng.random() < 0.5
    if route.partner_bodies is not None:
        body = route.partner_bodies(world, rng) if rng.random() < 0.6 else weird_body(rng)
        if rng.random() < 0.5:
            body = mutate(rng, body) if body[:1] in (b"{", b"[") and len(body) < 200_000 else body
        headers = {"content-type": "application/json"}
    else:
        sample_body, sample_headers = rng.choice(route.samples)
        roll = rng.random()
        if roll < 0.6 and sample_body[:1] == b"{":
            body = mutate(rng, sample_body)
        elif roll < 0.75:
            body = sample_body  # as recorded: a signed one is a real delivery, an unsigned one a forgery
        else:
            body = weird_body(rng)
        headers = dict(sample_headers)
    if signed:
        body, headers = route.sign(body, headers, rng)
        if rng.random() < 0.2:
            headers = mangle_headers(rng, headers, keep_signature=True)
    else:
        headers = mangle_headers(rng, headers)
        if route.name == "magento" and body in {sample for sample, _ in route.samples}:
            body += b" "  # a recorded Adobe I/O delivery verifies with its RSA signature: forge it
    method, query, path = "POST", "", route.path
    roll = rng.random()
    if roll < 0.05:
        method, query = "GET", rng.choice(["challenge=abc", "", "challenge=" + "c" * 3_000, "challenge="])
    elif roll < 0.08:
        path = route.path.rsplit("/", 1)[0] + "/" + rng.choice(["nope", "x" * 3_000, "%00", "UPPER", "kaffee_kontor"])
    return FuzzRequest(method, path, query, headers, body, signed and path == route.path and method == "POST")


def _invoke(route: FuzzRoute, request: FuzzRequest, world: World) -> dict[str, Any]:
    module = __import__(f"functions.{route.function}.app", fromlist=["lambda_handler"])
    params = dict(route.params)
    if request.path != route.path:
        last = route.route.path.rsplit("/", 1)[-1].strip("{}")
        params[last] = request.path.rsplit("/", 1)[-1]  # a store id (intake) or an action (partners) not routed
    event = http_api_event(
        route.route, request.method, request.path, request.query, request.headers, request.body, params, "203.0.113.9"
    )
    context = LambdaContext(
        route.route.function, 256, f"arn:aws:lambda:us-east-1:123456789012:function:{route.function}", "fuzz", 1e12
    )
    response: dict[str, Any] = module.lambda_handler(event, context, deps=world.deps)
    return response


def _describe(index: int, request: FuzzRequest, outcome: str) -> str:
    kind = "signed" if request.signed else "unsigned"
    return f"request {index} ({kind} {request.method} {request.path[:60]}): {outcome}; body {request.body[:160]!r}"


def _body_of(response: dict[str, Any]) -> Any:
    raw = response.get("body") or ""
    return json.loads(base64.b64decode(raw) if response.get("isBase64Encoded") else raw)


@pytest.mark.parametrize("route_name", list(ROUTES))
def test_no_request_is_answered_with_a_5xx_and_the_unverified_change_nothing(route_name: str) -> None:
    route = ROUTES[route_name]
    world = World()
    rng = random.Random(f"fuzz-{route_name}")  # the same requests every run
    failures: list[str] = []
    answered: dict[int, int] = {}
    started = time.perf_counter()
    for index in range(REQUESTS_PER_ROUTE):
        request = _request(route, world, rng)
        before = world.fingerprint()
        try:
            response = _invoke(route, request, world)
        except Exception as error:  # a 500 in Lambda
            failures.append(_describe(index, request, "".join(traceback.format_exception_only(error)).strip()[:400]))
            continue
        status = response["statusCode"]
        answered[status] = answered.get(status, 0) + 1
        if status >= 500:
            failures.append(_describe(index, request, f"{status} {response.get('body', '')[:300]}"))
            continue
        if status >= 400 and request.path == route.path and (request.method == "POST" or route.name in PLATFORMS):
            refusal = _body_of(response)
            if not (isinstance(refusal, dict) and refusal.get("error") and refusal.get("message")):
                failures.append(_describe(index, request, f"{status} without a JSON reason: {refusal!r:.200}"))
        if not request.signed and world.fingerprint() != before:
            changed = f"{before} → {world.fingerprint()}"
            failures.append(_describe(index, request, f"unverified but acted on ({status}): {changed}"))
    elapsed = time.perf_counter() - started
    print(f"{route_name}: {REQUESTS_PER_ROUTE} requests in {elapsed:.1f} s, answers {dict(sorted(answered.items()))}")
    assert not failures, f"{len(failures)} of {REQUESTS_PER_ROUTE} failed; first ones:\n" + "\n".join(failures[:12])
    assert sum(count for status, count in answered.items() if 200 <= status < 300) > 0, "nothing was ever accepted"
