"""What is read before (and after) a delivery is verified is read with bounds: depth, numbers, ids, times.

Each of these once escaped as an exception, a 500 in Lambda (issue #14); now each is a named refusal.
"""

from __future__ import annotations

import json

import pytest

from fulfillment.adapters.platforms.base import from_unix, load_json, nested_deeper_than, require_fresh
from fulfillment.adapters.platforms.magento import _quantity
from fulfillment.adapters.platforms.opencart import _decimal
from fulfillment.errors import InvalidMoney, InvalidSignature, MalformedPayload
from fulfillment.intake.partners import verified_partner_event, verify_partner_signature
from fulfillment.model.limits import MAX_CALLBACK_BYTES, MAX_JSON_DEPTH, MAX_QUANTITY
from fulfillment.model.store import WebhookRequest
from fulfillment.steps.tracking import TrackingEvent


def _nest(depth: int) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


class TestDepth:
    @pytest.mark.parametrize("depth", [0, 1, 10, MAX_JSON_DEPTH - 1, MAX_JSON_DEPTH])
    def test_a_text_no_deeper_than_the_limit_passes(self, depth: int) -> None:
        assert not nested_deeper_than(_nest(depth), MAX_JSON_DEPTH)
        assert not nested_deeper_than(b"[" * depth + b"]" * depth + b"[{}]" * 500, MAX_JSON_DEPTH)

    @pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 500, 100_000])
    def test_a_deeper_one_is_caught_on_the_raw_bytes(self, depth: int) -> None:
        assert nested_deeper_than(_nest(depth), MAX_JSON_DEPTH)
        assert nested_deeper_than(b"[{" * depth + b"}]" * depth, MAX_JSON_DEPTH)

    def test_brackets_inside_strings_do_not_count(self) -> None:
        text = json.dumps({"note": "[" * 1_000 + '\\"{' * 500, "ok": [[1]]}).encode()

        assert not nested_deeper_than(text, MAX_JSON_DEPTH)

    def test_what_the_depth_depends_on_is_the_deepest_branch(self) -> None:
        shallow_many = b"[" + b",".join([b"[[1]]"] * 10_000) + b"]"
        one_deep_branch = b"[" + b"[1]," * 100 + b"[" * 70 + b"]" * 70 + b"]"

        assert not nested_deeper_than(shallow_many, MAX_JSON_DEPTH)
        assert nested_deeper_than(one_deep_branch, MAX_JSON_DEPTH)


class TestLoadJson:
    @pytest.mark.parametrize(
        ("body", "reason"),
        [
            (_nest(100_000), "MAX_JSON_DEPTH"),
            (b'{"a":NaN}', "not JSON"),
            (b'{"a":Infinity}', "not JSON"),
            (b'{"a":-Infinity}', "not JSON"),
            (b'{"a":"\\ud800"}', "not JSON"),  # a lone surrogate: nothing could encode it again
            (b'{"a":' + b"9" * 5_000 + b"}", "not JSON"),
            (b"\xff\xfe", "not JSON"),
            (b"{not json", "not JSON"),
        ],
    )
    def test_refuses_with_a_reason(self, body: bytes, reason: str) -> None:
        with pytest.raises(MalformedPayload, match=reason):
            load_json(body, "the event")

    def test_reads_json_as_json_loads_would(self) -> None:
        body = b'{"eventCreated":1749021160,"eventId":"\\ud83d\\ude00","n":[1.5,null,true]}'

        assert load_json(body, "the event") == json.loads(body)


class TestNumbersAndTimes:
    @pytest.mark.parametrize("stamp", ["\u00b2" * 10, "\u0661\u0662\u0663", "9" * 5_000, "1e9", " ", "--1"])
    def test_a_signed_timestamp_is_ascii_digits_or_refused(self, stamp: str) -> None:
        with pytest.raises(InvalidSignature):
            require_fresh(stamp, 1_750_000_000.0)
        with pytest.raises(InvalidSignature):
            verify_partner_signature("s", b"{}", stamp, "sha256=00", now=1_750_000_000.0)

    @pytest.mark.parametrize("seconds", [10**40, -(10**40), 1e300, float("inf")])
    def test_a_unix_time_out_of_range_is_a_value_error(self, seconds: float) -> None:
        with pytest.raises(ValueError, match="not a Unix time"):
            from_unix(seconds)

    @pytest.mark.parametrize("value", ["Infinity", "sNaN", "NaN", "1e999999999", MAX_QUANTITY + 1, 1e300])
    def test_a_magento_quantity_that_is_no_quantity_is_a_value_error(self, value: float | str) -> None:
        with pytest.raises(ValueError, match="quantity"):
            _quantity(value)

    @pytest.mark.parametrize("value", ["1e999999", "1e15", "Infinity"])
    def test_an_opencart_amount_too_large_for_money_is_invalid_money(self, value: str) -> None:
        with pytest.raises(InvalidMoney):
            _decimal(value, "total")


class TestPartnerCallbacks:
    def test_a_body_over_the_limit_is_413_before_it_is_verified(self) -> None:
        from fulfillment.errors import PayloadTooLarge

        request = WebhookRequest(body=b" " * (MAX_CALLBACK_BYTES + 1))
        with pytest.raises(PayloadTooLarge, match="MAX_CALLBACK_BYTES"):
            verified_partner_event(TrackingEvent, request, "secret", "carrier")
