"""X-Ray tracing of our own code and AWS calls, opt-in per stack (template parameter ``SdkTracing``).

Lambda traces every invocation by itself (``Tracing: Active``); Powertools' Tracer adds subsegments
for each AWS call, but constructing it imports the X-Ray SDK, which more than doubles a handler's
cold import (measured in bench/import_time.py). So the Tracer is built only when the stack asks
for it, and the import is never paid otherwise.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger


def sdk_tracing_enabled() -> bool:
    return os.environ.get("POWERTOOLS_TRACE_DISABLED", "false").strip().lower() not in {"true", "1", "yes", "on"}


def traced[Handler: Callable[..., Any]](handler: Handler) -> Handler:
    """``Tracer().capture_lambda_handler`` when SDK tracing is on; the handler unchanged otherwise."""
    if not sdk_tracing_enabled():
        return handler
    from aws_lambda_powertools import Tracer

    return cast("Handler", Tracer().capture_lambda_handler(handler))


# Personal data never reaches the logs: values under these keys are masked wherever they appear in a
# structured log record (an appended key, an ``extra``, a nested dict), whatever a future log line carries.
PERSONAL_KEYS = frozenset(
    {
        "name",
        "first_name",
        "last_name",
        "firstname",
        "lastname",
        "company",
        "email",
        "customer_email",
        "phone",
        "telephone",
        "address",
        "address_1",
        "address_2",
        "street",
        "street_1",
        "street_2",
        "lines",
        "city",
        "postcode",
        "postal_code",
        "zip",
        "billing",
        "shipping",
        "billing_address",
        "shipping_address",
        "customer",
        "shippingPerson",
        "billingPerson",
    }
)
MASK = "*****"


def mask_personal_data(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: MASK if key in PERSONAL_KEYS else mask_personal_data(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [mask_personal_data(item) for item in value]
    return value


def logger(**kwargs: Any) -> Logger:
    """A Powertools Logger whose JSON output has personal data masked (service name from the environment)."""
    import json

    from aws_lambda_powertools import Logger
    from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

    def serialize(record: Any) -> str:
        return json.dumps(mask_personal_data(record), default=str, separators=(",", ":"))

    return Logger(logger_formatter=LambdaPowertoolsFormatter(json_serializer=serialize), **kwargs)
