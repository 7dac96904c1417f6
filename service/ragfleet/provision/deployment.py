"""Where one named deployment keeps its Terraform state, data dir and inventory.

State lives outside terraform/ (one local-backend state file per deployment name) so several
deployments can share the configuration and tests never write into the repository.
"""

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ragfleet.provision.mirror import find_mirror, write_cli_config
from ragfleet.provision.paths import DEFAULT_INVENTORIES_DIR, DEFAULT_TERRAFORM_DIR
from ragfleet.provision.terraform_adapter import TerraformAdapter

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9-]{1,30}$")


def default_state_root() -> Path:
    return Path(os.environ.get("RAGFLEET_DATA_DIR", ".ragfleet")) / "terraform"


@dataclass(frozen=True)
class Deployment:
    name: str
    profile: str
    terraform_dir: Path = DEFAULT_TERRAFORM_DIR
    state_root: Path | None = None
    inventories_root: Path = DEFAULT_INVENTORIES_DIR

    def __post_init__(self) -> None:
        if not NAME_PATTERN.match(self.name):
            raise ValueError(
                f"deployment name {self.name!r} must be 2-31 lower-case letters, digits or '-', "
                "starting with a letter"
            )

    @property
    def workdir(self) -> Path:
        return (self.state_root or default_state_root()).resolve() / self.name

    @property
    def state_file(self) -> Path:
        return self.workdir / "terraform.tfstate"

    @property
    def inventory_file(self) -> Path:
        return self.inventories_root / self.name / "hosts.yml"

    def plan_file(self, action: str) -> Path:
        """Where ``apply``/``destroy`` save the plan they show and then apply."""
        return self.workdir / f"{action}.tfplan"

    def variables(self, extra: Mapping[str, Any]) -> dict[str, Any]:
        """Terraform variables: ``--var`` values, with name and profile always from the command."""
        return {**extra, "name": self.name, "profile": self.profile}

    def terraform(self, mirror: Path | None = None) -> TerraformAdapter:
        """An initialised adapter: offline CLI config, per-deployment data dir and state file."""
        cli_config = write_cli_config(
            self.workdir / ".terraformrc.generated", mirror or find_mirror()
        )
        env = {
            "TF_CLI_CONFIG_FILE": str(cli_config),
            "TF_DATA_DIR": str(self.workdir / ".terraform"),
            "TF_IN_AUTOMATION": "1",
            "AWS_EC2_METADATA_DISABLED": "true",
        }
        adapter = TerraformAdapter(self.terraform_dir, env=env)
        adapter.init(backend_config={"path": str(self.state_file)})
        return adapter
