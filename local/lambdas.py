"""Lambda functions run in-process: each function's handler imported with the template's environment.

A function keeps a small pool of independently imported copies of its module ("containers"), each
used by one invocation at a time, as on Lambda: module-level state such as Powertools' resolver is
never shared by two concurrent requests.

Each invocation runs on a thread of its own, under the function's ``Timeout`` (template.yaml): an overrun fails
the invocation the way Lambda does (``Sandbox.Timedout``, "Task timed out after N seconds", which the state
machine's retriers match), and its container is thrown away, never reused.
"""

from __future__ import annotations

import ctypes
import importlib.util
import json
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

from local.aws_calls import acting_as
from local.template import FunctionSpec

# Local Lambdas share two cores, one interpreter and moto with every other function and the simulators: the same
# work takes several times longer than on Lambda, and longer still under load. A function's Timeout is enforced
# at Timeout × TIMEOUT_SCALE, so a step that would finish on AWS does not time out for local reasons, while one
# stuck on a partner call still does, and still fails as Lambda's timeout does.
TIMEOUT_SCALE = 3.0


@dataclass
class LambdaContext:
    """The attributes of Lambda's context object that Powertools and handlers read."""

    function_name: str
    memory_limit_in_mb: int
    invoked_function_arn: str
    aws_request_id: str
    deadline: float
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = "local"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.monotonic()) * 1000))


@dataclass(frozen=True)
class InvocationResult:
    payload: Any
    error_type: str | None = None
    error_message: str | None = None
    stack: tuple[str, ...] = ()

    def as_lambda_payload(self) -> bytes:
        if self.error_type is None:
            return json.dumps(self.payload).encode()
        return json.dumps(
            {"errorMessage": self.error_message, "errorType": self.error_type, "stackTrace": list(self.stack)}
        ).encode()


class SandboxTimedOut(BaseException):
    """Raised into a handler still running past its deadline: its sandbox is gone (a BaseException, so the
    handler's own ``except Exception`` cannot swallow it and carry on with side effects)."""


class LocalFunction:
    def __init__(
        self, spec: FunctionSpec, root: Path, pool_size: int = 4, timeout_scale: float = TIMEOUT_SCALE
    ) -> None:
        self.spec = spec
        self._root = root
        self._free: list[tuple[str, Callable[..., Any]]] = []
        self._created = 0
        self._pool_size = pool_size
        self._slots = threading.Semaphore(pool_size)
        self._lock = threading.Lock()
        self.invocations = 0
        self.timeouts = 0
        # The function's Timeout as enforced here, in local seconds (see TIMEOUT_SCALE).
        self.timeout_seconds = spec.timeout * timeout_scale
        # Durations this function returns for the state machine to wait on, and the factor the runtime
        # scales them by (``template.duration_outputs``): days become seconds locally, as in the definition.
        # Each field maps to (factor, floor): a timeout never shrinks below the runtime's min_timeout_seconds.
        self.scaled_outputs: dict[str, tuple[float, float]] = {}

    def _import_handler(self) -> tuple[str, Callable[..., Any]]:
        module_file, attribute = self.spec.handler.rsplit(".", 1)
        path = self._root / self.spec.code_uri / f"{module_file.replace('.', '/')}.py"
        with self._lock:
            self._created += 1
            name = f"_local_lambda.{self.spec.logical_id}.{self._created}"
        module_spec = importlib.util.spec_from_file_location(name, path)
        if module_spec is None or module_spec.loader is None:
            raise ImportError(f"cannot import {path}")
        module: ModuleType = importlib.util.module_from_spec(module_spec)
        sys.modules[name] = module
        module_spec.loader.exec_module(module)
        handler: Callable[..., Any] = getattr(module, attribute)
        return name, handler

    def _acquire(self) -> tuple[str, Callable[..., Any]] | None:
        """A warm container if one is free, else None (the invocation imports a new one, inside its time)."""
        self._slots.acquire()
        with self._lock:
            return self._free.pop() if self._free else None

    def _release(self, container: tuple[str, Callable[..., Any]] | None) -> None:
        if container is not None:
            with self._lock:
                self._free.append(container)
        self._slots.release()

    def _scaled(self, payload: Any) -> Any:
        if not self.scaled_outputs or not isinstance(payload, dict):
            return payload
        return {
            key: _scale(value, *self.scaled_outputs[key]) if key in self.scaled_outputs else value
            for key, value in payload.items()
        }

    def invoke(self, event: Any) -> InvocationResult:
        container = self._acquire()
        with self._lock:
            self.invocations += 1
        started = time.monotonic()
        context = LambdaContext(
            function_name=self.spec.logical_id,
            memory_limit_in_mb=self.spec.memory,
            invoked_function_arn=self.spec.arn,
            aws_request_id=str(uuid.uuid4()),
            deadline=started + self.timeout_seconds,
        )
        outcome: dict[str, Any] = {}
        timed_out = threading.Event()

        def run() -> None:
            nonlocal container
            try:
                if container is None:  # a cold start: the import counts against the Timeout, as Lambda's init does
                    container = self._import_handler()
                with acting_as(self.spec.logical_id):  # its AWS calls are its role's (local/aws_calls.py)
                    outcome["payload"] = self._scaled(container[1](event, context))
            except SandboxTimedOut:
                pass
            except Exception as error:  # a handler failure becomes a Lambda function error, as on AWS
                outcome["error"] = error
            finally:
                if timed_out.is_set() and container is not None:
                    sys.modules.pop(container[0], None)

        worker = threading.Thread(target=run, name=f"lambda-{self.spec.logical_id}", daemon=True)
        worker.start()
        worker.join(self.timeout_seconds)
        if worker.is_alive():
            timed_out.set()
            if container is not None:
                sys.modules.pop(container[0], None)
            self._time_out(worker)
            return InvocationResult(
                payload=None,
                error_type="Sandbox.Timedout",
                error_message=f"{datetime.now(UTC).isoformat()} {context.aws_request_id} Task timed out after "
                f"{time.monotonic() - started:.2f} seconds",
            )
        self._release(container)
        if "error" in outcome:
            error = outcome["error"]
            return InvocationResult(
                payload=None,
                error_type=type(error).__name__,
                error_message=str(error),
                stack=tuple(traceback.format_exception(error)[-5:]),
            )
        return InvocationResult(payload=outcome.get("payload"))

    def _time_out(self, worker: threading.Thread) -> None:
        """Lambda stops a timed-out sandbox and never reuses it: the handler thread gets SandboxTimedOut at its
        next Python instruction (a blocking call finishes first), and its container is dropped from the pool."""
        with self._lock:
            self.timeouts += 1
        if worker.ident is not None:
            ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(worker.ident), ctypes.py_object(SandboxTimedOut))
        self._slots.release()


class _PerThreadLogFormat:
    """Powertools' formatter keeps a log line's keys (function name, request id, correlation id, appended keys) in
    one dict per formatter, and every Logger of one service shares one formatter (they share the stdlib logger
    named after the service). On Lambda a process runs one invocation at a time, so that is one context per
    invocation; here every function runs in one process at once, and one invocation's keys showed up on another's
    lines. As a data descriptor on the formatter class, this gives each thread — each invocation runs on its own
    thread — its own copy of those keys, starting from the formatter's defaults (what ``clear_state`` sets)."""

    def __get__(self, formatter: Any, owner: type | None = None) -> Any:
        if formatter is None:
            return self
        state = formatter.__dict__.setdefault("_keys_per_thread", threading.local())
        keys: dict[str, Any] | None = getattr(state, "keys", None)
        if keys is None:
            keys = state.keys = dict.fromkeys(formatter.log_record_order)
            keys.update(formatter.keys_combined)
        return keys

    def __set__(self, formatter: Any, keys: dict[str, Any]) -> None:
        formatter.__dict__.setdefault("_keys_per_thread", threading.local()).keys = keys


class _PerThreadAttribute:
    """A value each thread sees its own of, through instance and class attribute access alike."""

    def __init__(self) -> None:
        self._local = threading.local()

    def __get__(self, owner: Any, owner_type: type | None = None) -> Any:
        return getattr(self._local, "value", None)

    def __set__(self, owner: Any, value: Any) -> None:
        self._local.value = value


def _event_per_thread() -> None:
    """Powertools' event handler keeps the request it resolves on the ``BaseRouter`` class (``BaseRouter.current_event
    = …`` in ``resolve``), shared by every resolver in the process — on Lambda, one request at a time. Here concurrent
    requests read each other's event: a webhook verified against another's body (401), a callback applied to another
    order. Making those two class attributes per thread needs a data descriptor on the class itself (instance reads)
    and on its metaclass (``BaseRouter.current_event = …`` is a class attribute assignment)."""
    from aws_lambda_powertools.event_handler.api_gateway import BaseRouter

    names = ("current_event", "lambda_context")
    if all(isinstance(BaseRouter.__dict__.get(name), _PerThreadAttribute) for name in names):
        return
    per_thread = {name: _PerThreadAttribute() for name in names}
    for name, attribute in per_thread.items():
        setattr(BaseRouter, name, attribute)  # while the metaclass is still ABCMeta: stored in the class dict
    metaclass = type(BaseRouter)
    BaseRouter.__class__ = type(f"PerThread{metaclass.__name__}", (metaclass,), dict(per_thread))  # type: ignore[method-assign]


def one_context_per_invocation() -> None:
    """Local runtime only (once per process): what Powertools keeps per process, and so per invocation on Lambda, is
    kept per thread here, and each invocation runs on a thread of its own — its log keys (see above) and the HTTP
    request its resolver reads."""
    from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

    if not isinstance(LambdaPowertoolsFormatter.__dict__.get("log_format"), _PerThreadLogFormat):
        LambdaPowertoolsFormatter.log_format = _PerThreadLogFormat()  # type: ignore[assignment]
    _event_per_thread()


def _scale(value: Any, factor: float, floor: float = 1) -> Any:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return value
    return max(1, round(floor), round(value * factor))


def merged_environment(functions: dict[str, FunctionSpec]) -> dict[str, str]:
    """Environment variables are per process here: two functions must not disagree about one."""
    merged: dict[str, tuple[str, str]] = {}
    for spec in functions.values():
        for key, value in spec.environment.items():
            if key in merged and merged[key][1] != value:
                raise RuntimeError(
                    f"{spec.logical_id} sets {key}={value!r} but {merged[key][0]} sets {merged[key][1]!r}; "
                    "the local runtime runs all functions in one process"
                )
            merged[key] = (spec.logical_id, value)
    return {key: value for key, (_, value) in merged.items()}
