"""Workarounds for moto's Step Functions interpreter, applied by the local runtime only (never production code).

The upstream report is docs/moto-heartbeat-bug.md.
"""

from __future__ import annotations

from typing import Any


def answer_survives_heartbeat_setup() -> None:
    """A ``SendTaskSuccess``/``SendTaskFailure`` (or heartbeat) that arrives before a task with ``HeartbeatSeconds``
    starts waiting must not be lost (moto 5.2.5).

    moto adds the task token to the callback pool before it runs the task's resource (our Lambda stores the token,
    and a delivery already recorded answers it at once), but creates the task's heartbeat endpoint only after the
    resource returned (``state_task_service_callback._eval_integration_pattern``). ``CallbackEndpoint.notify`` stores
    the outcome and wakes the heartbeat endpoint only if one exists; the fresh endpoint then waits the whole
    heartbeat, and ``_wait_for_task_token_heartbeat`` reports ``HeartbeatTimedOut`` instead of the stored outcome.
    On AWS the answer is taken whenever it comes after the token exists. Here a heartbeat endpoint created after an
    outcome is set at once, so the waiter reads the stored outcome; and a heartbeat sent before the endpoint exists
    is accepted (moto answers ``InvalidToken``): the heartbeat clock starts when the wait does anyway.
    """
    from moto.stepfunctions.parser.asl.eval.callback.callback import CallbackEndpoint, HeartbeatEndpoint

    if getattr(CallbackEndpoint, "_answer_survives_heartbeat_setup", False):
        return
    original_setup = CallbackEndpoint.setup_heartbeat_endpoint

    def setup_heartbeat_endpoint(self: Any, heartbeat_seconds: int) -> HeartbeatEndpoint:
        endpoint: HeartbeatEndpoint = original_setup(self, heartbeat_seconds)
        # notify() writes the outcome, then reads the endpoint; this writes the endpoint, then reads the outcome:
        # whichever runs second sees the other's write, so the wake-up cannot be missed.
        if self.get_outcome() is not None:
            endpoint.notify()  # type: ignore[no-untyped-call]
        return endpoint

    def notify_heartbeat(self: Any) -> bool:
        if self._heartbeat_endpoint is None:
            return True
        self._heartbeat_endpoint.notify()
        return True

    CallbackEndpoint.setup_heartbeat_endpoint = setup_heartbeat_endpoint  # type: ignore[method-assign]
    CallbackEndpoint.notify_heartbeat = notify_heartbeat  # type: ignore[method-assign]
    CallbackEndpoint._answer_survives_heartbeat_setup = True  # type: ignore[attr-defined]
