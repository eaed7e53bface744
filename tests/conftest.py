"""Shared fixtures: fake AWS credentials, no real endpoints, fresh caches per test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
WOO_EVENTS = ROOT / "events" / "woocommerce"


def pytest_configure(config: pytest.Config) -> None:
    """Before any handler module is imported: the environment the template gives the functions, as on Lambda."""
    from local.lambdas import merged_environment
    from local.template import LocalTemplate

    for key, value in merged_environment(LocalTemplate(ROOT).functions()).items():
        os.environ.setdefault(key, value)
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
    if not hasattr(config, "workerinput"):  # the controller (or the only process): a fresh record of AWS calls
        from tests import iam

        iam.clear_calls()


def _whole_suite(config: pytest.Config) -> bool:
    """Did this run cover the whole end-to-end suite (``make test``, ``make test-e2e``), unfiltered?"""
    option = config.option
    if option.keyword or option.markexpr or option.lf or option.deselect or option.ignore or option.ignore_glob:
        return False
    whole = {ROOT, ROOT / "tests", ROOT / "tests" / "e2e"}
    return any("::" not in arg and Path(arg).resolve() in whole for arg in config.args)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """The least-privilege check (``tests/iam.py``) over the calls the end-to-end suite's functions made."""
    if hasattr(session.config, "workerinput"):
        return
    from local.template import LocalTemplate
    from tests import iam

    calls = iam.read_calls()
    if not calls:
        return  # no end-to-end test ran
    complete = exitstatus == 0 and _whole_suite(session.config)
    problems = iam.check(calls, LocalTemplate(ROOT), complete=complete)
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if problems:
        if reporter is not None:
            reporter.write_sep("=", "least privilege: template.yaml against the AWS calls made", red=True)
            for problem in problems:
                reporter.write_line(problem)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    elif reporter is not None:
        scope = "every grant used" if complete else "granted (unused grants are checked on a whole run)"
        reporter.ensure_newline()
        reporter.write_line(f"least privilege: {len(calls)} distinct AWS calls, each {scope}")


@pytest.fixture(autouse=True)
def _offline_aws(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Never reach AWS: fake credentials and region, tracing and metrics output off."""
    if request.node.get_closest_marker("e2e"):
        yield  # the local runtime owns the environment of end-to-end tests
        return
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_DISABLED": "true",
        "POWERTOOLS_SERVICE_NAME": "fulfillment-tests",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    yield


@pytest.fixture(autouse=True)
def _fresh_caches() -> Iterator[None]:
    from fulfillment import bootstrap, settings

    bootstrap.container.cache_clear()
    settings.get_settings.cache_clear()
    yield
    bootstrap.container.cache_clear()
    settings.get_settings.cache_clear()


@pytest.fixture
def woo_paid_body() -> bytes:
    return (WOO_EVENTS / "order_updated_paid.json").read_bytes()


@pytest.fixture
def woo_pending_body() -> bytes:
    return (WOO_EVENTS / "order_created_pending.json").read_bytes()
