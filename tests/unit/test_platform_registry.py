"""One registry of store platforms, and every place derived from it has every platform.

A platform is its module in ``fulfillment/adapters/platforms/`` (exporting ``SPEC``); these tests fail
when one lacks anything the rest of the project derives from it: a stub API, its sample 'order paid'
delivery (signed so that the platform's own verifier accepts it), a demo store, a README row, a CLI
choice. Nothing here names a platform: a seventh one is checked by the same tests.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import subprocess
import sys
import time

import pytest

import fulfillment.adapters.platforms as platforms_package
from fulfillment.adapters.http_client import HttpClient
from fulfillment.adapters.platforms.base import PlatformSpec
from fulfillment.adapters.platforms.registry import PlatformRegistry, platform_names, platform_spec, platform_specs
from fulfillment.errors import InvalidSignature
from fulfillment.model.store import Store, StoreCredentials, WebhookRequest
from local.deliveries import paid_delivery
from local.platforms import demo_stores, paid_sample
from local.stubs import platform_stub, stub_names
from ops.cli import build_parser
from tests.conftest import ROOT

NAMES = platform_names()
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _choices(parser: object, *path: str) -> list[str]:
    """The choices of the ``--platform`` option (or the positional ``platform``) of a sub-command."""
    import argparse

    assert isinstance(parser, argparse.ArgumentParser)
    for name in path:
        action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = action.choices[name]
    assert isinstance(parser, argparse.ArgumentParser)
    option = next(a for a in parser._actions if a.dest == "platform")
    return list(option.choices or [])


class TestTheRegistry:
    def test_every_public_module_of_the_package_is_a_platform_with_its_own_spec(self) -> None:
        modules = [
            info.name
            for info in pkgutil.iter_modules(platforms_package.__path__)
            if info.name not in {"base", "registry"} and not info.name.startswith("_")
        ]

        assert list(NAMES) == sorted(modules) and len(NAMES) >= 6
        for name in NAMES:
            spec = importlib.import_module(f"fulfillment.adapters.platforms.{name}").SPEC
            assert isinstance(spec, PlatformSpec) and spec.name == name and spec.title
            assert platform_spec(name) is spec

    def test_the_adapters_are_built_from_the_spec_and_a_name_that_is_no_platform_is_none(self) -> None:
        registry = PlatformRegistry(HttpClient(attempts=1))

        assert [registry[name].inbound.name for name in registry] == list(NAMES)
        for helper in ("base", "registry", "_magento_adobe_io", "WooCommerce"):
            assert helper not in registry
            with pytest.raises(KeyError):
                platform_spec(helper)

    def test_a_cold_intake_imports_only_the_platform_its_delivery_names(self) -> None:
        """The handler imports no platform; the first delivery imports its own platform's module and no other."""
        name = NAMES[-1]
        code = f"""
import json, sys
import functions.intake_webhook.app
from fulfillment.adapters.http_client import HttpClient
from fulfillment.adapters.platforms.registry import PlatformRegistry
def imported():
    return sorted(m.rsplit(".", 1)[1] for m in sys.modules if m.startswith("fulfillment.adapters.platforms."))
at_import = imported()
registry = PlatformRegistry(HttpClient())
listed = list(registry)
registry[{name!r}]
print(json.dumps([at_import, listed, imported()]))
"""
        path = f"{ROOT}:{ROOT / 'layers' / 'domain'}"
        env = {"PATH": "/usr/bin:/bin", "TZ": "UTC", "AWS_DEFAULT_REGION": "us-east-1", "PYTHONPATH": path}
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False)

        assert done.returncode == 0, done.stderr
        at_import, listed, after_delivery = json.loads(done.stdout)
        assert listed == list(NAMES)
        assert set(at_import) & set(NAMES) == set()
        assert set(after_delivery) & set(NAMES) == {name}


class TestEveryPlatformHasEverythingDerivedFromIt:
    @pytest.mark.parametrize("name", NAMES)
    def test_a_stub_api_with_the_write_back_checks(self, name: str) -> None:
        stub = platform_stub(name)

        assert callable(stub.install) and callable(stub.wrote_shipment) and callable(stub.wrote_completion)

    def test_no_stub_without_a_platform(self) -> None:
        assert stub_names() == NAMES

    @pytest.mark.parametrize("name", NAMES)
    def test_a_paid_sample_its_own_verifier_accepts_when_signed_now_and_reads_as_an_order(self, name: str) -> None:
        spec = platform_spec(name)
        sample = paid_sample(name)
        assert sample.is_file() and sample.with_name(sample.stem + ".headers.json").is_file()
        inbound = spec.build(HttpClient(attempts=1)).inbound
        now = time.time()
        delivery = paid_delivery(name, "test-secret", now)
        request = WebhookRequest(body=delivery.body, headers={k.lower(): v for k, v in delivery.headers.items()})
        credentials = StoreCredentials(webhook_secret="test-secret")

        inbound.verify(request, credentials, now)
        with pytest.raises(InvalidSignature):
            inbound.verify(request, StoreCredentials(webhook_secret="another-secret"), now)
        if spec.signs_timestamp:
            inbound.verify(request, credentials, now + spec.max_age_seconds - 1)  # a retry at the window end
            with pytest.raises(InvalidSignature):
                inbound.verify(request, credentials, now + spec.max_age_seconds + 3600)
        else:
            inbound.verify(request, credentials, now + 3600)
        entry = demo_stores()[name]
        store = Store(store_id=entry["store_id"], platform=name, secret_ref="unused", options=entry.get("options", {}))
        event = inbound.read(request, store)
        assert event.order is not None or event.needs_fetch, f"{name}: the paid sample is neither an order nor a fetch"

    @pytest.mark.parametrize("name", NAMES)
    def test_a_demo_store_registered_by_its_identity_key(self, name: str) -> None:
        entry = demo_stores().get(name)

        assert entry is not None, f"local/stores.json has no {name} store"
        assert entry.get(platform_spec(name).identity_key), (
            f"{name}'s demo store has no {platform_spec(name).identity_key}"
        )

    def test_no_demo_store_without_a_platform(self) -> None:
        entries = json.loads((ROOT / "local" / "stores.json").read_text(encoding="utf-8"))

        assert {entry["platform"] for entry in entries} == set(NAMES)

    @pytest.mark.parametrize(
        "table", ["| Platform | How deliveries are verified", "| Platform | Store-reported returns"]
    )
    def test_a_row_in_each_of_readmes_platform_tables(self, table: str) -> None:
        rows = README.split(table, 1)[1].split("\n\n", 1)[0].splitlines()[2:]

        assert [
            spec.title for spec in platform_specs() if not any(row.startswith(f"| {spec.title}") for row in rows)
        ] == []
        assert len(rows) == len(NAMES)

    def test_the_cli_and_python_m_local_send_offer_every_platform(self, capsys: pytest.CaptureFixture[str]) -> None:
        from local.__main__ import main as local_main

        assert _choices(build_parser(), "stores", "register") == list(NAMES)
        with pytest.raises(SystemExit) as shown:
            local_main(["send", "--help"])
        assert shown.value.code == 0
        assert "{" + ",".join(NAMES) + "}" in capsys.readouterr().out

    def test_readme_says_how_to_add_a_platform(self) -> None:
        section = README.split("### Adding a platform", 1)[1].split("\n## ", 1)[0]

        for step in ("adapters/platforms/", "local/stubs/", "events/", "local/stores.json", "README"):
            assert step in section
