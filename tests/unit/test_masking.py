"""Personal data is masked in structured logs, wherever it appears."""

from __future__ import annotations

import json

import pytest

from fulfillment.edge.observability import MASK, logger, mask_personal_data


def test_masks_personal_keys_at_any_depth() -> None:
    record = {
        "order_key": "shop:1",
        "customer": {"email": "a@b.c"},
        "detail": {"shipping": {"city": "Berlin"}},
        "lines": [{"name": "Zoë"}],
        "status": "SHIPPED",
    }

    assert mask_personal_data(record) == {
        "order_key": "shop:1",
        "customer": MASK,
        "detail": {"shipping": MASK},
        "lines": MASK,
        "status": "SHIPPED",
    }


def test_the_logger_masks_what_a_careless_log_line_passes(capsys: pytest.CaptureFixture[str]) -> None:
    log = logger(service="masking-test")

    log.info("order received", email="zoe@example.com", order_key="shop:1", phone="+49 30 1")

    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (line["email"], line["phone"], line["order_key"]) == (MASK, MASK, "shop:1")
