"""What a deploy needs is named and fits: parameters documented, no loopback defaults, names within AWS limits."""

from __future__ import annotations

import re

import pytest

from local.template import ACCOUNT, REGION, LocalTemplate
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")
PARAMETERS = LocalTemplate(ROOT).document["Parameters"]


def deploy_table() -> dict[str, str]:
    """The README's parameter table: name → its default column."""
    section = README.split("## Deploying", 1)[1]
    rows = {}
    for names, default in re.findall(r"^\| ((?:`\w+`(?: / )?)+) \| ([^|]+) \|", section, flags=re.MULTILINE):
        for name in re.findall(r"`(\w+)`", names):
            rows[name] = default.strip()
    return rows


def test_every_parameter_is_in_the_readme_with_its_default() -> None:
    table = deploy_table()
    assert sorted(table) == sorted(PARAMETERS)
    for name, spec in PARAMETERS.items():
        if "Default" not in spec:
            assert table[name] == "**required**", name


@pytest.mark.parametrize("name", sorted(PARAMETERS))
def test_no_deployed_default_points_at_this_machine(name: str) -> None:
    default = str(PARAMETERS[name].get("Default", ""))
    assert not re.search(r"127\.0\.0\.1|localhost|0\.0\.0\.0", default), f"{name} defaults to {default}"


def test_every_url_parameter_is_required() -> None:
    urls = [name for name in PARAMETERS if name.endswith("Url")]
    assert urls and all("Default" not in PARAMETERS[name] for name in urls)


def test_the_secrets_the_functions_read_are_in_the_readme() -> None:
    from fulfillment.settings import Settings

    settings = Settings(table_name="t", stage="<Stage>")
    refs = [
        settings.warehouse_secret_ref("<WarehouseName>"),
        settings.payment_secret_ref,
        "/fulfillment/<Stage>/stores/<storeId>/webhook-secret",
    ]
    section = README.split("## Deploying", 1)[1]
    assert [ref for ref in refs if f"`{ref}`" not in section] == []


def test_state_machine_names_fit_the_longest_stack_name() -> None:
    stack = "s" * 128  # CloudFormation's longest stack name
    stack_id = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{stack}/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
    names = [machine.name for machine in LocalTemplate(ROOT, stack_name=stack, stack_id=stack_id).state_machines()]
    assert len(names) == 2
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{1,80}", name) for name in names), names
    assert [machine.name for machine in LocalTemplate(ROOT).state_machines()] == ["local-fulfillment", "local-returns"]
