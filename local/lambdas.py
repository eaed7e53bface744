"""Lambda functions run in-process: each function's handler imported with the template's environment.

A function keeps a small pool of independently imported copies of its module ("containers"), each
used by one invocation at a time, as on Lambda: module-level state such as Powertools' resolver is
never shared by two concurrent requests.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import threading
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from local.template import FunctionSpec


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
        import time

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


class LocalFunction:
    def __init__(self, spec: FunctionSpec, root: Path, pool_size: int = 4) -> None:
        self.spec = spec
        self._root = root
        self._free: list[Callable[..., Any]] = []
        self._created = 0
        self._pool_size = pool_size
        self._slots = threading.Semaphore(pool_size)
        self._lock = threading.Lock()
        self.invocations = 0
        # Durations this function returns for the state machine to wait on, and the factor the runtime
        # scales them by (``template.duration_outputs``): days become seconds locally, as in the definition.
        self.scaled_outputs: dict[str, float] = {}

    def _import_handler(self) -> Callable[..., Any]:
        module_file, attribute = self.spec.handler.rsplit(".", 1)
        path = self._root / self.spec.code_uri / f"{module_file.replace('.', '/')}.py"
        self._created += 1
        name = f"_local_lambda.{self.spec.logical_id}.{self._created}"
        module_spec = importlib.util.spec_from_file_location(name, path)
        if module_spec is None or module_spec.loader is None:
            raise ImportError(f"cannot import {path}")
        module: ModuleType = importlib.util.module_from_spec(module_spec)
        sys.modules[name] = module
        module_spec.loader.exec_module(module)
        handler: Callable[..., Any] = getattr(module, attribute)
        return handler

    def _acquire(self) -> Callable[..., Any]:
        self._slots.acquire()
        with self._lock:
            if self._free:
                return self._free.pop()
            return self._import_handler()

    def _release(self, handler: Callable[..., Any]) -> None:
        with self._lock:
            self._free.append(handler)
        self._slots.release()

    def _scaled(self, payload: Any) -> Any:
        if not self.scaled_outputs or not isinstance(payload, dict):
            return payload
        return {
            key: _scale(value, self.scaled_outputs.get(key, 1.0)) if key in self.scaled_outputs else value
            for key, value in payload.items()
        }

    def invoke(self, event: Any) -> InvocationResult:
        import time

        handler = self._acquire()
        self.invocations += 1
        context = LambdaContext(
            function_name=self.spec.logical_id,
            memory_limit_in_mb=self.spec.memory,
            invoked_function_arn=self.spec.arn,
            aws_request_id=str(uuid.uuid4()),
            deadline=time.monotonic() + self.spec.timeout,
        )
        try:
            return InvocationResult(payload=self._scaled(handler(event, context)))
        except Exception as error:  # a handler failure becomes a Lambda function error, as on AWS
            return InvocationResult(
                payload=None,
                error_type=type(error).__name__,
                error_message=str(error),
                stack=tuple(traceback.format_exception(error)[-5:]),
            )
        finally:
            self._release(handler)


def _scale(value: Any, factor: float) -> Any:
    return max(1, round(value * factor)) if isinstance(value, int | float) and not isinstance(value, bool) else value


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
