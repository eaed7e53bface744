"""Cold import time of every function's handler module, as a ratio to ``import boto3`` in the same run.

Each measurement is a fresh ``.venv/bin/python -I`` whose sys.path is what Lambda gives the function: its
CodeUri, the domain layer, then the interpreter's own paths (stdlib and the venv's site-packages, standing in
for the layer's dependencies and for the runtime's boto3), never the repository root. The environment is the
function's own from template.yaml. The child times only the import, with ``time.perf_counter``.
Runs are interleaved (boto3, function, boto3, function, ...) in shuffled order; medians are reported.

ratio = median over the runs of (import ms of the handler module / import ms of the boto3 run just before it);
target: every ratio <= 1.6.
Run: ``TZ=UTC .venv/bin/python bench/import_time.py [--repeats 11] [--lambda-env]``; ``--lambda-env`` adds the
variables the Lambda runtime sets (LAMBDA_TASK_ROOT …), which switch Powertools' Tracer and the X-Ray SDK into
their Lambda behaviour. See what dominates with ``--importtime FunctionLogicalId`` (``python -X importtime``).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from local.template import FunctionSpec

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PYTHON = ROOT / ".venv" / "bin" / "python"
LAYER = ROOT / "layers" / "domain"
RESULTS = ROOT / "bench" / "results"
TARGET = 1.6
BASELINE = "boto3"
CHILD = """\
import sys, time
sys.path[:0] = {paths!r}
assert {root!r} not in sys.path
start = time.perf_counter()
import {module}
print((time.perf_counter() - start) * 1000, len(sys.modules))
"""


class Target:
    """One thing to import in a fresh interpreter: boto3 alone, or one function's handler module."""

    def __init__(self, name: str, module: str, code_dir: Path | None = None, env: dict[str, str] | None = None) -> None:
        paths = [str(code_dir), str(LAYER)] if code_dir else []
        self.name, self.module, self.cwd = name, module, code_dir or LAYER
        self.code = CHILD.format(paths=paths, root=str(ROOT), module=module)
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            "TZ": "UTC",
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            **(env or {}),
        }
        self.samples: list[float] = []
        self.ratios: list[float] = []  # each sample over the boto3 import measured just before it
        self.modules = 0

    @classmethod
    def for_function(cls, spec: FunctionSpec, lambda_env: bool) -> Target:
        module = spec.handler.rsplit(".", 1)[0]
        code_dir = ROOT / spec.code_uri
        env = dict(spec.environment)
        if lambda_env:  # what the Lambda runtime adds: Powertools' Tracer and the X-Ray SDK switch to Lambda mode
            env |= {
                "LAMBDA_TASK_ROOT": str(code_dir),
                "AWS_LAMBDA_FUNCTION_NAME": spec.logical_id,
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory),
                "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
                "_HANDLER": spec.handler,
                "AWS_XRAY_DAEMON_ADDRESS": "169.254.79.129:2000",
            }
        return cls(spec.logical_id, module, code_dir, env)

    def command(self, *flags: str) -> list[str]:
        return [str(PYTHON), "-I", *flags, "-c", self.code]

    def measure(self) -> float:
        done = subprocess.run(self.command(), env=self.env, cwd=self.cwd, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"importing {self.module} for {self.name} failed:\n{done.stderr}")
        took, modules = done.stdout.split()
        self.modules = int(modules)
        return float(took)

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def ratio(self) -> float:
        return statistics.median(self.ratios)


def show_importtime(target: Target, top: int) -> None:
    """``python -X importtime`` for one function, the largest cumulative imports first."""
    done = subprocess.run(
        target.command("-X", "importtime"), env=target.env, cwd=target.cwd, capture_output=True, text=True, check=True
    )
    rows = []
    for line in done.stderr.splitlines():
        if line.startswith("import time:") and "|" in line and "self [us]" not in line:
            own_us, cumulative_us, name = line.removeprefix("import time:").split("|")
            rows.append((int(cumulative_us), int(own_us), name.rstrip()))
    print(f"python -X importtime, {target.name} ({target.module}): top {top} by cumulative ms")
    print(f"{'cumulative':>10} {'self':>8}  module (indented by depth)")
    for cumulative, own, name in sorted(rows, reverse=True)[:top]:
        print(f"{cumulative / 1000:10.1f} {own / 1000:8.1f}  {name}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=11, help="fresh interpreters per target")
    parser.add_argument(
        "--lambda-env", action="store_true", help="also set the Lambda runtime's variables (Tracer on, as deployed)"
    )
    parser.add_argument("--importtime", metavar="FUNCTION", help="only show -X importtime for this function")
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args()

    from local.template import LocalTemplate

    functions = [Target.for_function(spec, args.lambda_env) for spec in LocalTemplate(ROOT).functions().values()]
    if args.importtime:
        show_importtime(next(t for t in functions if t.name == args.importtime), args.top)
        return 0

    baseline = Target(BASELINE, "boto3")
    for target in [baseline, *functions]:  # untimed: bytecode caches written, files in the page cache
        target.measure()
    shuffle = random.Random(1)
    for _ in range(args.repeats):
        for function in shuffle.sample(functions, len(functions)):
            baseline.samples.append(baseline.measure())
            function.samples.append(function.measure())
            function.ratios.append(function.samples[-1] / baseline.samples[-1])

    # Paired: a ratio per sample against the boto3 import just before it, so a load that comes and goes on a shared
    # machine meets both sides of a pair, not one function's seven samples and nobody else's.
    rows = {t.name: {"median_ms": round(t.median, 2), "ratio": round(t.ratio, 3)} for t in functions}
    worst = max(functions, key=lambda t: t.ratio)
    worst_ratio = worst.ratio
    result = {
        "benchmark": "import_time",
        "worst_ratio": round(worst_ratio, 3),
        "worst_function": worst.name,
        "target": TARGET,
        "passed": worst_ratio <= TARGET,
        "boto3_median_ms": round(baseline.median, 2),
        "functions": rows,
        "lambda_env": args.lambda_env,
        "repeats": args.repeats,
        "python": sys.version.split()[0],
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    result_file = RESULTS / ("import_time_lambda_env.json" if args.lambda_env else "import_time.json")
    result_file.parent.mkdir(parents=True, exist_ok=True)
    result_file.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")

    print(f"{'function':28} {'median ms':>9} {'ratio':>6} {'modules':>7}")
    print(f"{'(import boto3)':28} {baseline.median:9.1f} {1:6.2f} {baseline.modules:7}")
    for target in functions:
        flag = "" if target.ratio <= TARGET else "  > target"
        print(f"{target.name:28} {target.median:9.1f} {target.ratio:6.2f} {target.modules:7}{flag}")
    print(
        f"import_time: worst {worst.name} {worst.median:.1f} ms / boto3 {baseline.median:.1f} ms, paired ratio "
        f"{worst_ratio:.2f} (target <= {TARGET} for every function, {args.repeats} fresh interpreters each) "
        f"{'PASS' if result['passed'] else 'FAIL'}  -> {result_file.relative_to(ROOT)}"
    )
    return 0  # a verdict, not a gate: only a broken run (a failed check) exits non-zero


if __name__ == "__main__":
    sys.exit(main())
