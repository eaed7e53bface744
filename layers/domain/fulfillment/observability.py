"""X-Ray tracing of our own code and AWS calls, opt-in per stack (template parameter ``SdkTracing``).

Lambda traces every invocation by itself (``Tracing: Active``); Powertools' Tracer adds subsegments
for each AWS call, but constructing it imports the X-Ray SDK, which more than doubles a handler's
cold import (measured in bench/import_time.py). So the Tracer is built only when the stack asks
for it, and the import is never paid otherwise.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, cast


def sdk_tracing_enabled() -> bool:
    return os.environ.get("POWERTOOLS_TRACE_DISABLED", "false").strip().lower() not in {"true", "1", "yes", "on"}


def traced[Handler: Callable[..., Any]](handler: Handler) -> Handler:
    """``Tracer().capture_lambda_handler`` when SDK tracing is on; the handler unchanged otherwise."""
    if not sdk_tracing_enabled():
        return handler
    from aws_lambda_powertools import Tracer

    return cast("Handler", Tracer().capture_lambda_handler(handler))
