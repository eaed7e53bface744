"""LocalRuntime: template.yaml on moto, with Lambda tasks and HTTP API routes run in-process.

- moto's server on ``aws_port`` (an AWS-compatible endpoint: the AWS CLI works with --endpoint-url),
  with its Step Functions interpreter switched on;
- every ``lambda:Invoke`` the interpreter makes is answered in-process by a botocore
  ``before-call`` hook, before any request leaves, so no Docker is needed;
- the HttpApi routes on ``http_port`` as real API Gateway payload-v2 events;
- tables, parameters, the state machine (substitutions resolved, durations scaled) made from the template;
- a local EasyPost-compatible API (the official SDK pointed at it) and the warehouse simulator, which call the
  public routes like the real ones would.
"""

from __future__ import annotations

import base64
import copy
import functools
import hashlib
import inspect
import io
import json
import logging
import os
import socket
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from local import aws_calls
from local.easypost_stub import EasyPostStub
from local.lambdas import TIMEOUT_SCALE, LocalFunction, merged_environment, one_context_per_invocation
from local.moto_workarounds import answer_survives_heartbeat_setup
from local.payment_simulator import PaymentSimulator
from local.platforms import STORES_FILE
from local.queues import QueuePoller, local_queue_attributes
from local.schedules import Scheduler, start_schedules
from local.simulators import SimulatorConfig, WarehouseSimulator
from local.stub_api import StubApi
from local.template import ACCOUNT, REGION, FunctionSpec, LocalTemplate, Route, duration_outputs, scale_durations

ROOT = Path(__file__).resolve().parent.parent
SHIPPING_FILE = Path(__file__).resolve().parent / "shipping.json"  # the demo warehouse's shipping settings
WAREHOUSE_SECRET = "local-only-warehouse-secret"  # noqa: S105 - signs simulator callbacks, never deployed
PAYMENT_API_KEY = "local-only-payment-key"
API_GATEWAY_MAX_BODY = 10 * 1024 * 1024
_TEXT_TYPES = ("application/json", "text/", "application/x-www-form-urlencoded", "application/xml")

_active: LocalRuntime | None = None


def local_easypost_account(store_id: str) -> dict[str, str]:
    """The demo store's EasyPost account on the local stub: a test key (EasyPost's start with ``EZTK``) and the
    secret its webhook signs with. LOCAL ONLY, never deployed."""
    return {"api_key": f"EZTK{store_id.replace('-', '')}local", "webhook_secret": f"local-easypost-{store_id}"}


_hook_lock = threading.Lock()
_hook_installed = False


def _lambda_invoke_hook(model: Any, params: dict[str, Any], **_: Any) -> Any:
    """botocore ``before-call.lambda.Invoke``: answer from the in-process function, if it is ours."""
    runtime = _active
    if runtime is None:
        return None
    from botocore.awsrequest import AWSResponse, HTTPHeaders
    from botocore.response import StreamingBody

    target = unquote(params["url_path"].split("/functions/", 1)[1].split("/invocations", 1)[0])
    name = target.split(":")[6] if target.startswith("arn:") else target
    function = runtime.functions.get(name)
    if function is None:
        return None
    raw = params.get("body") or b"{}"
    result = function.invoke(json.loads(raw))
    payload = result.as_lambda_payload()
    parsed: dict[str, Any] = {
        "StatusCode": 200,
        "ExecutedVersion": "$LATEST",
        "Payload": StreamingBody(io.BytesIO(payload), len(payload)),
    }
    if result.error_type:
        parsed["FunctionError"] = "Unhandled"
    return AWSResponse(params.get("url", ""), 200, HTTPHeaders(), None), parsed


def _install_hook() -> None:
    """Must run before any boto3 session exists: botocore copies BUILTIN_HANDLERS into each new session."""
    global _hook_installed
    with _hook_lock:
        if _hook_installed:
            return
        import botocore.handlers

        botocore.handlers.BUILTIN_HANDLERS.append(("before-call.lambda.Invoke", _lambda_invoke_hook))
        _hook_installed = True


@dataclass
class RuntimeConfig:
    http_port: int = 3000
    aws_port: int = 4566
    carrier_port: int = 3101
    warehouse_port: int = 3102
    payment_port: int = 3103
    stage: str = "dev"
    wait_scale: float = 1 / 3600  # an hour of Wait or retry interval becomes a second
    timeout_scale: float = 1 / 3600  # 14 days of delivery timeout become ~6 minutes
    # No scaled timeout (TimeoutSeconds, HeartbeatSeconds, a function's returned timeout) below this: a callback
    # under local load can take tens of seconds (bench/load.py), and a timeout shorter than that takes an answer
    # still on its way for silence. Tests that want a timeout to fire set their own (``timers``).
    min_timeout_seconds: float = 60.0
    lambda_timeout_scale: float = TIMEOUT_SCALE  # a function's Timeout, enforced locally (local/lambdas.py)
    simulators: SimulatorConfig = field(default_factory=SimulatorConfig)
    stores_file: Path = STORES_FILE

    @classmethod
    def on_free_ports(cls, **settings: Any) -> RuntimeConfig:
        """A configuration on free ports (tests and benches run beside a served runtime), with ``settings``."""
        http, aws, carrier, warehouse, payment = free_ports(5)
        return cls(
            http_port=http,
            aws_port=aws,
            carrier_port=carrier,
            warehouse_port=warehouse,
            payment_port=payment,
            **settings,
        )


class LocalRuntime:
    def __init__(self, config: RuntimeConfig | None = None) -> None:
        self.config = config or RuntimeConfig()
        self.functions: dict[str, LocalFunction] = {}
        self.routes: list[Route] = []
        self.state_machine_arn = ""  # the fulfillment state machine
        self.state_machine_arns: dict[str, str] = {}  # every state machine, by logical id
        self.easypost: EasyPostStub | None = None
        self.payments: PaymentSimulator | None = None
        self.warehouse: WarehouseSimulator | None = None
        self.platform_apis: dict[str, StubApi] = {}  # a stub of each store platform's API, by platform
        self.pollers: dict[str, QueuePoller] = {}  # by queue logical id
        self.schedules: list[Scheduler] = []  # the template's Schedule events (local/schedules.py)
        self._moto: Any = None
        self._http: ThreadingHTTPServer | None = None
        self._serving = False
        self._saved_env: dict[str, str | None] = {}
        self._definitions: dict[str, dict[str, Any]] = {}  # each state machine's definition as created, scaled
        self._clients: dict[str, Any] = {}
        self._clients_lock = threading.Lock()

    # ---- lifecycle ---------------------------------------------------------------------------
    def start(self) -> LocalRuntime:
        global _active
        _install_hook()
        aws_calls.install()
        cfg = self.config
        self._set_env(
            {
                "AWS_ACCESS_KEY_ID": "local",
                "AWS_SECRET_ACCESS_KEY": "local",
                "AWS_SESSION_TOKEN": "local",
                "AWS_DEFAULT_REGION": REGION,
                "AWS_REGION": REGION,
                "AWS_ENDPOINT_URL": self.aws_endpoint,
                "MOTO_PORT": str(cfg.aws_port),
                "POWERTOOLS_TRACE_DISABLED": "true",
                "POWERTOOLS_DEV": "false",
            }
        )
        for noisy in ("moto", "werkzeug", "botocore"):
            logging.getLogger(noisy).setLevel(logging.CRITICAL)
        self._reset_caches()
        # Every server on a configured port binds before anything binds an ephemeral one (the platform stubs):
        # given free ports (free_ports), the kernel could otherwise hand one of them to a stub meanwhile.
        self._http = ThreadingHTTPServer(("127.0.0.1", cfg.http_port), _make_http_handler(self))
        self._http.daemon_threads = True

        from moto.server import ThreadedMotoServer

        _serialise_moto_dynamodb()
        _reuse_interpreter_clients()
        answer_survives_heartbeat_setup()
        one_context_per_invocation()
        self._moto = ThreadedMotoServer(ip_address="127.0.0.1", port=cfg.aws_port, verbose=False)
        self._moto.start()
        self._post_json(f"{self.aws_endpoint}/moto-api/config", {"stepfunctions": {"execute_state_machine": True}})

        self.easypost = EasyPostStub(cfg.simulators, cfg.carrier_port).start()
        self.warehouse = WarehouseSimulator(
            cfg.warehouse_port, cfg.simulators, self.warehouse_callback_url, WAREHOUSE_SECRET
        ).start()
        # No checkout authorized anything locally: the first capture of an order authorizes its amount.
        payments = PaymentSimulator(cfg.payment_port, api_key=PAYMENT_API_KEY, auto_authorize=True)
        payments.start()
        self.payments = payments
        self.platform_apis = start_platform_stubs()
        template = LocalTemplate(
            ROOT,
            stack_name="local",
            parameter_overrides={
                "Stage": cfg.stage,
                "EasyPostApiBase": self.easypost.api_base,
                "WarehouseApiUrl": self.warehouse.url,
                "PaymentApiUrl": payments.url,
            },
            aws_endpoint=self.aws_endpoint,
        )
        specs = template.functions()
        self._set_env(merged_environment(specs))
        for path in [ROOT, *template.layer_paths()]:
            if str(path) not in sys.path:
                sys.path.insert(0, str(path))
        self.functions = {
            name: LocalFunction(spec, ROOT, timeout_scale=cfg.lambda_timeout_scale) for name, spec in specs.items()
        }
        self.routes = [route for spec in specs.values() for route in spec.routes]
        self._provision(template)
        _active = self
        self._start_pollers(template, specs)
        self.schedules = start_schedules(template.resources, self.functions, cfg.wait_scale)
        threading.Thread(target=self._http.serve_forever, name="local-http-api", daemon=True).start()
        self._serving = True
        return self

    def stop(self) -> None:
        global _active
        for poller in self.pollers.values():
            poller.stop()
        for schedule in self.schedules:
            schedule.stop()
        for server in (self.easypost, self.warehouse, self.payments, *self.platform_apis.values()):
            if server:
                server.stop()
        if self._http:
            if self._serving:  # shutdown() waits for serve_forever(), forever if it never started
                self._http.shutdown()
            self._http.server_close()
            self._serving = False
        if self._moto:
            with suppress(Exception):
                self._moto.stop()
        if _active is self:
            _active = None
        self._clients.clear()
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._reset_caches()

    def __enter__(self) -> LocalRuntime:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    # ---- addresses -----------------------------------------------------------------------------
    @property
    def aws_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.config.aws_port}"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.config.http_port}"

    @property
    def warehouse_callback_url(self) -> str:
        name = self.config.simulators.warehouse_name
        return f"http://127.0.0.1:{self.config.http_port}/warehouses/{name}/inspections"

    @property
    def tracking_url(self) -> str:
        return f"http://127.0.0.1:{self.config.http_port}/carriers/easypost/tracking"

    def client(self, service: str) -> Any:
        """A client for this runtime's AWS endpoint, made once per service (boto3 clients are thread-safe)."""
        with self._clients_lock:
            if service not in self._clients:
                import boto3

                session = boto3.session.Session()
                self._clients[service] = session.client(  # type: ignore[call-overload]
                    service, region_name=REGION, endpoint_url=self.aws_endpoint
                )
            return self._clients[service]

    # ---- provisioning --------------------------------------------------------------------------
    def _provision(self, template: LocalTemplate) -> None:
        dynamodb = self.client("dynamodb")
        table_keys = (
            "AttributeDefinitions",
            "KeySchema",
            "GlobalSecondaryIndexes",
            "LocalSecondaryIndexes",
            "BillingMode",
            "StreamSpecification",
        )
        for table in template.tables():
            props = template.resolve(table.properties)
            dynamodb.create_table(TableName=table.logical_id, **{k: props[k] for k in table_keys if k in props})
        s3 = self.client("s3")
        for bucket in template.buckets():
            props = template.resolve(bucket.properties)
            s3.create_bucket(Bucket=bucket.logical_id)
            if "BucketEncryption" in props:  # CloudFormation's shape to the API's
                encryption = [
                    {"ApplyServerSideEncryptionByDefault": rule["ServerSideEncryptionByDefault"]}
                    for rule in props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
                ]
                s3.put_bucket_encryption(
                    Bucket=bucket.logical_id, ServerSideEncryptionConfiguration={"Rules": encryption}
                )
            if "PublicAccessBlockConfiguration" in props:
                s3.put_public_access_block(
                    Bucket=bucket.logical_id, PublicAccessBlockConfiguration=props["PublicAccessBlockConfiguration"]
                )
            expiring = [
                rule for rule in props.get("LifecycleConfiguration", {}).get("Rules", []) if "ExpirationInDays" in rule
            ]
            if expiring:  # CloudFormation's shape to the API's
                rules = [
                    {"ID": rule["Id"], "Status": rule["Status"], "Filter": {"Prefix": rule.get("Prefix", "")},
                     "Expiration": {"Days": rule["ExpirationInDays"]}}
                    for rule in expiring
                ]  # fmt: skip
                s3.put_bucket_lifecycle_configuration(Bucket=bucket.logical_id, LifecycleConfiguration={"Rules": rules})
        sqs = self.client("sqs")
        # Dead-letter queues first: a redrive policy must name an existing queue.
        for queue in sorted(template.queues(), key=lambda spec: "RedrivePolicy" in spec.properties):
            sqs.create_queue(
                QueueName=queue.name,
                Attributes=local_queue_attributes(template.resolve(queue.properties), visibility_seconds=2),
            )
        sfn = self.client("stepfunctions")
        for machine in template.state_machines():
            definition = scale_durations(
                machine.definition,
                wait_scale=self.config.wait_scale,
                timeout_scale=self.config.timeout_scale,
                min_timeout=self.config.min_timeout_seconds,
            )
            self._definitions[machine.logical_id] = definition
            created = sfn.create_state_machine(
                name=machine.name,
                definition=json.dumps(definition),
                type=machine.type,
                roleArn=f"arn:aws:iam::{ACCOUNT}:role/local-state-machine",
            )
            self.state_machine_arns[machine.logical_id] = created["stateMachineArn"]
            factors = {
                "timeout": (self.config.timeout_scale, self.config.min_timeout_seconds),
                "wait": (self.config.wait_scale, 1.0),
            }
            for function, fields in duration_outputs(machine.definition).items():
                self.functions[function].scaled_outputs |= {field: factors[kind] for field, kind in fields.items()}
        self.state_machine_arn = self.state_machine_arns["FulfillmentStateMachine"]
        ssm, stage, sims = self.client("ssm"), self.config.stage, self.config.simulators
        for name, value in (
            (f"/fulfillment/{stage}/warehouses/{sims.warehouse_name}/webhook-secret", WAREHOUSE_SECRET),
            (f"/fulfillment/{stage}/payments/api-key", PAYMENT_API_KEY),
        ):
            ssm.put_parameter(Name=name, Value=value, Type="SecureString")
        from fulfillment.adapters.inventory_dynamodb import DynamoInventory
        from local.inventory_seed import seed_inventory

        seed_inventory(DynamoInventory(os.environ["TABLE_NAME"], self.client("dynamodb"), sims.warehouse_name))
        for entry in json.loads(self.config.stores_file.read_text(encoding="utf-8")):
            self.register_store(entry)

    def _start_pollers(self, template: LocalTemplate, specs: dict[str, FunctionSpec]) -> None:
        sqs = self.client("sqs")
        for spec in specs.values():
            for source in spec.queue_sources:
                name = template.queue_name(source.queue)
                url = f"{self.aws_endpoint}/{ACCOUNT}/{name}"
                self.pollers[source.queue] = QueuePoller(
                    source, name, url, self.functions[spec.logical_id], sqs
                ).start()

    def register_store(self, entry: dict[str, Any]) -> None:
        """Register a store: its secret into SSM, its registry entry into the table.

        ``api`` credentials may name ``{stub}``: the URL of that platform's local API stub.
        """
        from fulfillment.adapters.dynamodb import DynamoStoreRegistry
        from fulfillment.adapters.platforms.registry import platform_spec
        from fulfillment.model.store import Store

        ref = f"/fulfillment/{self.config.stage}/stores/{entry['store_id']}/webhook-secret"
        secret = entry["webhook_secret"]
        if entry.get("api"):
            stub = self.platform_apis.get(entry["platform"])
            api = json.loads(json.dumps(entry["api"]).replace("{stub}", stub.url if stub else ""))
            secret = json.dumps({"webhook_secret": entry["webhook_secret"], **api})
        easypost = local_easypost_account(entry["store_id"])
        secret = json.dumps(json.loads(secret) if secret.lstrip().startswith("{") else {"webhook_secret": secret})
        secret = json.dumps(json.loads(secret) | {"easypost": easypost})
        self.client("ssm").put_parameter(Name=ref, Value=secret, Type="SecureString", Overwrite=True)
        if self.easypost is not None:  # the store's EasyPost account posts its tracker events to our route
            from easypost.easypost_client import EasyPostClient

            client = EasyPostClient(easypost["api_key"], api_base=self.easypost.api_base)
            client.webhook.create(url=self.tracking_url, webhook_secret=easypost["webhook_secret"])
        identity_key = platform_spec(entry["platform"]).identity_key  # site_url, or the platform's store id
        store = Store(
            store_id=entry["store_id"],
            platform=entry["platform"],
            secret_ref=ref,
            name=entry.get("name", ""),
            site_url=entry.get("site_url"),
            platform_store_id=None if identity_key == "site_url" else entry.get(identity_key),
            options=entry.get("options", {}),
            shipping=entry.get("shipping") or json.loads(SHIPPING_FILE.read_text(encoding="utf-8")),
        )
        DynamoStoreRegistry(os.environ["TABLE_NAME"], self.client("dynamodb")).put(store)

    @contextmanager
    def timers(
        self, states: dict[str, dict[str, int]], state_machine: str = "FulfillmentStateMachine"
    ) -> Iterator[None]:
        """Executions started inside the block get these timers (local seconds) on these states, e.g.
        ``{"Wait for delivery confirmation": {"HeartbeatSeconds": 2}}``: a test sees a heartbeat expire
        without waiting out the runtime's scaled three days. Executions already running keep their own
        (moto snapshots the definition at StartExecution); the runtime's definition is back afterwards."""
        base = self._definitions[state_machine]
        changed = json.loads(json.dumps(base))
        for name, timers in states.items():
            if name not in changed["States"] or not set(timers) <= {"Seconds", "TimeoutSeconds", "HeartbeatSeconds"}:
                raise KeyError(f"{state_machine} has no state {name!r} with timers {sorted(timers)}")
            changed["States"][name].update(timers)
        sfn, arn = self.client("stepfunctions"), self.state_machine_arns[state_machine]
        sfn.update_state_machine(stateMachineArn=arn, definition=json.dumps(changed))
        try:
            yield
        finally:
            sfn.update_state_machine(stateMachineArn=arn, definition=json.dumps(base))

    # ---- HTTP API --------------------------------------------------------------------------------
    def handle_http(
        self, method: str, raw_path: str, headers: dict[str, str], body: bytes, source_ip: str = "127.0.0.1"
    ) -> tuple[int, dict[str, str], bytes]:
        if len(body) > API_GATEWAY_MAX_BODY:
            return 413, {"content-type": "application/json"}, b'{"message":"Request Entity Too Large"}'
        split = urlsplit(raw_path)
        if split.path == "/_console" or split.path.startswith("/_console/"):
            from local.console import serve_console

            return serve_console(self, method, split.path, split.query)
        for route in self.routes:
            params = route.match(method, split.path)
            if params is not None:
                event = http_api_event(route, method, split.path, split.query, headers, body, params, source_ip)
                result = self.functions[route.function].invoke(event)
                return _http_api_response(result.payload if result.error_type is None else None)
        return 404, {"content-type": "application/json"}, b'{"message":"Not Found"}'

    # ---- helpers ---------------------------------------------------------------------------------
    def _set_env(self, values: dict[str, str]) -> None:
        for key, value in values.items():
            self._saved_env.setdefault(key, os.environ.get(key))
            os.environ[key] = value

    @staticmethod
    def _reset_caches() -> None:
        # Clients built for another runtime's endpoint must not survive into this one.
        with suppress(ImportError):
            from fulfillment import bootstrap, settings

            bootstrap.container.cache_clear()
            settings.get_settings.cache_clear()

    @staticmethod
    def _post_json(url: str, payload: dict[str, Any]) -> None:
        request = urllib.request.Request(
            url, data=json.dumps(payload).encode(), method="POST", headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=10):
            pass

    def wait_for_execution(
        self, execution_name: str, timeout: float = 60.0, state_machine: str = "FulfillmentStateMachine"
    ) -> dict[str, Any]:
        sfn = self.client("stepfunctions")
        machine_arn = self.state_machine_arns[state_machine]
        arn = machine_arn.replace(":stateMachine:", ":execution:") + f":{execution_name}"
        deadline = time.monotonic() + timeout
        while True:
            with suppress(sfn.exceptions.ExecutionDoesNotExist):
                described: dict[str, Any] = sfn.describe_execution(executionArn=arn)
                if described["status"] != "RUNNING" or time.monotonic() > deadline:
                    return described
            if time.monotonic() > deadline:
                raise TimeoutError(f"execution {execution_name} never started")
            time.sleep(0.1)


_dynamodb_lock = threading.RLock()


def _serialise_moto_dynamodb() -> None:
    """moto's DynamoDB is not thread-safe: a transaction checks its conditions and rolls back by restoring a
    copy of the table, without a lock, so two concurrent Lambdas could both take the last unit. DynamoDB
    serialises conflicting writes; here one lock around every operation does the same (once per process)."""
    from moto.dynamodb.models import DynamoDBBackend

    if getattr(DynamoDBBackend, "_serialised", False):
        return
    for name in (
        "transact_write_items",
        "transact_get_items",
        "put_item",
        "update_item",
        "delete_item",
        "get_item",
        "query",
        "scan",
        "batch_write_item",
        "batch_get_item",
    ):
        original = getattr(DynamoDBBackend, name, None)
        if original is None:
            continue

        def locked(self: Any, *args: Any, _original: Any = original, **kwargs: Any) -> Any:
            with _dynamodb_lock:
                return _original(self, *args, **kwargs)

        setattr(DynamoDBBackend, name, locked)
    _roll_back_items_not_tables(DynamoDBBackend)
    _queries_read_their_partition()
    _transactions_honour_client_request_token()
    DynamoDBBackend._serialised = True  # type: ignore[attr-defined]


def _queries_read_their_partition() -> None:
    """moto's ``Table.query`` (5.2.5) gathers its candidates from ``Table.all_items()``: every item of the table,
    sorted by Python comparisons of key objects, for every Query. On DynamoDB a Query reads one partition; here its
    cost grew with the whole table, and a run's table only grows (at 30,000 items a Query of one order's 30 items
    took about 300 ms): under load every step's read slowed down, callbacks queued past their timeouts, and their
    retries queued behind them. ``query`` sorts its candidates itself (by the range key, or by the index's keys), so
    it is handed them unsorted: a table Query only its own partition, an index Query every item (moto keeps no
    per-index map). Safe under the lock above: the shadowing ``all_items`` lives for one locked call."""
    from moto.dynamodb.models.table import Table

    if getattr(Table, "_queries_read_their_partition", False):
        return
    original = Table.query
    signature = inspect.signature(original)  # index_name may come by position or by name

    @functools.wraps(original)
    def query(self: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = signature.bind(self, hash_key, *args, **kwargs).arguments.get("index_name")
        ranged = bool(self.range_key_attr)

        def partition() -> list[Any]:
            found = self.items.get(hash_key)
            return [] if found is None else list(found.values()) if ranged else [found]

        def every_item() -> list[Any]:
            return [item for held in self.items.values() for item in (held.values() if ranged else [held])]

        with _dynamodb_lock:
            self.all_items = every_item if index_name else partition
            try:
                return original(self, hash_key, *args, **kwargs)
            finally:
                del self.all_items

    Table.query = query  # type: ignore[method-assign]
    Table._queries_read_their_partition = True  # type: ignore[attr-defined]


class _TablesNotCopied:
    """The ``copy`` module as moto's DynamoDB backend sees it: a whole table is never deep-copied."""

    def __init__(self, table_type: type) -> None:
        self._table_type = table_type

    def deepcopy(self, value: Any, memo: dict[int, Any] | None = None) -> Any:
        return value if isinstance(value, self._table_type) else copy.deepcopy(value, memo)

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)


def _roll_back_items_not_tables(backend: Any) -> None:
    """moto backs up every table a transaction names (a deep copy, before it starts) to restore if it fails:
    a cost that grows with the table, paid by every order step, and a run's table only grows. Under the lock
    nothing else writes meanwhile, so copying only the items the transaction names, and putting them back if
    it fails, restores the same state."""
    from moto.dynamodb import models
    from moto.dynamodb.models.table import Table

    models.copy = _TablesNotCopied(Table)  # type: ignore[attr-defined,assignment]
    locked = backend.transact_write_items

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]], *args: Any, **kwargs: Any) -> Any:
        with _dynamodb_lock:
            saved: list[tuple[Any, Any, Any, Any]] = []
            for entry in transact_items:
                for operation in entry.values():
                    table = self.tables.get(operation.get("TableName") or "")
                    with suppress(Exception):  # no table or no key: moto refuses it before writing anything
                        hash_key, range_key = self.get_keys_value(table, operation.get("Key") or operation["Item"])
                        saved.append((table, hash_key, range_key, copy.deepcopy(table.get_item(hash_key, range_key))))
            try:
                return locked(self, transact_items, *args, **kwargs)
            except BaseException:
                for table, hash_key, range_key, item in reversed(saved):
                    if range_key is None and item is None:
                        table.items.pop(hash_key, None)
                    elif range_key is None:
                        table.items[hash_key] = item
                    elif item is None:
                        table.items[hash_key].pop(range_key, None)
                    else:
                        table.items[hash_key][range_key] = item
                raise

    backend.transact_write_items = transact_write_items


CLIENT_REQUEST_TOKEN_SECONDS = 600  # DynamoDB: "valid for 10 minutes after the first request that uses it"


def _transactions_honour_client_request_token() -> None:
    """A ``TransactWriteItems`` repeated with its ``ClientRequestToken`` has the effect of one call, as on DynamoDB
    (API reference, TransactWriteItems, ClientRequestToken; moto 5.2.5 ignores the token).

    botocore fills the token in itself (``idempotencyToken`` in DynamoDB's service model) and sends the same one
    on each of its retries. When a transaction went through but its answer was late (a loaded machine, the 5 s
    read timeout in ``bootstrap``), the retry would otherwise fail its own conditions: an order created by the
    first attempt reads as created by someone else, and five identical deliveries all answer "duplicate". The same
    token with other items is refused with ``IdempotentParameterMismatchException``, as DynamoDB does."""
    from moto.dynamodb.exceptions import ERROR_TYPE_PREFIX, DynamodbException
    from moto.dynamodb.responses import DynamoHandler

    original = DynamoHandler.transact_write_items
    went_through: dict[str, tuple[str, float, Any]] = {}  # token: (what it wrote, when, the answer)

    def transact_write_items(self: Any) -> Any:
        token = self.body.get("ClientRequestToken")
        if not token:
            return original(self)
        written = json.dumps(self.body["TransactItems"], sort_keys=True, default=_bytes_as_text)  # B values: bytes
        fingerprint = hashlib.sha256(written.encode()).hexdigest()
        with _dynamodb_lock:
            now = time.monotonic()
            while went_through:  # kept in the order they went through: the stale ones are at the front
                oldest = next(iter(went_through))
                if now - went_through[oldest][1] <= CLIENT_REQUEST_TOKEN_SECONDS:
                    break
                del went_through[oldest]
            if token in went_through:
                items, _, answer = went_through[token]
                if items != fingerprint:
                    raise DynamodbException(
                        ERROR_TYPE_PREFIX + "IdempotentParameterMismatchException",
                        "The request uses the same client token as a previous, but non-identical request.",
                    )
                return answer
            answer = original(self)  # a refused transaction wrote nothing: its retry is evaluated afresh
            went_through[token] = (fingerprint, now, answer)
            return answer

    DynamoHandler.transact_write_items = transact_write_items  # type: ignore[method-assign]


def _bytes_as_text(value: object) -> str:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    raise TypeError(f"{type(value).__name__} in a DynamoDB request")


def _reuse_interpreter_clients() -> None:
    """moto's Step Functions interpreter builds a new boto3 client for every task it runs (each Lambda invoke,
    each SQS send): locally, the biggest share of a step's CPU. Against the server they differ only by region,
    service and port, and boto3 clients are thread-safe: one of each serves every execution (once per process)."""
    import importlib

    from moto.core.models import botocore_stubber
    from moto.settings import moto_server_port

    importlib.import_module("moto.stepfunctions.parser.asl.parse.preprocessor")  # imports every task service
    utils = importlib.import_module("moto.stepfunctions.parser.asl.utils.boto_client")
    original = utils.boto_client_for
    if getattr(original, "_reused", False):
        return
    clients: dict[tuple[str, str, str], Any] = {}
    lock = threading.Lock()

    def boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        if botocore_stubber.enabled:  # in-process mock_aws: leave moto alone
            return original(region, service, state_credentials)
        key = (region, service, moto_server_port())
        with lock:
            if key not in clients:
                clients[key] = original(region, service, state_credentials)
            return clients[key]

    boto_client_for._reused = True  # type: ignore[attr-defined]
    for module in list(sys.modules.values()):
        if getattr(module, "boto_client_for", None) is original:
            module.boto_client_for = boto_client_for  # type: ignore[attr-defined]


def start_platform_stubs() -> dict[str, StubApi]:
    """A stub API per store platform that has one in local/stubs/ (REST fetches, write-backs)."""
    from local.stubs import platform_stub, stub_names

    apis = {}
    for name in stub_names():
        api = StubApi(name=f"{name}-api-stub")
        api.shop = platform_stub(name).install(api)
        apis[name] = api.start()
    return apis


def http_api_event(
    route: Route,
    method: str,
    path: str,
    query: str,
    headers: dict[str, str],
    body: bytes,
    params: dict[str, str],
    source_ip: str = "127.0.0.1",
    *,
    request_id: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """An API Gateway HTTP API payload-v2 event, as the real integration sends it."""
    lowered = {name.lower(): value for name, value in headers.items()}
    content_type = lowered.get("content-type", "")
    text: str | None = None
    if body and content_type.startswith(_TEXT_TYPES):
        with suppress(UnicodeDecodeError):
            text = body.decode("utf-8")
    now = now or datetime.now(UTC)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route.route_key,
        "rawPath": path,
        "rawQueryString": query,
        "headers": lowered,
        "requestContext": {
            "accountId": ACCOUNT,
            "apiId": "local",
            "domainName": lowered.get("host", "127.0.0.1"),
            "domainPrefix": "local",
            "http": {
                "method": method.upper(),
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": lowered.get("user-agent", ""),
            },
            "requestId": request_id or str(uuid.uuid4()),
            "routeKey": route.route_key,
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        },
        "pathParameters": params,
        "isBase64Encoded": text is None and bool(body),
    }
    if query:
        event["queryStringParameters"] = dict(parse_qsl(query, keep_blank_values=True))
    if body:
        event["body"] = text if text is not None else base64.b64encode(body).decode()
    return event


def _http_api_response(payload: Any) -> tuple[int, dict[str, str], bytes]:
    if payload is None:  # the function raised: API Gateway answers 500 without details
        return 500, {"content-type": "application/json"}, b'{"message":"Internal Server Error"}'
    if not isinstance(payload, dict) or "statusCode" not in payload:
        return 200, {"content-type": "application/json"}, json.dumps(payload).encode()
    body = payload.get("body") or ""
    raw = base64.b64decode(body) if payload.get("isBase64Encoded") else str(body).encode()
    headers = {name.lower(): str(value) for name, value in (payload.get("headers") or {}).items()}
    return int(payload["statusCode"]), headers, raw


def _make_http_handler(runtime: LocalRuntime) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            status, headers, payload = runtime.handle_http(
                self.command, self.path, dict(self.headers.items()), body, self.client_address[0]
            )
            # A client that gave up meanwhile (its timeout) is gone, as a caller of API Gateway would be; the
            # function ran all the same, and the partner's retry is answered by its dedupe.
            with suppress(BrokenPipeError, ConnectionResetError):
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve  # noqa: N815

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
            return

    return Handler


def free_ports(count: int) -> list[int]:
    """Distinct free ports: every probe stays bound until all are taken, so two can never be the same."""
    probes = [socket.socket() for _ in range(count)]
    try:
        for probe in probes:
            probe.bind(("127.0.0.1", 0))
        return [int(probe.getsockname()[1]) for probe in probes]
    finally:
        for probe in probes:
            probe.close()


@contextmanager
def running(config: RuntimeConfig | None = None) -> Iterator[LocalRuntime]:
    runtime = LocalRuntime(config)
    runtime.start()
    try:
        yield runtime
    finally:
        runtime.stop()
