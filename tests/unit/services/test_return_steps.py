"""The return workflow's steps over fakes: authorization by policy, the warehouse's reports, disposition,
refund or replacement, and the counters that keep returns within what was delivered."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from fulfillment.errors import InvalidTransition, OrderNotFound, ReturnInvalid, ReturnNotAllowed
from fulfillment.model import OrderStatus
from fulfillment.model.order import REPLACES_REF
from fulfillment.model.returns import Resolution, ReturnStatus
from fulfillment.model.writeback import UpdateKind, WriteBackRequest
from fulfillment.returns.authorize import authorize_return
from fulfillment.returns.close import close_return
from fulfillment.returns.dispose import dispose_return
from fulfillment.returns.request import ReturnLineRequest, ReturnRequest, request_return
from fulfillment.returns.rerun import rerun_return
from fulfillment.returns.resolve import resolve_return
from fulfillment.returns.waits import ReturnLineReport, ReturnReport, park_return_wait, record_return_report
from tests.fakes import FulfillmentWorld, make_line, money
from tests.fakes_platform_payments import FakePlatformPayments

R = ReturnStatus


@pytest.fixture
def world() -> FulfillmentWorld:
    return FulfillmentWorld()


def _completed(world: FulfillmentWorld, **overrides: object) -> str:
    return world.order_at(OrderStatus.COMPLETED, **overrides)


def _request(key: str, quantity: int = 1, **fields: object) -> ReturnRequest:
    values: dict[str, object] = {
        "order_key": key,
        "lines": [ReturnLineRequest(line_id="301", quantity=quantity)],
        "reason": "defective",
        "requested_by": "cs-anna",
    }
    return ReturnRequest.model_validate(values | fields)


def _through_receipt(world: FulfillmentWorld, return_key: str) -> None:
    assert authorize_return(return_key, world)["authorized"]
    park_return_wait(return_key, "tok-goods", "goods", world)
    ret = world.returns.get(return_key)
    assert ret is not None and ret.rma
    record_return_report(ReturnReport(return_key=return_key, rma=ret.rma, event="received"), world)


def _inspect(world: FulfillmentWorld, return_key: str, result: str = "passed", resellable: bool = True) -> None:
    ret = world.returns.get(return_key)
    assert ret is not None and ret.rma
    park_return_wait(return_key, "tok-inspection", "inspection", world)
    lines = [ReturnLineReport(line_id=line.line_id, result=result, resellable=resellable) for line in ret.lines]  # type: ignore[arg-type]
    record_return_report(ReturnReport(return_key=return_key, rma=ret.rma, event="inspected", lines=lines), world)


def _run(world: FulfillmentWorld, return_key: str, result: str = "passed", resellable: bool = True) -> None:
    _through_receipt(world, return_key)
    _inspect(world, return_key, result, resellable)
    dispose_return(return_key, world)
    resolve_return(return_key, world)
    close_return(return_key, "closed", world)


class TestRequest:
    def test_opens_a_return_and_starts_its_execution(self, world: FulfillmentWorld) -> None:
        key = _completed(world)

        ret = request_return(_request(key), world)

        assert (ret.key, ret.status, ret.number) == (f"{key}:R1", R.REQUESTED, 1)
        assert world.workflow.started[-1] == ret.execution_name() == "kaffeekontor_4711-return1"
        assert world.stored(key).returns.opened == 1
        assert "return R1 requested" in world.last_event(key).reason

    @pytest.mark.parametrize(
        ("lines", "error"),
        [([ReturnLineRequest(line_id="999", quantity=1)], ReturnInvalid)],
    )
    def test_bad_lines_are_refused_and_write_nothing(self, world: FulfillmentWorld, lines: list, error: type) -> None:
        key = _completed(world)
        writes = world.orders.writes

        with pytest.raises(error):
            request_return(_request(key, lines=lines), world)

        assert (world.orders.writes, len(world.returns), world.workflow.start_calls) == (writes, 0, 0)

    def test_an_unknown_order_is_refused(self, world: FulfillmentWorld) -> None:
        with pytest.raises(OrderNotFound):
            request_return(_request("kaffeekontor:nope"), world)
        assert len(world.returns) == 0

    @pytest.mark.parametrize("status", [OrderStatus.SHIPPED, OrderStatus.DELIVERED, OrderStatus.CANCELLED])
    def test_an_order_not_yet_complete_takes_no_return(self, world: FulfillmentWorld, status: OrderStatus) -> None:
        key = world.order_at(status)

        with pytest.raises(ReturnNotAllowed):
            request_return(_request(key), world)
        assert (len(world.returns), world.workflow.start_calls) == (0, 0)

    def test_a_store_return_is_opened_once_per_store_id(self, world: FulfillmentWorld) -> None:
        key = _completed(world)
        store_request = _request(key, source="store", external_id="refund-77", refunded_by_store_minor=1450)

        first = request_return(store_request, world)
        again = request_return(store_request, world)

        assert first.key == again.key and len(world.returns) == 1


class TestAuthorization:
    def test_authorized_returns_claim_units_on_the_order(self, world: FulfillmentWorld) -> None:
        key = _completed(world)
        ret = request_return(_request(key, quantity=2), world)

        assert authorize_return(ret.key, world)["authorized"] is True

        stored = world.returns.get(ret.key)
        assert stored is not None and stored.status is R.AUTHORIZED and stored.rma == "RMA-kaffeekontor-4711-1"
        assert world.stored(key).returns.claims == {"301": 2}

    def test_outside_the_window_is_rejected_with_the_reason(self, world: FulfillmentWorld) -> None:
        key = _completed(world)
        order = world.stored(key)
        order.delivered_at = datetime.now(UTC) - timedelta(days=45)
        world.orders.save(order)
        ret = request_return(_request(key), world)

        assert authorize_return(ret.key, world)["authorized"] is False

        stored = world.returns.get(ret.key)
        assert stored is not None and stored.status is R.REJECTED
        assert "outside the 30-day return window" in (stored.rejection or "")
        assert "rejected" in world.last_event(key).reason and world.stored(key).returns.claims == {}

    def test_store_policy_non_returnable_skus_and_reasons(self, world: FulfillmentWorld) -> None:
        world.store_options(non_returnable_skus="MUG-CC-BLU", return_reasons="defective,damaged")
        key = _completed(world)
        ret = request_return(_request(key, reason="changed_mind"), world)

        authorize_return(ret.key, world)

        stored = world.returns.get(ret.key)
        assert stored is not None and stored.status is R.REJECTED
        assert "MUG-CC-BLU is not returnable" in (stored.rejection or "")
        assert "reason 'changed_mind'" in (stored.rejection or "")

    def test_two_returns_never_claim_more_than_was_delivered(self, world: FulfillmentWorld) -> None:
        key = _completed(world)  # line 301: 2 units delivered
        first = request_return(_request(key, quantity=2), world)
        second = request_return(_request(key, quantity=1), world)

        assert authorize_return(first.key, world)["authorized"] is True
        assert authorize_return(second.key, world)["authorized"] is False

        refused = world.returns.get(second.key)
        assert refused is not None and "2 delivered, 0 not yet returned" in (refused.rejection or "")
        assert world.stored(key).returns.claims == {"301": 2}

    def test_units_left_out_by_a_partial_fulfillment_cannot_be_returned(self, world: FulfillmentWorld) -> None:
        key = _completed(world, short={"MUG-CC-BLU": 1})
        ret = request_return(_request(key, quantity=2), world)

        assert authorize_return(ret.key, world)["authorized"] is False

    def test_authorizing_twice_claims_once(self, world: FulfillmentWorld) -> None:
        key = _completed(world)
        ret = request_return(_request(key), world)
        authorize_return(ret.key, world)
        authorize_return(ret.key, world)

        assert world.stored(key).returns.claims == {"301": 1}


class TestRefund:
    def test_a_store_paid_order_is_refunded_through_the_platform_once(self, world: FulfillmentWorld) -> None:
        key = _completed(world)
        ret = request_return(_request(key), world)

        _run(world, ret.key)
        resolve_return(ret.key, world)  # a re-run

        stored = world.returns.get(ret.key)
        assert stored is not None and stored.status is R.CLOSED and stored.refund == money("14.50")
        platform = world.platform_payments["woocommerce"]
        assert isinstance(platform, FakePlatformPayments)
        assert [(m.kind, m.amount, m.key) for m in platform.moved(key)] == [("refund", 1450, f"refund:{ret.key}")]
        assert world.stored(key).payment.refunded == money("14.50")
        order = world.stored(key)
        assert order.status is OrderStatus.PARTIALLY_RETURNED and order.returns.returned == {"301": 1}
        assert world.level().available == 10 - 2 + 1  # 2 shipped, 1 back on the shelf

    def test_a_gateway_paid_order_is_refunded_through_the_gateway_once(self, world: FulfillmentWorld) -> None:
        key = _completed(world, platform_refs={"payment_method": "authorized"})
        order = world.stored(key)
        world.payments.capture(order, order.totals.grand_total, "capture-for-test")
        ret = request_return(_request(key, quantity=2), world)

        _run(world, ret.key)
        resolve_return(ret.key, world)

        assert [c.amount for c in world.payments.charges_for(key, "refund")] == [2900]
        assert world.stored(key).status is OrderStatus.RETURNED
        assert UpdateKind.RETURNED in world.notifier.kinds_for(key)

    def test_a_refund_the_store_already_made_moves_no_money(self, world: FulfillmentWorld) -> None:
        key = _completed(world, platform_refs={"payment_method": "authorized"})
        ret = request_return(_request(key, source="store", external_id="r-1", refunded_by_store_minor=1450), world)

        _run(world, ret.key)

        assert not world.payments.charges_for(key, "refund")
        assert UpdateKind.REFUNDED not in world.notifier.kinds_for(key)

    def test_damaged_goods_are_refunded_but_written_off(self, world: FulfillmentWorld) -> None:
        key = _completed(world)
        ret = request_return(_request(key), world)

        _run(world, ret.key, resellable=False)

        stored = world.returns.get(ret.key)
        assert stored is not None and stored.lines[0].disposition == "write_off" and stored.status is R.CLOSED
        assert world.level().available == 10 - 2  # nothing back on the shelf


class TestInspectionFailed:
    def test_nothing_passed_refuses_and_gives_the_units_back(self, world: FulfillmentWorld) -> None:
        key = _completed(world)
        ret = request_return(_request(key), world)

        _run(world, ret.key, result="failed")

        stored = world.returns.get(ret.key)
        assert stored is not None and stored.status is R.CLOSED
        assert [e.status for e in world.returns.timeline(ret.key)][-2] is R.REFUSED
        assert stored.lines[0].disposition == "return_to_customer"
        order = world.stored(key)
        assert order.returns.claims == {"301": 0} and order.status is OrderStatus.COMPLETED
        assert not world.notifier.kinds_for(key)

    def test_refuse_refund_policy_keeps_the_units_counted(self, world: FulfillmentWorld) -> None:
        world.store_options(failed_inspection="refuse_refund")
        key = _completed(world)
        ret = request_return(_request(key), world)

        _run(world, ret.key, result="failed")

        stored = world.returns.get(ret.key)
        assert stored is not None and stored.lines[0].disposition == "write_off"
        assert world.stored(key).returns.claims == {"301": 1}


class TestReplacement:
    def test_a_replacement_order_is_created_linked_and_started_once(self, world: FulfillmentWorld) -> None:
        key = _completed(world, lines=(make_line(), make_line(line_id="302", sku="MUG-CC-RED")))
        ret = request_return(_request(key, resolution=Resolution.REPLACEMENT), world)

        _run(world, ret.key)
        resolve_return(ret.key, world)

        stored = world.returns.get(ret.key)
        assert stored is not None and stored.replacement_order_key == "kaffeekontor:4711-R1"
        replacement = world.stored("kaffeekontor:4711-R1")
        assert replacement.platform_refs[REPLACES_REF] == key and replacement.status is OrderStatus.RECEIVED
        assert [(line.line_id, line.quantity) for line in replacement.lines] == [("301", 1)]
        assert replacement.totals.grand_total == money("0.00") and replacement.paid
        assert world.stored(key).returns.replacements == ["kaffeekontor:4711-R1"]
        assert world.workflow.started.count(replacement.execution_name()) == 1
        assert world.stored(key).status is OrderStatus.PARTIALLY_RETURNED
        assert not world.payments.charges_for(key, "refund")


class TestExpiry:
    def test_goods_that_never_arrive_release_their_units(self, world: FulfillmentWorld) -> None:
        key = _completed(world)
        ret = request_return(_request(key, quantity=2), world)
        authorize_return(ret.key, world)
        park_return_wait(ret.key, "tok", "goods", world)

        close_return(ret.key, "expired", world)

        stored = world.returns.get(ret.key)
        assert stored is not None and stored.status is R.EXPIRED
        assert world.stored(key).returns.claims == {"301": 0}
        assert "expired" in world.last_event(key).reason


class TestWarehouseReports:
    def test_a_report_for_the_wrong_rma_is_refused(self, world: FulfillmentWorld) -> None:
        key = _completed(world)
        ret = request_return(_request(key), world)
        authorize_return(ret.key, world)

        with pytest.raises(ReturnInvalid):
            record_return_report(ReturnReport(return_key=ret.key, rma="RMA-forged", event="received"), world)

    def test_a_duplicate_receipt_resumes_once_and_changes_nothing(self, world: FulfillmentWorld) -> None:
        key = _completed(world)
        ret = request_return(_request(key), world)
        _through_receipt(world, ret.key)
        stored = world.returns.get(ret.key)
        assert stored is not None and stored.rma
        events = len(world.returns.timeline(ret.key))

        record_return_report(ReturnReport(return_key=ret.key, rma=stored.rma, event="received"), world)

        assert len(world.returns.timeline(ret.key)) == events
        assert world.workflow.resumed_tokens == ["tok-goods"]

    def test_goods_arriving_before_the_wait_is_parked_resume_at_once(self, world: FulfillmentWorld) -> None:
        key = _completed(world)
        ret = request_return(_request(key), world)
        authorize_return(ret.key, world)
        stored = world.returns.get(ret.key)
        assert stored is not None and stored.rma
        record_return_report(ReturnReport(return_key=ret.key, rma=stored.rma, event="received"), world)

        park_return_wait(ret.key, "late-token", "goods", world)

        assert world.workflow.resumed_tokens == ["late-token"]


class TestRerun:
    def test_a_failed_return_reruns_from_where_it_failed(self, world: FulfillmentWorld) -> None:
        key = _completed(world)
        ret = request_return(_request(key), world)
        _through_receipt(world, ret.key)
        close_return(ret.key, "failed", world, {"Error": "TransientError", "Cause": "warehouse API down"})
        failed = world.returns.get(ret.key)
        assert failed is not None and failed.status is R.FAILED and failed.failure
        assert failed.failure.resume_at == "RECEIVED"

        rerun = rerun_return(ret.key, world, by="ops-lead", reason="warehouse back")

        assert rerun.status is R.RECEIVED and rerun.failure is None and rerun.attempt == 1
        assert world.workflow.started[-1] == "kaffeekontor_4711-return1-rerun1"
        _inspect(world, ret.key)
        dispose_return(ret.key, world)
        resolve_return(ret.key, world)
        close_return(ret.key, "closed", world)
        done = world.returns.get(ret.key)
        assert done is not None and done.status is R.CLOSED and done.refund == money("14.50")
        assert any("re-run by ops-lead" in event.reason for event in world.timeline(key))

    def test_only_a_failed_return_reruns(self, world: FulfillmentWorld) -> None:
        key = _completed(world)
        ret = request_return(_request(key), world)

        with pytest.raises(InvalidTransition):
            rerun_return(ret.key, world, by="ops", reason="why not")
        assert world.workflow.started == [ret.execution_name()]


class _RecordingStore:
    def __init__(self) -> None:
        self.updates: list[Any] = []

    def apply(self, store: Any, credentials: Any, update: Any) -> Any:
        from fulfillment.model.writeback import WriteBackResult

        self.updates.append(update)
        return WriteBackResult(done=True)


class TestReplacementWriteBacks:
    """A replacement exists only here: the store hears about it on its original order."""

    def _replacement(self, world: FulfillmentWorld) -> tuple[str, str, _RecordingStore, Any]:
        from fulfillment.write_back import write_back
        from tests.fakes import SECRET_REF, FakeSecretStore

        key = _completed(world)
        ret = request_return(_request(key, resolution=Resolution.REPLACEMENT), world)
        _run(world, ret.key)
        replacement_key = world.stored(key).returns.replacements[0]
        client = _RecordingStore()
        deps = type(
            "Deps",
            (),
            {
                "orders": world.orders,
                "stores": world.stores,
                "secrets": FakeSecretStore({SECRET_REF: "test-secret"}),
                "write_backs": {"woocommerce": client},
            },
        )()
        return key, replacement_key, client, lambda **kw: write_back(WriteBackRequest(**kw), deps)

    def test_its_shipment_is_a_note_on_the_original_order(self, world: FulfillmentWorld) -> None:
        key, replacement_key, client, write_back = self._replacement(world)
        replacement = world.stored(replacement_key)
        replacement.carrier, replacement.tracking_number = "simcarrier", "TRK-R1"
        world.orders.save(replacement)

        write_back(order_key=replacement_key, kind=UpdateKind.SHIPPED)

        (update,) = client.updates
        assert update.kind is UpdateKind.RETURNED and update.order.key == key
        assert "shipped with simcarrier TRK-R1" in update.reason and update.key.endswith(f"{replacement_key}:shipped")

    def test_a_refund_of_the_replacement_is_refunded_on_the_original_order(self, world: FulfillmentWorld) -> None:
        key, replacement_key, client, write_back = self._replacement(world)

        write_back(order_key=replacement_key, kind=UpdateKind.REFUNDED, amount_minor=1450, reference="r")

        (update,) = client.updates
        assert (update.kind, update.order.key, update.amount) == (UpdateKind.REFUNDED, key, money("14.50"))


class TestLateGoods:
    def test_goods_arriving_after_the_rma_lapsed_are_noted_and_nothing_moves(self, world: FulfillmentWorld) -> None:
        key = _completed(world)
        ret = request_return(_request(key), world)
        authorize_return(ret.key, world)
        park_return_wait(ret.key, "tok", "goods", world)
        close_return(ret.key, "expired", world)
        lapsed = world.returns.get(ret.key)
        assert lapsed is not None and lapsed.rma

        for _ in range(2):  # the warehouse reports twice
            record_return_report(ReturnReport(return_key=ret.key, rma=lapsed.rma, event="received"), world)

        late = world.returns.get(ret.key)
        assert sum("arrived after RMA" in event.reason for event in world.returns.timeline(ret.key)) == 1
        assert late is not None and late.status is R.EXPIRED
        assert "arrived after RMA" in world.returns.timeline(ret.key)[-1].reason
        assert world.workflow.resumed_tokens == [] and world.inventory.restocked == {}
