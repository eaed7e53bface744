"""Lint every state machine in template.yaml with statelint, after substituting its placeholders.

cfn-lint does not look inside an AWS::Serverless::StateMachine's DefinitionUri; statelint does, but
only on a concrete definition, so substitutions are resolved the way the local runtime resolves them.
Also refuses what the local engine cannot run (JSONata, Variables).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from local.template import LocalTemplate

ROOT = Path(__file__).resolve().parent.parent


def _local_engine_problems(definition: dict[str, Any], where: str = "") -> list[str]:
    problems = []
    if definition.get("QueryLanguage") == "JSONata":
        problems.append(f"{where or 'definition'}: JSONata is not supported by the local engine")
    for name, state in definition.get("States", {}).items():
        for forbidden in ("Assign", "Arguments", "Output"):
            if forbidden in state:
                problems.append(f"state {name!r}: {forbidden} (JSONata/Variables) is not supported locally")
        for branch in state.get("Branches", []):
            problems += _local_engine_problems(branch, f"state {name!r} branch")
        processor = state.get("ItemProcessor") or state.get("Iterator")
        if processor:
            problems += _local_engine_problems(processor, f"state {name!r} item processor")
    return problems


def main() -> int:
    failures = 0
    for machine in LocalTemplate(ROOT).state_machines():
        for problem in _local_engine_problems(machine.definition):
            print(f"{machine.logical_id}: {problem}")
            failures += 1
        with tempfile.NamedTemporaryFile("w", suffix=".asl.json", delete=False) as handle:
            json.dump(machine.definition, handle)
        statelint = str(Path(sys.executable).parent / "statelint")
        result = subprocess.run([statelint, handle.name], check=False)  # noqa: S603 - our own venv's tool
        Path(handle.name).unlink()
        failures += result.returncode != 0
        print(f"{machine.logical_id}: statelint {'ok' if result.returncode == 0 else 'FAILED'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
