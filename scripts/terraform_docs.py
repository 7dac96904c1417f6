#!/usr/bin/env python3
"""Regenerate the terraform-docs section of every Terraform README, or check that it is current.

terraform-docs cannot be installed here (it is on none of PyPI, npm or apt), so this stands in
for `terraform-docs markdown table`: it reads each module's *.tf files with python-hcl2 and
rewrites what lies between <!-- BEGIN_TF_DOCS --> and <!-- END_TF_DOCS --> in its README.md with
the Requirements, Providers, Modules, Resources, Inputs and Outputs tables, in terraform-docs'
layout (sorted by name), so a README reads the same as one the real tool would write.

    python scripts/terraform_docs.py            # rewrite stale READMEs
    python scripts/terraform_docs.py --check    # exit 1 and name each stale README

Modules: terraform/ itself, terraform/modules/*, terraform/examples/*.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hcl2
from hcl2.utils import SerializationOptions

REPO = Path(__file__).resolve().parents[1]
BEGIN = "<!-- BEGIN_TF_DOCS -->"
END = "<!-- END_TF_DOCS -->"
REGISTRY = "https://registry.terraform.io/providers"
_OPTIONS = SerializationOptions(with_comments=False)


@dataclass(frozen=True)
class Variable:
    name: str
    description: str
    type: str
    default: Any
    required: bool
    file: str


@dataclass(frozen=True)
class Output:
    name: str
    description: str
    file: str


@dataclass
class Module:
    """What the tables are made of, gathered from every *.tf file of one directory."""

    path: Path
    required_version: str | None = None
    providers: dict[str, str] = field(default_factory=dict)
    calls: dict[str, str] = field(default_factory=dict)
    resources: list[tuple[str, str, str]] = field(default_factory=list)
    variables: list[Variable] = field(default_factory=list)
    outputs: list[Output] = field(default_factory=list)


def module_dirs(terraform_dir: Path) -> list[Path]:
    """The root module, its child modules and its examples."""
    children = [
        path
        for group in ("modules", "examples")
        for path in sorted((terraform_dir / group).glob("*"))
        if path.is_dir() and any(path.glob("*.tf"))
    ]
    return [terraform_dir, *children]


def load_file(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        data: dict[str, Any] = hcl2.load(handle, serialization_options=_OPTIONS)
    return data


def load_module(path: Path) -> Module:
    module = Module(path)
    for tf in sorted(path.glob("*.tf")):
        data = load_file(tf)
        for block in data.get("terraform", []):
            if "required_version" in block:
                module.required_version = unquote(block["required_version"])
            for providers in block.get("required_providers", []):
                for name, spec in _blocks(providers):
                    version = spec.get("version") if isinstance(spec, dict) else None
                    module.providers[name] = unquote(version) if version else ""
        for name, body in _labelled(data.get("module", [])):
            module.calls[name] = unquote(body["source"])
        for kind, key in (("resource", "resource"), ("data source", "data")):
            for block in data.get(key, []):
                for type_name, named in _blocks(block):
                    for name, _body in _blocks(named):
                        module.resources.append((type_name, name, kind))
        for name, body in _labelled(data.get("variable", [])):
            module.variables.append(
                Variable(
                    name=name,
                    description=unquote(body.get("description", "")),
                    type=unexpression(body.get("type", "any")),
                    default=body.get("default"),
                    required="default" not in body,
                    file=tf.name,
                )
            )
        for name, body in _labelled(data.get("output", [])):
            module.outputs.append(
                Output(name=name, description=unquote(body.get("description", "")), file=tf.name)
            )
    return module


def _blocks(block: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    for key, value in block.items():
        if not key.startswith("__"):
            yield unquote(key), value


def _labelled(blocks: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    for block in blocks:
        yield from _blocks(block)


def unquote(value: Any) -> str:
    """python-hcl2 keeps a string's quotes and escapes; HCL's escapes are JSON's, plus $${."""
    text = str(value)
    if len(text) >= 2 and text[0] == text[-1] == '"':
        try:
            text = str(json.loads(text))
        except json.JSONDecodeError:
            text = text[1:-1]
        return text.replace("$${", "${").replace("%%{", "%{")
    return text


def unexpression(value: Any) -> str:
    """A type or other expression as written: python-hcl2 wraps non-literals in ${...}."""
    text = str(value)
    if text.startswith("${") and text.endswith("}"):
        return text[2:-1]
    return text


# --- rendering -------------------------------------------------------------------------------


def render(module: Module) -> str:
    sections = [
        _requirements(module),
        _providers(module),
        _modules(module),
        _resources(module),
        _inputs(module),
        _outputs(module),
    ]
    return "\n\n".join(sections)


def _anchor(kind: str, name: str) -> str:
    return f'<a name="{kind}_{name}"></a> [{name}](#{kind}\\_{_escape_underscores(name)})'


def _escape_underscores(text: str) -> str:
    return text.replace("_", "\\_")


def _table(title: str, header: list[str], rows: list[list[str]], empty: str) -> str:
    if not rows:
        return f"## {title}\n\n{empty}"
    # terraform-docs' rule line: two dashes more than the header, centred for Required.
    rule = [":" + "-" * len(c) + ":" if c == "Required" else "-" * (len(c) + 2) for c in header]
    lines = [f"## {title}", "", _row(header), "|" + "|".join(rule) + "|"]
    lines.extend(_row(row) for row in rows)
    return "\n".join(lines)


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _requirements(module: Module) -> str:
    rows = []
    if module.required_version:
        rows.append([_anchor("requirement", "terraform"), module.required_version])
    rows.extend(
        [_anchor("requirement", name), version or "n/a"]
        for name, version in sorted(module.providers.items())
    )
    return _table("Requirements", ["Name", "Version"], rows, "No requirements.")


def _providers(module: Module) -> str:
    used = {type_name.split("_", 1)[0] for type_name, _name, _kind in module.resources}
    rows = [
        [_anchor("provider", name), version or "n/a"]
        for name, version in sorted(module.providers.items())
        if name in used
    ]
    return _table("Providers", ["Name", "Version"], rows, "No providers.")


def _modules(module: Module) -> str:
    rows = [
        [_anchor("module", name), source, "n/a"] for name, source in sorted(module.calls.items())
    ]
    return _table("Modules", ["Name", "Source", "Version"], rows, "No modules.")


def _resources(module: Module) -> str:
    rows = []
    for type_name, name, kind in sorted(module.resources):
        provider, _, short = type_name.partition("_")
        folder = "resources" if kind == "resource" else "data-sources"
        link = f"{REGISTRY}/hashicorp/{provider}/latest/docs/{folder}/{short}"
        rows.append([f"[{type_name}.{name}]({link})", kind])
    return _table("Resources", ["Name", "Type"], rows, "No resources.")


def _inputs(module: Module) -> str:
    rows = [
        [
            _anchor("input", variable.name),
            _cell(variable.description) or "n/a",
            _code(format_type(variable.type)),
            "n/a" if variable.required else _code(format_default(variable.default)),
            "yes" if variable.required else "no",
        ]
        for variable in sorted(module.variables, key=lambda v: v.name)
    ]
    header = ["Name", "Description", "Type", "Default", "Required"]
    return _table("Inputs", header, rows, "No inputs.")


def _outputs(module: Module) -> str:
    rows = [
        [_anchor("output", output.name), _cell(output.description) or "n/a"]
        for output in sorted(module.outputs, key=lambda o: o.name)
    ]
    return _table("Outputs", ["Name", "Description"], rows, "No outputs.")


def _cell(text: str) -> str:
    return text.strip().replace("|", "\\|").replace("\n", "<br/>")


def _code(text: str) -> str:
    """Inline code, or terraform-docs' <pre> block for a value that spans lines."""
    if "\n" not in text:
        return f"`{text}`".replace("|", "\\|")
    return "<pre>" + _cell(text) + "</pre>"


def format_type(expression: str) -> str:
    """Lay an object type out one attribute a line, as `terraform fmt` writes it in a variable."""
    if not (expression.startswith("object({") and expression.endswith("})")):
        return expression
    attributes = _split_top_level(expression[len("object({") : -len("})")])
    if not attributes:
        return "object({})"
    body = "".join(f"    {attribute}\n" for attribute in attributes)
    return "object({\n" + body + "  })"


def _split_top_level(text: str) -> list[str]:
    """Split on the commas that are not inside brackets or strings."""
    parts: list[str] = []
    depth = 0
    in_string = False
    current: list[str] = []
    previous = ""
    for char in text:
        if char == '"' and previous != "\\":
            in_string = not in_string
        elif not in_string and char in "([{":
            depth += 1
        elif not in_string and char in ")]}":
            depth -= 1
        if char == "," and depth == 0 and not in_string:
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(char)
        previous = char
    if "".join(current).strip():
        parts.append("".join(current).strip())
    return parts


def format_default(value: Any) -> str:
    """A default as terraform-docs shows it: JSON, indented by two when it is a collection."""
    if isinstance(value, str) and value.startswith("${") and value.endswith("}"):
        return unexpression(value)
    plain = _plain(value)
    if isinstance(plain, list | dict) and plain:
        return json.dumps(plain, indent=2)
    return json.dumps(plain)


def _plain(value: Any) -> Any:
    if isinstance(value, str):
        return unquote(value)
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {unquote(k): _plain(v) for k, v in value.items() if not k.startswith("__")}
    return value


# --- README update ---------------------------------------------------------------------------


def updated_readme(readme: str, tables: str) -> str:
    """The README with its marked section replaced; the markers are appended when missing."""
    section = f"{BEGIN}\n{tables}\n{END}"
    start = readme.find(BEGIN)
    end = readme.find(END)
    if start == -1 or end == -1 or end < start:
        return readme.rstrip("\n") + "\n\n" + section + "\n"
    return readme[:start] + section + readme[end + len(END) :]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if stale")
    parser.add_argument("--terraform-dir", type=Path, default=REPO / "terraform")
    args = parser.parse_args(argv)

    stale: list[Path] = []
    for path in module_dirs(args.terraform_dir):
        readme = path / "README.md"
        current = readme.read_text(encoding="utf-8") if readme.exists() else ""
        wanted = updated_readme(current, render(load_module(path)))
        if wanted == current:
            continue
        stale.append(readme)
        if not args.check:
            readme.write_text(wanted, encoding="utf-8")
            print(f"updated {readme}")
    if args.check and stale:
        for readme in stale:
            print(f"{readme} is stale: run `make terraform-docs`", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
