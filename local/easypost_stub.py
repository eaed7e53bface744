"""A local EasyPost-compatible API for the official SDK (``EasyPostClient(api_key, api_base=<stub>/v2)``).

It keeps shipments, labels, refunds and webhooks per API key, as EasyPost's API reference describes them
(docs.easypost.com/docs), and plays the test trackers: after a label is bought its tracker moves on
(``SimulatorConfig.delivery``: delivered, lost, returned_to_sender, failed_attempt, silent) and each change is
posted as a signed ``tracker.updated`` Event to every webhook of the account. Payload shapes follow the SDK's
own recorded examples (``tests/fixtures/easypost/``). Everything it received is kept for the tests.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import threading
import time
import unicodedata
import uuid
from datetime import UTC, datetime
from typing import Any

from local.callbacks import post_callback
from local.simulators import SimulatorConfig
from local.stub_api import StubApi, StubRequest

# Test rates per service (USD): base + per ounce, and the days each takes. Domestic and international differ,
# as EasyPost's rates come per carrier service (docs "Rate": carrier, service, rate, currency, delivery_days).
_DOMESTIC = (
    ("USPS", "GroundAdvantage", 5.25, 0.04, 5),
    ("USPS", "Priority", 7.42, 0.07, 2),
    ("USPS", "Express", 34.15, 0.1, 1),
)
_INTERNATIONAL = (
    ("USPS", "FirstClassPackageInternationalService", 16.5, 0.2, 10),
    ("DHLExpress", "ExpressWorldwideNonDoc", 48.9, 0.3, 3),
)
_ZIP_NOT_FOUND = "00001"  # EasyPost's own "incorrect" example address (examples/official/fixtures): not deliverable


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


def _error(status: int, code: str, message: str, errors: list[dict[str, Any]] | None = None) -> tuple[int, Any]:
    """EasyPost's error shape (docs "Errors"): ``{"error": {"code", "message", "errors": [{field, message}]}}``."""
    return status, {"error": {"code": code, "message": message, "errors": errors or []}}


def hmac_signature(body: bytes, secret: str) -> str:
    """``X-Hmac-Signature`` as EasyPost sends it and ``easypost.util.validate_webhook`` checks it."""
    key = unicodedata.normalize("NFKD", secret).encode()
    return "hmac-sha256-hex=" + hmac.new(key, body, hashlib.sha256).hexdigest()


class EasyPostStub:
    def __init__(self, config: SimulatorConfig | None = None, port: int = 0) -> None:
        self.config = config or SimulatorConfig()
        self.api = StubApi(port=port, name="easypost-stub")
        self.shipments: dict[str, dict[str, Any]] = {}
        self.owner: dict[str, str] = {}  # shipment id -> API key
        self.bought: list[str] = []  # shipment ids, once per purchase
        self.refunds: list[str] = []  # shipment ids, once per refund request accepted
        self.webhooks: dict[str, list[dict[str, Any]]] = {}  # API key -> webhooks
        self.events: list[dict[str, Any]] = []  # every event posted, with our API's answer
        self._lock = threading.Lock()
        self._install()

    @property
    def url(self) -> str:
        return self.api.url

    @property
    def api_base(self) -> str:
        return f"{self.api.url}/v2"

    def start(self) -> EasyPostStub:
        self.api.start()
        return self

    def stop(self) -> None:
        self.api.stop()

    def shipments_for(self, order_ref: str) -> list[dict[str, Any]]:
        """The shipments created for an order attempt (``reference`` ``<attempt ref>:p<n>``)."""
        with self._lock:
            return [s for s in self.shipments.values() if str(s.get("reference") or "").startswith(f"{order_ref}:p")]

    # ---- routes ------------------------------------------------------------------------------------
    def _install(self) -> None:
        api = self.api
        api.route("POST", r"/v2/shipments", self._authorized(self._create))
        api.route("GET", r"/v2/shipments/(?P<id>shp_\w+)", self._authorized(self._retrieve))
        api.route("POST", r"/v2/shipments/(?P<id>shp_\w+)/buy", self._authorized(self._buy))
        api.route("POST", r"/v2/shipments/(?P<id>shp_\w+)/refund", self._authorized(self._refund))
        api.route("POST", r"/v2/webhooks", self._authorized(self._create_webhook))
        api.route("GET", r"/v2/webhooks", self._authorized(self._list_webhooks))

    def _authorized(self, answer: Any) -> Any:
        """The SDK sends ``Authorization: Bearer <api key>``; without one EasyPost answers 401."""

        def route(request: StubRequest, match: re.Match[str]) -> tuple[int, Any]:
            key = (request.headers.get("authorization") or "").removeprefix("Bearer ").strip()
            if not key:
                return _error(401, "APIKEY.REQUIRED", "An API key is required.")
            return answer(key, request, match)  # type: ignore[no-any-return]

        return route

    def _create(self, key: str, request: StubRequest, _: re.Match[str]) -> tuple[int, Any]:
        """ "Create a Shipment": the shipment comes back with a rate per service (docs "Shipments")."""
        params = (request.json() or {}).get("shipment")
        if not params:
            return _error(
                422,
                "PARAMETER.REQUIRED",
                "Missing required parameter.",
                [{"field": "shipment", "message": "cannot be blank"}],
            )
        to, origin = params.get("to_address") or {}, params.get("from_address") or {}
        missing = [f"to_address.{f}" for f in ("street1", "city", "country") if not to.get(f)]
        missing += [f"from_address.{f}" for f in ("street1", "city", "country") if not origin.get(f)]
        if not (params.get("parcel") or {}).get("weight"):
            missing.append("parcel.weight")
        if missing:
            return _error(
                422,
                "PARAMETER.REQUIRED",
                "Missing required parameter.",
                [{"field": f, "message": "cannot be blank"} for f in missing],
            )
        if to.get("zip") == _ZIP_NOT_FOUND:  # the verification failure EasyPost records for that address
            return _error(
                422,
                "ADDRESS.VERIFY.FAILURE",
                "Unable to verify address.",
                [
                    {
                        "code": "E.ADDRESS.NOT_FOUND",
                        "field": "address",
                        "message": "Address not found",
                        "suggestion": None,
                    }
                ],
            )
        international = to.get("country") != origin.get("country")
        if international and not params.get("customs_info"):
            return _error(
                422,
                "PARAMETER.REQUIRED",
                "Missing required parameter.",
                [{"field": "customs_info", "message": "is required for international shipments"}],
            )
        shipment_id, now = _id("shp"), _now()
        ounces = float(params["parcel"]["weight"])
        rates = [
            {
                "id": _id("rate"),
                "object": "Rate",
                "mode": "test",
                "carrier": carrier,
                "service": service,
                "rate": f"{base + per_ounce * ounces:.2f}",
                "currency": "USD",
                "delivery_days": days,
                "est_delivery_days": days,
                "shipment_id": shipment_id,
                "carrier_account_id": f"ca_{carrier.lower()}",
                "created_at": now,
                "updated_at": now,
            }
            for carrier, service, base, per_ounce, days in (_INTERNATIONAL if international else _DOMESTIC)
            if not params.get("carrier_accounts") or f"ca_{carrier.lower()}" in params["carrier_accounts"]
        ]
        shipment = {
            "id": shipment_id,
            "object": "Shipment",
            "mode": "test",
            "created_at": now,
            "updated_at": now,
            "reference": params.get("reference"),
            "to_address": {"id": _id("adr"), "object": "Address", **to},
            "from_address": {"id": _id("adr"), "object": "Address", **origin},
            "parcel": {"id": _id("prcl"), "object": "Parcel", **params["parcel"]},
            "customs_info": {"id": _id("cstinfo"), "object": "CustomsInfo", **params["customs_info"]}
            if params.get("customs_info")
            else None,
            "options": {"currency": "USD", **(params.get("options") or {})},
            "rates": rates,
            "selected_rate": None,
            "postage_label": None,
            "tracking_code": None,
            "tracker": None,
            "refund_status": None,
            "status": "unknown",
            "messages": [],
            "is_return": False,
        }
        with self._lock:
            self.shipments[shipment_id], self.owner[shipment_id] = shipment, key
        return 201, shipment

    def _mine(self, key: str, shipment_id: str) -> dict[str, Any] | None:
        with self._lock:
            return self.shipments.get(shipment_id) if self.owner.get(shipment_id) == key else None

    def _retrieve(self, key: str, _: StubRequest, match: re.Match[str]) -> tuple[int, Any]:
        shipment = self._mine(key, match["id"])
        if shipment is None:
            return _error(404, "NOT_FOUND", "The requested resource could not be found.")
        return 200, shipment

    def _buy(self, key: str, request: StubRequest, match: re.Match[str]) -> tuple[int, Any]:
        """ "Buy a Shipment" (``rate: {id}``): the label, the tracking code, and the tracker EasyPost creates."""
        shipment = self._mine(key, match["id"])
        if shipment is None:
            return _error(404, "NOT_FOUND", "The requested resource could not be found.")
        rate_id = ((request.json() or {}).get("rate") or {}).get("id")
        with self._lock:
            if shipment["postage_label"] is not None:  # one label per shipment: a second purchase is refused
                return _error(422, "SHIPMENT.POSTAGE.EXISTS", "Postage already exists for this shipment.")
            rate = next((r for r in shipment["rates"] if r["id"] == rate_id), None)
            if rate is None:
                return _error(422, "SHIPMENT.RATE.INVALID", "The rate given is not one of this shipment's rates.")
            code = f"EZ{len(self.bought) + 1:04d}{uuid.uuid4().hex[:10].upper()}"
            tracker_id, label_format = _id("trk"), str(shipment["options"].get("label_format") or "PNG").lower()
            shipment |= {
                "selected_rate": rate,
                "tracking_code": code,
                "updated_at": _now(),
                "postage_label": {
                    "id": _id("pl"),
                    "object": "PostageLabel",
                    "label_file_type": f"application/{label_format}",
                    "label_size": shipment["options"].get("label_size") or "4x6",
                    "label_url": f"{self.url}/labels/{shipment['id']}.{label_format}",
                    "label_date": _now(),
                },
                "tracker": {
                    "id": tracker_id,
                    "object": "Tracker",
                    "mode": "test",
                    "tracking_code": code,
                    "status": "pre_transit",
                    "status_detail": "label_created",
                    "carrier": rate["carrier"],
                    "shipment_id": shipment["id"],
                    "public_url": f"https://track.easypost.com/{tracker_id}",
                    "tracking_details": [],
                    "created_at": _now(),
                    "updated_at": _now(),
                },
            }
            self.bought.append(shipment["id"])
        threading.Thread(target=self._play_tracker, args=(key, shipment["id"]), daemon=True).start()
        return 200, shipment

    def _refund(self, key: str, _: StubRequest, match: re.Match[str]) -> tuple[int, Any]:
        """ "Refund a Shipment": ``refund_status`` submitted; rejected once the carrier has scanned the parcel."""
        shipment = self._mine(key, match["id"])
        if shipment is None:
            return _error(404, "NOT_FOUND", "The requested resource could not be found.")
        with self._lock:
            if shipment["postage_label"] is None:
                return _error(422, "SHIPMENT.REFUND.NOT_PURCHASED", "A shipment must be purchased to be refunded.")
            if shipment["refund_status"] is None:
                scanned = shipment["tracker"]["status"] not in ("pre_transit", "unknown")
                shipment["refund_status"] = "rejected" if scanned else "submitted"
                self.refunds.append(shipment["id"])
        return 200, shipment

    def _create_webhook(self, key: str, request: StubRequest, _: re.Match[str]) -> tuple[int, Any]:
        """ "Create a Webhook" (``url``, ``webhook_secret``): events of the account go there, signed."""
        params = (request.json() or {}).get("webhook") or {}
        if not params.get("url"):
            return _error(
                422,
                "PARAMETER.REQUIRED",
                "Missing required parameter.",
                [{"field": "url", "message": "cannot be blank"}],
            )
        hook = {"id": _id("hook"), "object": "Webhook", "mode": "test", "url": params["url"], "disabled_at": None}
        with self._lock:
            self.webhooks.setdefault(key, []).append(hook | {"webhook_secret": params.get("webhook_secret") or ""})
        return 201, hook

    def _list_webhooks(self, key: str, _: StubRequest, __: re.Match[str]) -> tuple[int, Any]:
        with self._lock:
            hooks = [{k: v for k, v in hook.items() if k != "webhook_secret"} for hook in self.webhooks.get(key, [])]
        return 200, {"webhooks": hooks}

    # ---- test trackers -----------------------------------------------------------------------------------
    def _play_tracker(self, key: str, shipment_id: str) -> None:
        """The test tracker's story after purchase, by ``config.delivery``; a refunded label travels no further."""
        config = self.config
        self.advance_tracker(shipment_id, "pre_transit", "label_created", description="tracker.created")
        time.sleep(config.in_transit_after)
        steps: list[tuple[str, str]] = [("in_transit", "arrived_at_facility")]
        if config.delivery == "lost":
            steps.append(("failure", "lost"))
        elif config.delivery == "returned_to_sender":
            steps.append(("return_to_sender", "return"))
        elif config.delivery == "failed_attempt":
            steps += [("available_for_pickup", "arrived_at_pickup_location"), ("delivered", "arrived_at_destination")]
        elif config.delivery == "delivered":
            steps += [("out_for_delivery", "out_for_delivery"), ("delivered", "arrived_at_destination")]
        pause = max(0.0, config.delivered_after - config.in_transit_after) / max(1, len(steps) - 1)
        for index, (status, detail) in enumerate(steps):
            if index:
                time.sleep(pause)
            with self._lock:
                if self.shipments[shipment_id]["refund_status"] in ("submitted", "refunded"):
                    return
            self.advance_tracker(shipment_id, status, detail)

    def advance_tracker(
        self,
        shipment_id: str,
        status: str,
        detail: str,
        *,
        description: str = "tracker.updated",
        event_id: str | None = None,
    ) -> list[int]:
        """Move the shipment's tracker to ``status`` and post the Event to the account's webhooks; their answers."""
        with self._lock:
            shipment = self.shipments[shipment_id]
            tracker = shipment["tracker"]
            previous = tracker["status"]
            now = _now()
            tracker.update(status=status, status_detail=detail, updated_at=now)
            tracker["tracking_details"].append(
                {
                    "object": "TrackingDetail",
                    "status": status,
                    "status_detail": detail,
                    "datetime": now,
                    "message": detail.replace("_", " "),
                }
            )
            hooks = list(self.webhooks.get(self.owner[shipment_id], []))
            event = {
                "object": "Event",
                "id": event_id or _id("evt"),
                "description": description,
                "mode": "test",
                "status": "pending",
                "previous_attributes": {"status": previous},
                "created_at": now,
                "updated_at": now,
                "pending_urls": [hook["url"] for hook in hooks],
                "completed_urls": [],
                "result": json.loads(json.dumps(tracker)),
            }
        return [self.post_event(hook["url"], event, hook["webhook_secret"]) for hook in hooks]

    def post_event(self, url: str, event: dict[str, Any], secret: str) -> int:
        """POST one Event signed as EasyPost signs it, retried on timeouts, connection errors, 429 and 5xx as
        EasyPost retries an event not answered 2xx (docs "Webhooks"), through the simulators' one callback helper."""
        body = json.dumps(event, separators=(",", ":")).encode()
        retries: list[float] = []

        def pause(seconds: float) -> None:  # counted: how often and how long an event had to be retried
            retries.append(seconds)
            time.sleep(seconds)

        posted = time.time()
        code = post_callback(
            url, body, lambda signed: {"X-Hmac-Signature": hmac_signature(signed, secret)}, sleep=pause
        )
        with self._lock:
            self.events.append(
                {"event": event, "answer": code, "posted": posted, "answered": time.time(), "retries": len(retries)}
            )
        return code
