"""What a delivery or a callback may hold: the sizes our models, DynamoDB and Step Functions can take.

A value over one of these is refused with the limit's name (a 400 ``malformed_payload``, or a 413
``payload_too_large`` for a whole order), never carried on until an AWS call fails with a 500.

- DynamoDB: a partition key is at most 2048 bytes, a sort key 1024 bytes, an item 400 KB (a large order's lines
  are therefore stored in chunk items of their own), a transaction 4 MB, and a number has at most 38 significant
  digits. Ids are embedded in keys (``ORDER#<store>:<order>``,
  ``DELIVERY#<platform>#<store>#<event id>``, ``<received at>#<delivery id>``, ``<updated at>#<order key>``,
  ``RESTOCK#<return key>:<line>``): 200 characters, 800 bytes at worst in UTF-8, keeps every one of them
  under its limit.
- Step Functions: an execution name is at most 80 characters; ``fulfillment_execution_name`` hashes longer
  ones, so no limit is needed here.
- Quantities and amounts: ``Money.parse`` takes amounts below 10^15 major units; a quantity of at most 10^9
  keeps every line total (and the sum of thousands of lines) far inside DynamoDB's 38 digits.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

MAX_ID_LENGTH = 200  # characters of a store's (or partner's) id: order, line, delivery, refund, RMA, tracking
MAX_KEY_LENGTH = 64 + 1 + MAX_ID_LENGTH + 16  # our keys: "<store id>:<order id>", a return's ":r<n>" suffix
MAX_QUANTITY = 1_000_000_000  # units on one line
MAX_MINOR_UNITS = 10**18  # an amount in minor units (Money.parse takes < 10^15 major units, up to 3 decimals)
MAX_JSON_DEPTH = 64  # nesting of a delivery's JSON; real orders nest fewer than 10 levels
MAX_ORDER_BYTES = 300 * 1024  # an order's stored document but its lines, as JSON: under DynamoDB's 400 KB item
# An order's lines, as JSON: a large order's lines are stored in chunk items beside it, written in one transaction
# with it (DynamoDB: 100 actions and 4 MB per transaction); 2 MiB is twice the lines of the largest webhook body.
MAX_ORDER_LINES_BYTES = 2 * 1024 * 1024
MAX_CALLBACK_BYTES = 256 * 1024  # a partner's callback body (a tracking event, an inspection report)

BoundedId = Annotated[str, StringConstraints(max_length=MAX_ID_LENGTH)]
BoundedKey = Annotated[str, StringConstraints(max_length=MAX_KEY_LENGTH)]
Quantity = Annotated[int, Field(gt=0, le=MAX_QUANTITY)]


def id_too_long(value: str | None, what: str) -> str | None:
    """Why ``value`` cannot be an id (``what`` names it in the reason), or None if it can."""
    if value is not None and len(value) > MAX_ID_LENGTH:
        return f"{what} is {len(value)} characters long; ids are at most {MAX_ID_LENGTH} (MAX_ID_LENGTH)"
    return None
