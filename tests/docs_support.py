"""The docs test's machinery (tests/unit/test_docs.py, tests/e2e/test_docs_run.py): extract the code blocks of README.md
and docs/*.md and check them.

The marker convention (the fence's info string; documented in README.md "Docs that run"):

* ```` ```bash run ```` / ```` ```python run ````: runs as written against a local stack (the e2e docs test; the
  default ports 8080/8081/8082/5055 are replaced by the test stack's, ``MCP_GATEWAY_STATE_DIR`` points the CLI at it).
* ```` ```bash aws ````: needs an AWS account: ``bash -n``, and every ``aws`` command is parsed against botocore's
  service model, every ``--parameter-overrides`` against template.yaml's parameters and Rules.
* ```` ```bash manual ````: needs a person or a third-party client (a browser, Claude Code): ``bash -n`` only.
* ```` ```json ````: must parse. Every ``mcp-gateway`` command in any bash block must parse with the real CLI parser.

A block that looks like commands (``.venv/bin/``, ``mcp-gateway``, ``aws``, ``sam``, ``curl``...) without a marker
fails the unit test: nothing a reader may copy goes unchecked."""

from __future__ import annotations

import re
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
MODES = {"run", "aws", "manual"}
COMMAND_START = re.compile(r"^\s*(\.venv/bin/|mcp-gateway\b|aws\b|sam\b|curl\b|eval\b|npx\b|claude\b|make\b|code\b)")
FENCE = re.compile(r"^```(.*)$")
PLACEHOLDER = re.compile(r"<[A-Za-z][^<>|]*>")
DEFAULT_PORTS = {"gateway": 8080, "callback": 8081, "idp": 8082, "moto": 5055}
#: Options every aws command takes (the CLI's global options).
AWS_GLOBAL = {"--query", "--output", "--region", "--profile", "--no-cli-pager", "--endpoint-url", "--debug"}
#: aws CLI customizations that are not service-model operations: (service, command) -> the options they take.
AWS_CUSTOM = {
    ("cloudformation", "deploy"): {"--stack-name", "--template-file", "--parameter-overrides", "--capabilities"},
    ("lambda", "wait"): set(),
}


@dataclass(frozen=True)
class Block:
    path: Path
    line: int  # the fence's line number (1-based)
    lang: str
    mode: str
    text: str

    @property
    def where(self) -> str:
        name = self.path.relative_to(ROOT) if self.path.is_relative_to(ROOT) else self.path.name
        return f"{name}:{self.line}"


def blocks(path: Path, text: str | None = None) -> list[Block]:
    """Every fenced block of a Markdown file, with its language and marker."""
    lines = (path.read_text(encoding="utf-8") if text is None else text).splitlines()
    out: list[Block] = []
    i = 0
    while i < len(lines):
        match = FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        info = match.group(1).split()
        start, body = i + 1, []
        i += 1
        while i < len(lines) and not lines[i].startswith("```"):
            body.append(lines[i])
            i += 1
        i += 1
        lang = info[0] if info else ""
        mode = info[1] if len(info) > 1 else ""
        out.append(Block(path, start, lang, mode, "\n".join(body) + "\n"))
    return out


def looks_like_commands(block: Block) -> bool:
    return any(COMMAND_START.match(line) for line in block.text.splitlines())


def bash_syntax_problem(text: str) -> str | None:
    result = subprocess.run(["bash", "-n"], input=text, capture_output=True, text=True, check=False)
    return result.stderr.strip() or None if result.returncode else None


def commands(text: str) -> list[list[str]]:
    """Every simple command in a bash block (continuations joined, comments dropped, ``$(...)`` opened), as argv."""
    joined = re.sub(r"\\\n", " ", text)
    out: list[list[str]] = []
    for line in joined.splitlines():
        out += _split_line(line)
    return out


def _split_line(line: str) -> list[list[str]]:
    lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|()<>")
    lexer.whitespace_split = True
    lexer.commenters = "#"
    try:
        tokens = list(lexer)
    except ValueError:
        return []
    result: list[list[str]] = []
    current: list[str] = []
    skip_next = False
    for token in tokens:
        if skip_next:  # the target of a redirection
            skip_next = False
            continue
        if token and set(token) <= set(";&|()"):
            if current:
                result.append(current)
            current = []
            continue
        if token and set(token) <= set("<>"):
            skip_next = True
            continue
        for inner in _substitutions(token):
            result += _split_line(inner)
        current.append(token)
    if current:
        result.append(current)
    return [_strip_assignments(c) for c in result if _strip_assignments(c)]


def _strip_assignments(argv: list[str]) -> list[str]:
    i = 0
    while i < len(argv) and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", argv[i]):
        i += 1
    rest = argv[i:]
    return rest[1:] if rest[:1] in (["eval"], ["export"]) and len(rest) > 1 and "=" in rest[1] else rest


def _substitutions(token: str) -> list[str]:
    """The texts of the ``$( ... )`` command substitutions in one token (nested ones too)."""
    found: list[str] = []
    start = token.find("$(")
    while start != -1:
        depth, j = 0, start + 1
        while j < len(token):
            if token[j] == "(":
                depth += 1
            elif token[j] == ")":
                depth -= 1
                if depth == 0:
                    break
            j += 1
        found.append(token[start + 2 : j])
        start = token.find("$(", j)
    return found


def cli_problems(argv: list[str]) -> list[str]:
    """An ``mcp-gateway`` command the real parser refuses (its arguments only; nothing runs)."""
    import contextlib
    import io

    from mcp_gateway_local.cli import build_parser

    args = [a if "$" not in a else "X" for a in argv[1:]]
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            build_parser().parse_args(args)
    except SystemExit as exc:
        if exc.code:
            return [f"mcp-gateway {' '.join(argv[1:])}: {err.getvalue().strip().splitlines()[-1]}"]
    return []


def aws_problems(argv: list[str]) -> list[str]:
    """An ``aws`` command whose service, operation or options botocore's model does not have, or a
    ``--parameter-overrides`` template.yaml would refuse."""
    import botocore.session

    if len(argv) < 3:
        return [f"aws {' '.join(argv[1:])}: needs a service and an operation"]
    service, command = argv[1], argv[2]
    options = {a.split("=", 1)[0] for a in argv[3:] if a.startswith("--")}
    problems = overrides_problems(argv)
    custom = AWS_CUSTOM.get((service, command))
    if custom is not None:
        allowed = custom
    else:
        session = botocore.session.get_session()
        if service not in session.get_available_services():
            return [f"aws {service}: no such service"]
        model = session.get_service_model(service)
        names = {_kebab(op): op for op in model.operation_names}
        if command not in names:
            return [f"aws {service} {command}: no such operation"]
        shape = model.operation_model(names[command]).input_shape
        members = set(shape.members) if shape is not None else set()
        allowed = {f"--{_kebab(m)}" for m in members} | {f"--no-{_kebab(m)}" for m in members}
        if any(m in members for m in ("NextToken", "MaxResults", "Marker")):
            allowed |= {"--max-items", "--page-size", "--starting-token", "--no-paginate"}
    unknown = sorted(options - allowed - AWS_GLOBAL)
    problems += [f"aws {service} {command}: unknown option {o}" for o in unknown]
    return problems


def sam_problems(argv: list[str]) -> list[str]:
    return overrides_problems(argv) if argv[1:2] == ["deploy"] else []


def overrides_problems(argv: list[str]) -> list[str]:
    """``--parameter-overrides K=V ...`` checked against template.yaml: names, ranges, and the Rules applied to the
    overrides on top of a valid deployed stack's parameters."""
    if "--parameter-overrides" not in argv:
        return []
    from mcp_gateway_local.deploy_check import effective_parameters, parameter_problems, rule_problems
    from mcp_gateway_local.template import load_template

    values: dict[str, str] = {}
    for arg in argv[argv.index("--parameter-overrides") + 1 :]:
        if arg.startswith("--"):
            break
        name, _, value = arg.partition("=")
        values[name] = value
    template = load_template()
    problems = parameter_problems(template, values)
    deployed = {
        "IdpIssuer": "https://idp.example",
        "IdpAudience": "api://mcp-gateway",
        "IdpJwksUrl": "https://idp.example/keys",
        "RequiredGroups": "developers",
        "IdpAllowedClientIds": "cli",
    }
    problems += rule_problems(template, effective_parameters(template, {**deployed, **values}))
    return [f"--parameter-overrides {' '.join(f'{k}={v}' for k, v in values.items())}: {p}" for p in problems]


def _kebab(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "-", name).lower()


def block_problems(block: Block) -> list[str]:
    """What is wrong with one block, without running anything against a stack."""
    problems: list[str] = []
    if block.lang == "json":
        import json

        try:
            json.loads(block.text)
        except ValueError as exc:
            problems.append(f"json: {exc}")
    if block.lang == "python":
        try:
            compile(block.text, block.where, "exec")
        except SyntaxError as exc:
            problems.append(f"python: {exc}")
    if block.lang in ("bash", "sh", "shell"):
        if block.mode not in MODES:
            problems.append(f"bash block without a marker ({'/'.join(sorted(MODES))})")
        syntax = bash_syntax_problem(block.text)
        if syntax:
            problems.append(f"bash -n: {syntax}")
        for line in block.text.splitlines():
            placeholder = PLACEHOLDER.search(line.split(" #", 1)[0])
            if placeholder:  # `<SlackSecret ARN>` is valid bash (two redirections), and never what was meant
                problems.append(f"placeholder {placeholder.group(0)} in a command: use a shell variable or a lookup")
        for argv in commands(block.text):
            program = argv[0].rsplit("/", 1)[-1]
            if program == "mcp-gateway":
                problems += cli_problems(argv)
            elif program == "aws":
                problems += aws_problems(argv)
            elif program == "sam":
                problems += sam_problems(argv)
    elif looks_like_commands(block) and block.lang not in ("json", "python"):
        problems.append("commands in a block with no language and no marker: use ```bash run|aws|manual")
    return [f"{block.where}: {p}" for p in problems]


def localised(text: str, ports: dict[str, int]) -> str:
    """A run block with the default local ports replaced by a test stack's."""
    for name, default in DEFAULT_PORTS.items():
        text = re.sub(rf"(127\.0\.0\.1|localhost):{default}\b", rf"\g<1>:{ports[name]}", text)
    return text
