"""The ``fulfillment`` command line without a runtime: every command's ``--help``, the bulk progress bar."""

from __future__ import annotations

import argparse
import io
from collections.abc import Iterator

import pytest

from ops.cli import build_parser
from ops.progress import ProgressBar


def leaf_commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    subcommands = [action for action in parser._actions if isinstance(action, argparse._SubParsersAction)]
    if not subcommands:
        yield path
    for action in subcommands:
        for name, child in action.choices.items():
            yield from leaf_commands(child, (*path, name))


LEAVES = sorted(leaf_commands(build_parser()))


def test_the_walk_finds_every_noun() -> None:
    assert {leaf[0] for leaf in LEAVES} >= {"stores", "orders", "dead-letters"}
    assert ("orders", "rerun") in LEAVES


@pytest.mark.parametrize("command", LEAVES, ids=" ".join)
def test_every_command_explains_itself(command: tuple[str, ...], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args([*command, "--help"])

    assert exited.value.code == 0
    shown = capsys.readouterr().out
    assert shown.startswith(f"usage: fulfillment {' '.join(command)}")
    description = shown.split("\n\n")[1]
    assert len(description.split()) >= 3, f"{' '.join(command)} has no useful description"


class FakeTerminal(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


class TestProgressBar:
    def test_on_a_terminal_it_redraws_one_line_and_ends_it(self) -> None:
        terminal = FakeTerminal(tty=True)
        bar = ProgressBar(8, stream=terminal, width=8)

        for _ in range(3):
            bar.advance()
        bar.finish()

        frames = terminal.getvalue().split("\r")[1:]
        assert frames[2] == "[###     ] 3/8"
        assert terminal.getvalue().endswith("\n")

    def test_an_estimated_total_grows_with_the_work_done(self) -> None:
        terminal = FakeTerminal(tty=True)
        bar = ProgressBar(1, stream=terminal, width=4)

        bar.advance()
        bar.advance()

        assert terminal.getvalue().split("\r")[-1] == "[####] 2/2"

    def test_nothing_is_drawn_when_not_a_terminal(self) -> None:
        pipe = FakeTerminal(tty=False)
        bar = ProgressBar(3, stream=pipe)

        bar.advance()
        bar.finish()

        assert pipe.getvalue() == ""


class TestBulkRerun:
    def test_it_reruns_every_failed_order_with_a_bar_on_a_terminal_and_lists_refusals(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        from fulfillment.model import OrderStatus
        from ops import cli
        from tests.fakes import FulfillmentWorld

        world = FulfillmentWorld()
        reopenable = world.order_at(OrderStatus.FAILED, external_id="1")
        voided = world.order_at(OrderStatus.FAILED, external_id="2", platform_refs={"payment_method": "cod"})
        terminal = FakeTerminal(tty=True)
        monkeypatch.setattr(cli, "domain_deps", lambda target: world)
        monkeypatch.setattr(cli, "_executions_port", lambda target: world.workflow)
        monkeypatch.setattr("sys.stderr", terminal)
        args = build_parser().parse_args(["orders", "rerun", "--status", "FAILED", "--by", "ops"])

        with pytest.raises(cli.Refused) as refused:
            cli.orders_rerun(args, cli.Target("table", "dev", {}))

        actions = {row["order_key"]: row["action"] for row in refused.value.result}
        assert actions == {reopenable: "reopened", voided: "refused"}
        assert terminal.getvalue().split("\r")[-1] == "[####################] 2/2\n"
