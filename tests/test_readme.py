"""The README's diagram: Mermaid source that parses, so GitHub renders it instead of an error box."""

from __future__ import annotations

import re

import pytest

from tests.mocks import ROOT, read_yaml

README = (ROOT / "README.md").read_text()

# Node shapes, longest delimiters first: id(("circle")), id[("cylinder")], id["box"], id("round"), id{"rhombus"}.
_SHAPES = [(r"\(\(", r"\)\)"), (r"\[\(", r"\)\]"), (r"\[\[", r"\]\]"), (r"\[", r"\]"), (r"\(", r"\)"),
           (r"\{", r"\}")]
_NODE = re.compile(r"\b[A-Za-z][\w-]*(?:" + "|".join(f"{o}(.*?){c}" for o, c in _SHAPES) + r")(?=\s|$|-|&)")
_EDGE_LABEL = re.compile(r"(?:--|-\.|==)[->.=]*\|(.*?)\|")
# `a -- text --> b` and `a -. text .-> b` carry labels that cannot be quoted: use `-->|"text"|`.
_INLINE_EDGE_TEXT = re.compile(r"(?:--|-\.)\s+\S.*?\s+(?:-->|\.->)")
# Characters Mermaid's flowchart grammar reads as syntax inside an unquoted label.
_SYNTAX = set('()[]{}|"<>;#&')


def mermaid_blocks(markdown: str) -> list[str]:
    return re.findall(r"```mermaid\n(.*?)```", markdown, flags=re.S)


def unquoted_labels(source: str) -> list[str]:
    """Labels that Mermaid would parse as syntax: every node, subgraph and edge label must be quoted."""
    problems = []
    for line in source.splitlines():
        labels = [g for m in _NODE.finditer(line) for g in m.groups() if g is not None]
        labels += _EDGE_LABEL.findall(line)
        problems += [f"{line.strip()!r}: inline edge text {m!r}" for m in _INLINE_EDGE_TEXT.findall(line)]
        for label in labels:
            quoted = len(label) >= 2 and label[0] == label[-1] == '"' and '"' not in label[1:-1]
            if not quoted and (_SYNTAX & set(label) or label.strip() != label):
                problems.append(f"{line.strip()!r}: label {label!r}")
            elif not quoted:
                problems.append(f"{line.strip()!r}: label {label!r} is not quoted")
    return problems


def test_readme_has_a_mermaid_diagram():
    assert len(mermaid_blocks(README)) == 1


def test_every_label_in_the_readme_diagram_is_quoted():
    assert unquoted_labels(mermaid_blocks(README)[0]) == []


@pytest.mark.parametrize("line", [
    "  nat[NAT gateway(s)]",                       # the line Mermaid 11 refused: "got 'PS'"
    "  alb[ALB<br/>sg: lb]",
    '  subgraph private[Private subnets]',
    "  rds[(RDS PostgreSQL)]",
    "  a -->|5432 (prod)| b",
    '  sm["Secrets Manager"] -. VTT_DBPASSWORD .-> tasks',
])
def test_the_check_catches_an_unquoted_label(line):
    assert unquoted_labels(line) != []


@pytest.mark.parametrize("line", [
    '  nat["NAT gateway(s)"]',
    '  rds[("RDS PostgreSQL (sg: db)")]',
    '  user(("Internet")) -->|"80 / 443"| alb',
    '  subgraph VPC["VPC: subnets"]',
])
def test_the_check_accepts_quoted_labels(line):
    assert unquoted_labels(line) == []


def test_the_check_refuses_the_diagram_mermaid_11_could_not_parse():
    previous = (ROOT / "tests" / "data" / "readme-diagram-mermaid-parse-error.mmd").read_text()
    assert any("NAT gateway(s)" in problem for problem in unquoted_labels(previous))


def test_the_diagram_draws_the_proxy_path_for_the_service_and_the_seed():
    diagram = mermaid_blocks(README)[0]
    for source in ("tasks", "seed"):
        assert re.search(rf"^\s*{source} -\.->\|\"prod: 5432 to sg proxy\"\| proxy$", diagram, flags=re.M), source
    assert re.search(r'^\s*proxy -\.->\|"prod: 5432, db admits sg proxy only"\| rds$', diagram, flags=re.M)


# -- the configuration table ----------------------------------------------------------------------

def _config_table() -> dict[str, list[str]]:
    section = README.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| `") and len(cells) == 5:
            rows[cells[0].strip("`")] = cells[1:4]
    return rows


def _shown(value: object) -> str:
    if isinstance(value, bool):
        value = "true" if value else "false"
    return f"`{value}`" if value != "" else '`""`'


# Their rows come with the layers documentation (placed by the integrator); drop this set when they are in.
_LAYER_KEYS_PENDING_ROWS = {"layer", "networkStack", "databaseStack", "deploymentName", "vpcId", "publicSubnetIds",
                            "privateSubnetIds"}


def test_config_table_lists_every_declared_key_once_and_nothing_else():
    project = read_yaml(ROOT / "Pulumi.yaml")["config"]
    assert sorted(_config_table()) == sorted(set(project) - (_LAYER_KEYS_PENDING_ROWS - set(_config_table())))


def test_config_table_says_which_keys_are_required_and_the_default_of_the_rest():
    project = read_yaml(ROOT / "Pulumi.yaml")["config"]
    for key, (default, _, _) in _config_table().items():
        expected = _shown(project[key]["default"]) if "default" in project[key] else "**required**"
        assert default == expected, key


@pytest.mark.parametrize("column,stack", [(1, "dev"), (2, "prod")])
def test_config_table_shows_each_stack_files_values(column, stack):
    values = read_yaml(ROOT / f"Pulumi.{stack}.yaml")["config"]
    for key, cells in _config_table().items():
        assert cells[column] == _shown(values[f"tca:{key}"]), (stack, key)
