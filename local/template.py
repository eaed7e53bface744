"""Read template.yaml into what the local runtime needs: functions, routes, tables, the state machine.

The template is the single source of truth: environment variables, routes, table keys and the state
machine's substitutions all come from it, with intrinsic functions resolved the way CloudFormation
would, using each resource's logical id as its local physical name.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REGION = "us-east-1"
ACCOUNT = "123456789012"
_SUB_VARIABLE = re.compile(r"\$\{([^}!]+)\}")


class _CfnLoader(yaml.SafeLoader):
    """PyYAML loader that understands CloudFormation short forms (!Ref, !GetAtt, !Sub, …)."""


def _construct_tag(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    if tag_suffix == "Ref":
        return {"Ref": value}
    if tag_suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{tag_suffix}": value}


_CfnLoader.add_multi_constructor("!", _construct_tag)  # type: ignore[no-untyped-call]


def load_template(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        document: dict[str, Any] = yaml.load(handle, Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass
    return document


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # API Gateway form: /webhooks/{platform}/{storeId}
    function: str

    @property
    def route_key(self) -> str:
        return f"{self.method} {self.path}"

    def match(self, method: str, path: str) -> dict[str, str] | None:
        if method.upper() != self.method:
            return None
        pattern = "^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(self.path)) + "$"
        found = re.match(pattern, path)
        return found.groupdict() if found else None


@dataclass(frozen=True)
class QueueSource:
    """An SQS event source mapping: the function is invoked with batches from the queue."""

    queue: str  # the queue's logical id
    function: str
    batch_size: int = 10
    partial_failures: bool = False


@dataclass(frozen=True)
class QueueSpec:
    logical_id: str
    name: str
    properties: dict[str, Any]


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    code_uri: str
    handler: str
    environment: dict[str, str]
    timeout: int
    memory: int
    routes: tuple[Route, ...] = ()
    queue_sources: tuple[QueueSource, ...] = ()

    @property
    def arn(self) -> str:
        return function_arn(self.logical_id)


@dataclass(frozen=True)
class StateMachineSpec:
    logical_id: str
    name: str
    definition: dict[str, Any]
    type: str


@dataclass(frozen=True)
class TableSpec:
    logical_id: str
    properties: dict[str, Any]


@dataclass
class LocalTemplate:
    root: Path
    stack_name: str = "local"
    parameter_overrides: dict[str, str] = field(default_factory=dict)
    aws_endpoint: str = "http://127.0.0.1:4566"
    stack_id: str = ""  # CloudFormation's ARN of the stack; locally ``…:stack/<name>/<name>``

    def __post_init__(self) -> None:
        # Its last part is CloudFormation's UUID; locally the stack name, so "<id>-fulfillment" is "local-fulfillment".
        local_id = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{self.stack_name}/{self.stack_name}"
        self.stack_id = self.stack_id or local_id
        self.document = load_template(self.root / "template.yaml")
        self.resources: dict[str, dict[str, Any]] = self.document["Resources"]
        self.parameters = {
            name: str(self.parameter_overrides.get(name, spec.get("Default", "")))
            for name, spec in self.document.get("Parameters", {}).items()
        }

    # ---- intrinsic functions ----------------------------------------------------------------
    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(item) for item in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, argument),) = value.items()
            if key == "Ref":
                return self._ref(argument)
            if key == "Fn::GetAtt":
                return self._get_att(*argument)
            if key == "Fn::Sub":
                return self._sub(argument)
            if key == "Fn::If":
                condition, when_true, when_false = argument
                return self.resolve(when_true if self.condition(condition) else when_false)
            if key == "Fn::Join":
                separator, items = argument
                return separator.join(str(self.resolve(item)) for item in items)
            if key == "Fn::Split":
                separator, text = argument
                return str(self.resolve(text)).split(separator)
            if key == "Fn::Select":
                index, items = argument
                return self.resolve(items)[int(index)]
        return {key: self.resolve(item) for key, item in value.items()}

    def condition(self, name: str) -> bool:
        return self._evaluate(self.document.get("Conditions", {})[name])

    def _evaluate(self, expression: Any) -> bool:
        ((function, argument),) = expression.items()
        if function == "Fn::Equals":
            left, right = (self.resolve(item) for item in argument)
            return bool(str(left) == str(right))
        if function == "Fn::Not":
            return not self._evaluate(argument[0])
        if function == "Fn::And":
            return all(self._evaluate(item) for item in argument)
        if function == "Fn::Or":
            return any(self._evaluate(item) for item in argument)
        if function == "Condition":
            return self.condition(argument)
        raise NotImplementedError(f"local runtime cannot evaluate condition {function}")

    def _ref(self, name: str) -> str:
        pseudo = {
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT,
            "AWS::StackName": self.stack_name,
            "AWS::StackId": self.stack_id,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
        }
        if name in pseudo:
            return pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        resource = self.resources[name]
        if resource["Type"] == "AWS::Serverless::StateMachine":
            return state_machine_arn(self._state_machine_name(name))
        if resource["Type"] == "AWS::SQS::Queue":
            return f"{self.aws_endpoint}/{ACCOUNT}/{self.queue_name(name)}"
        if resource["Type"] == "AWS::S3::Bucket":
            return bucket_name(name)
        return name  # tables, functions, APIs: the logical id is the local name

    def _get_att(self, name: str, attribute: str) -> str:
        kind = self.resources[name]["Type"]
        if kind == "AWS::Serverless::Function" and attribute == "Arn":
            return function_arn(name)
        if kind == "AWS::Serverless::StateMachine":
            sm_name = self._state_machine_name(name)
            return sm_name if attribute == "Name" else state_machine_arn(sm_name)
        if kind == "AWS::SQS::Queue":
            return (
                f"arn:aws:sqs:{REGION}:{ACCOUNT}:{self.queue_name(name)}"
                if attribute == "Arn"
                else self.queue_name(name)
            )
        if kind == "AWS::S3::Bucket" and attribute == "Arn":
            return f"arn:aws:s3:::{bucket_name(name)}"
        if kind == "AWS::DynamoDB::Table" and attribute == "Arn":
            return f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}"
        raise NotImplementedError(f"local runtime cannot resolve !GetAtt {name}.{attribute}")

    def _sub(self, argument: str | list[Any]) -> str:
        text, variables = (argument, {}) if isinstance(argument, str) else (argument[0], argument[1])

        def replace(match: re.Match[str]) -> str:
            token = match.group(1)
            if token in variables:
                return str(self.resolve(variables[token]))
            if "." in token:
                return str(self._get_att(*token.split(".", 1)))
            return str(self._ref(token))

        return _SUB_VARIABLE.sub(replace, text)

    def queue_name(self, logical_id: str) -> str:
        """FIFO queue names must end in .fifo; CloudFormation adds it, so do we."""
        fifo = self.resources[logical_id].get("Properties", {}).get("FifoQueue")
        return f"{logical_id}.fifo" if fifo else logical_id

    def queues(self) -> list[QueueSpec]:
        return [
            QueueSpec(name, self.queue_name(name), spec.get("Properties", {}))
            for name, spec in self._of_type("AWS::SQS::Queue").items()
        ]

    def _state_machine_name(self, logical_id: str) -> str:
        name = self.resources[logical_id].get("Properties", {}).get("Name")
        return str(self.resolve(name)) if name else logical_id

    # ---- resources ----------------------------------------------------------------------------
    def _of_type(self, kind: str) -> dict[str, dict[str, Any]]:
        return {name: spec for name, spec in self.resources.items() if spec["Type"] == kind}

    def functions(self) -> dict[str, FunctionSpec]:
        globals_ = self.document.get("Globals", {}).get("Function", {})
        specs = {}
        for name, resource in self._of_type("AWS::Serverless::Function").items():
            props = resource["Properties"]
            env = {
                **globals_.get("Environment", {}).get("Variables", {}),
                **props.get("Environment", {}).get("Variables", {}),
            }
            routes = tuple(
                Route(method=event["Properties"]["Method"].upper(), path=event["Properties"]["Path"], function=name)
                for event in props.get("Events", {}).values()
                if event["Type"] == "HttpApi"
            )
            queue_sources = tuple(
                QueueSource(
                    queue=event["Properties"]["Queue"]["Fn::GetAtt"][0],
                    function=name,
                    batch_size=int(event["Properties"].get("BatchSize", 10)),
                    partial_failures="ReportBatchItemFailures" in event["Properties"].get("FunctionResponseTypes", []),
                )
                for event in props.get("Events", {}).values()
                if event["Type"] == "SQS"
            )
            specs[name] = FunctionSpec(
                logical_id=name,
                code_uri=props["CodeUri"],
                handler=props.get("Handler", globals_.get("Handler", "app.lambda_handler")),
                environment={key: str(self.resolve(value)) for key, value in env.items()},
                timeout=int(props.get("Timeout", globals_.get("Timeout", 3))),
                memory=int(props.get("MemorySize", globals_.get("MemorySize", 128))),
                routes=routes,
                queue_sources=queue_sources,
            )
        return specs

    def buckets(self) -> list[TableSpec]:
        """The S3 buckets: (local name, properties)."""
        return [
            TableSpec(bucket_name(name), spec["Properties"]) for name, spec in self._of_type("AWS::S3::Bucket").items()
        ]

    def tables(self) -> list[TableSpec]:
        return [TableSpec(name, spec["Properties"]) for name, spec in self._of_type("AWS::DynamoDB::Table").items()]

    def state_machines(self) -> list[StateMachineSpec]:
        machines = []
        for name, resource in self._of_type("AWS::Serverless::StateMachine").items():
            props = resource["Properties"]
            text = (self.root / props["DefinitionUri"]).read_text(encoding="utf-8")
            for key, value in self.resolve(props.get("DefinitionSubstitutions", {})).items():
                text = text.replace("${" + key + "}", str(value))
            machines.append(
                StateMachineSpec(name, self._state_machine_name(name), json.loads(text), props.get("Type", "STANDARD"))
            )
        return machines

    def layer_paths(self) -> list[Path]:
        return [
            self.root / spec["Properties"]["ContentUri"]
            for spec in self._of_type("AWS::Serverless::LayerVersion").values()
        ]


def bucket_name(logical_id: str) -> str:
    """A bucket's local name (CloudFormation generates one; S3 takes only lower case)."""
    return logical_id.lower()


def function_arn(name: str) -> str:
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"


def state_machine_arn(name: str) -> str:
    return f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{name}"


def scale_durations(
    definition: dict[str, Any], *, wait_scale: float, timeout_scale: float, min_timeout: float = 1
) -> dict[str, Any]:
    """Shrink waits, retry intervals and task timeouts so days become seconds locally.

    moto really sleeps. Timeouts get their own factor so their behaviour stays testable, and a floor
    (``min_timeout``): a timeout stands for "nobody answered", so it must stay longer than a local answer
    can take under load, or a callback still on its way is taken for silence. Intervals stay ≥ 1 s, as
    Step Functions requires.
    """
    scaled: dict[str, Any] = json.loads(json.dumps(definition))

    def shrink(seconds: float, factor: float, floor: float = 1) -> int:
        return max(1, round(floor), round(seconds * factor))

    def visit(states: dict[str, Any]) -> None:
        for state in states.values():
            if state.get("Type") == "Wait" and "Seconds" in state:
                state["Seconds"] = shrink(state["Seconds"], wait_scale)
            if "TimeoutSeconds" in state:
                state["TimeoutSeconds"] = shrink(state["TimeoutSeconds"], timeout_scale, min_timeout)
            if "HeartbeatSeconds" in state:
                state["HeartbeatSeconds"] = min(
                    shrink(state["HeartbeatSeconds"], timeout_scale, min_timeout),
                    max(1, state.get("TimeoutSeconds", 10**9) - 1),
                )
            for retrier in state.get("Retry", []):
                retrier["IntervalSeconds"] = shrink(retrier.get("IntervalSeconds", 1), wait_scale)
                if "MaxDelaySeconds" in retrier:
                    retrier["MaxDelaySeconds"] = shrink(retrier["MaxDelaySeconds"], wait_scale)
            for branch in state.get("Branches", []):
                visit(branch["States"])
            if "Iterator" in state or "ItemProcessor" in state:
                visit((state.get("ItemProcessor") or state["Iterator"])["States"])

    visit(scaled["States"])
    return scaled


def duration_outputs(definition: dict[str, Any]) -> dict[str, dict[str, str]]:
    """Durations a Lambda task returns for a later state to read, by function name and payload field, each with
    the kind of duration it is: ``{"AuthorizeReturnFunction": {"receipt_timeout_seconds": "timeout"}}``.

    A ``TimeoutSecondsPath``/``HeartbeatSecondsPath`` (a timeout) or a Wait's ``SecondsPath`` (a wait) reads a
    value that only exists at run time, so ``scale_durations`` cannot shrink it; the local runtime scales these
    fields of the task's answer instead, with the same factors. Only paths ``$.<result>.<field>`` written by a
    ``lambda:invoke`` task's ``ResultPath``/``ResultSelector`` are followed: that is how our definitions pass them.
    """
    states: dict[str, dict[str, Any]] = definition["States"]
    wanted: dict[str, str] = {}  # path → kind
    for state in states.values():
        for key, kind in (
            ("TimeoutSecondsPath", "timeout"),
            ("HeartbeatSecondsPath", "timeout"),
            ("SecondsPath", "wait"),
        ):
            if isinstance(state.get(key), str):
                wanted[state[key]] = kind
    found: dict[str, dict[str, str]] = {}
    for state in states.values():
        result_path = state.get("ResultPath")
        if state.get("Type") != "Task" or not isinstance(result_path, str):
            continue
        function = str(state.get("Parameters", {}).get("FunctionName", "")).rsplit(":", 1)[-1]
        for path, kind in wanted.items():
            prefix = result_path + "."
            if not path.startswith(prefix) or "." in path[len(prefix) :]:
                continue
            field = path[len(prefix) :]
            selected = state.get("ResultSelector", {}).get(f"{field}.$", f"$.Payload.{field}")
            if isinstance(selected, str) and selected.startswith("$.Payload."):
                found.setdefault(function, {})[selected.removeprefix("$.Payload.")] = kind
    return found
