"""Turn Terraform's ``ansible_inventory`` output into the inventory file Ansible reads."""

import os
from pathlib import Path
from typing import Any

import yaml

GROUPS = ("gpu_inference", "datastore", "monitoring", "gateway")


class InventoryError(Exception):
    """The Terraform output is not the inventory shape Ansible expects."""


def render_inventory(ansible_inventory: str, deployment: str) -> str:
    """Re-emit the output as lint-clean YAML with a header saying where it came from."""
    data: Any = yaml.safe_load(ansible_inventory)
    children = data.get("all", {}).get("children") if isinstance(data, dict) else None
    if not isinstance(children, dict) or set(GROUPS) - set(children):
        raise InventoryError(
            f"ansible_inventory output must have all.children with groups {', '.join(GROUPS)}"
        )
    header = (
        "---\n"
        f"# Inventory of deployment {deployment}, written by `ragfleet provision apply` from\n"
        "# Terraform's ansible_inventory output. Re-run it instead of editing this file.\n"
    )
    return header + yaml.safe_dump(data, sort_keys=False, default_flow_style=False)


def write_inventory(path: Path, text: str) -> Path:
    """Write atomically, so Ansible never reads a half-written inventory."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".yml.partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)
    return path


def remove_inventory(path: Path) -> bool:
    """Delete the inventory of a destroyed deployment; True when there was one."""
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    if path.parent.is_dir() and not any(path.parent.iterdir()):
        path.parent.rmdir()
    return True
