"""The python-terraform adapter: each breakage of python-terraform 0.10.1 on Terraform 1.x is shown
with the raw library call, and the adapter's workaround is shown to succeed, against a real
Terraform and a configuration that needs no provider (terraform_data is built in).
"""

from __future__ import annotations

import io
import json
import os
import shutil
from pathlib import Path

import pytest
from python_terraform import Terraform

from ragfleet.cli import main
from ragfleet.commands.provision import parse_variables
from ragfleet.provision.deployment import Deployment
from ragfleet.provision.inventory import InventoryError, remove_inventory, render_inventory
from ragfleet.provision.mirror import REGISTRY_DIR, cli_config, find_mirror
from ragfleet.provision.terraform_adapter import TerraformAdapter, TerraformError

pytestmark = [
    pytest.mark.skipif(shutil.which("terraform") is None, reason="needs terraform"),
    # python-terraform logs failed commands through the deprecated Logger.warn.
    pytest.mark.filterwarnings("ignore:The 'warn' method is deprecated:DeprecationWarning"),
]

CONFIG = """
variable "greeting" {
  type    = string
  default = "hello"
}

resource "terraform_data" "marker" {
  input = var.greeting
}

output "greeting" {
  value = terraform_data.marker.output
}

output "sizes" {
  value = [1, 2]
}
"""


@pytest.fixture
def config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A provider-free configuration; Terraform reads an empty CLI config, never the registry."""
    rc = tmp_path / "empty.tfrc"
    rc.write_text("")
    monkeypatch.setenv("TF_CLI_CONFIG_FILE", str(rc))
    folder = tmp_path / "config"
    folder.mkdir()
    (folder / "main.tf").write_text(CONFIG)
    return folder


@pytest.fixture
def adapter(config_dir: Path) -> TerraformAdapter:
    tf = TerraformAdapter(config_dir)
    tf.init()
    return tf


@pytest.fixture
def raw(config_dir: Path) -> Terraform:
    tf = Terraform(working_dir=str(config_dir))
    code, _, err = tf.init()
    assert code == 0, err
    return tf


def state_resources(config_dir: Path) -> list[str]:
    state = json.loads((config_dir / "terraform.tfstate").read_text())
    return [resource["name"] for resource in state["resources"]]


# --- apply -------------------------------------------------------------------------------------


def test_raw_apply_asks_for_approval_and_fails(raw: Terraform) -> None:
    code, _, err = raw.apply()
    assert code != 0
    assert "approval" in err


def test_adapter_apply_approves_and_creates_the_resource(
    adapter: TerraformAdapter, config_dir: Path
) -> None:
    adapter.apply({})
    assert state_resources(config_dir) == ["marker"]


def test_raw_apply_with_a_directory_reads_it_as_a_plan_file(
    raw: Terraform, config_dir: Path
) -> None:
    code, _, err = raw.apply(str(config_dir), skip_plan=True)
    assert code != 0
    assert "plan file" in err


def test_adapter_runs_in_the_working_directory(
    tmp_path: Path, adapter: TerraformAdapter, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    adapter.apply({"greeting": "from elsewhere"})
    assert adapter.outputs()["greeting"] == "from elsewhere"


# --- destroy -----------------------------------------------------------------------------------


def test_raw_destroy_sends_the_removed_force_flag(raw: Terraform) -> None:
    code, _, err = raw.destroy()
    assert code != 0
    assert "flag provided but not defined: -force" in err


def test_adapter_destroy_removes_everything(adapter: TerraformAdapter, config_dir: Path) -> None:
    adapter.apply({})
    adapter.destroy({})
    assert state_resources(config_dir) == []


# --- output ------------------------------------------------------------------------------------


def test_raw_output_by_name_raises_type_error(raw: Terraform) -> None:
    raw.apply(skip_plan=True)
    with pytest.raises(TypeError):
        raw.output("greeting")


def test_adapter_outputs_are_plain_values_by_name(adapter: TerraformAdapter) -> None:
    adapter.apply({"greeting": "hi"})
    assert adapter.outputs() == {"greeting": "hi", "sizes": [1, 2]}


# --- plan, variables, environment, errors ------------------------------------------------------


def test_plan_reports_changes_before_apply_and_none_after(adapter: TerraformAdapter) -> None:
    assert adapter.plan({}).changes
    adapter.apply({})
    assert not adapter.plan({}).changes


def test_changed_variable_shows_as_a_change(adapter: TerraformAdapter) -> None:
    adapter.apply({"greeting": "hello"})
    assert adapter.plan({"greeting": "bye"}).changes


def test_environment_reaches_terraform_and_is_restored(config_dir: Path) -> None:
    tf = TerraformAdapter(config_dir, env={"TF_VAR_greeting": "from the environment"})
    tf.init()
    tf.apply({})
    assert tf.outputs()["greeting"] == "from the environment"
    assert "TF_VAR_greeting" not in os.environ


def test_backend_path_puts_state_where_asked(config_dir: Path, tmp_path: Path) -> None:
    (config_dir / "backend.tf").write_text('terraform {\n  backend "local" {}\n}\n')
    state = tmp_path / "deployments" / "one.tfstate"
    tf = TerraformAdapter(config_dir, env={"TF_DATA_DIR": str(tmp_path / "data")})
    tf.init(backend_config={"path": str(state)})
    tf.apply({})
    assert state.is_file()
    assert not (config_dir / "terraform.tfstate").exists()


def test_failed_command_raises_with_terraform_message(adapter: TerraformAdapter) -> None:
    with pytest.raises(TerraformError, match=r"Invalid value for input variable"):
        adapter.apply({"greeting": ["not", "a", "string"]})


# --- saved plans: what is applied is what was shown --------------------------------------------


def test_saved_plan_applies_exactly_what_was_planned(
    adapter: TerraformAdapter, tmp_path: Path
) -> None:
    plan_file = tmp_path / "apply.tfplan"
    result = adapter.plan({"greeting": "as planned"}, out=plan_file)
    assert result.changes
    assert result.plan_file == plan_file
    assert plan_file.is_file()
    adapter.apply_plan(plan_file)
    assert adapter.outputs()["greeting"] == "as planned"


def test_stale_saved_plan_is_refused(adapter: TerraformAdapter, tmp_path: Path) -> None:
    plan_file = tmp_path / "apply.tfplan"
    adapter.plan({"greeting": "first"}, out=plan_file)
    adapter.apply({"greeting": "meanwhile"})
    with pytest.raises(TerraformError, match=r"Saved plan is stale"):
        adapter.apply_plan(plan_file)
    assert adapter.outputs()["greeting"] == "meanwhile"


def test_saved_destroy_plan_removes_everything(
    adapter: TerraformAdapter, config_dir: Path, tmp_path: Path
) -> None:
    adapter.apply({})
    plan_file = tmp_path / "destroy.tfplan"
    result = adapter.plan({}, out=plan_file, destroy=True)
    assert result.changes
    assert "1 to destroy" in result.output
    assert state_resources(config_dir) == ["marker"]
    adapter.apply_plan(plan_file)
    assert state_resources(config_dir) == []


# --- CLI: provision apply|destroy show the plan and ask ----------------------------------------

CLI_CONFIG = """
variable "name" {
  type = string
}

variable "profile" {
  type = string
}

resource "terraform_data" "host" {
  input = var.name
}

output "ansible_inventory" {
  value = yamlencode({ all = { children = {
    gpu_inference = { hosts = { (terraform_data.host.output) = { ansible_host = "10.0.0.5" } } }
    datastore     = { hosts = {} }
    monitoring    = { hosts = {} }
    gateway       = { hosts = {} }
  } } })
}
"""


class Terminal(io.StringIO):
    """Stands in for stdin on a terminal, with the operator's answers already typed."""

    def isatty(self) -> bool:
        return True


class CLI:
    """``ragfleet provision`` against the provider-free CLI_CONFIG, in tmp dirs."""

    def __init__(self, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.config = root / "cli-config"
        self.config.mkdir()
        (self.config / "main.tf").write_text(CLI_CONFIG)
        self.inventory = root / "inventories" / "rf-cli" / "hosts.yml"
        self.root = root
        adapter = TerraformAdapter(self.config)
        adapter.init()
        monkeypatch.setattr(Deployment, "terraform", lambda _self, mirror=None: adapter)
        self.monkeypatch = monkeypatch

    def run(self, action: str, stdin: io.StringIO, *extra: str) -> int:
        self.monkeypatch.setattr("sys.stdin", stdin)
        return main(
            [
                "provision", action, *extra,
                "--profile", "small",
                "--name", "rf-cli",
                "--terraform-dir", str(self.config),
                "--state-dir", str(self.root / "state"),
                "--inventories-dir", str(self.root / "inventories"),
            ]
        )  # fmt: skip

    def resources(self) -> list[str]:
        state = self.config / "terraform.tfstate"
        return state_resources(self.config) if state.exists() else []


@pytest.fixture
def cli(config_dir: Path, monkeypatch: pytest.MonkeyPatch) -> CLI:
    return CLI(config_dir.parent, monkeypatch)


@pytest.mark.parametrize("action", ["apply", "destroy"])
def test_without_a_terminal_or_yes_nothing_runs(
    action: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def no_terraform(_self: Deployment, mirror: Path | None = None) -> TerraformAdapter:
        raise AssertionError("terraform must not run without a confirmation")

    monkeypatch.setattr(Deployment, "terraform", no_terraform)
    monkeypatch.setattr("sys.stdin", io.StringIO("yes\n"))
    code = main(["provision", action, "--profile", "small", "--name", "rf-cli"])
    assert code != 0
    err = capsys.readouterr().err
    assert f"refusing to {action} without confirmation" in err
    assert "--yes" in err


def test_apply_shows_the_plan_and_a_no_changes_nothing(
    cli: CLI, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.run("apply", Terminal("n\n")) != 0
    out, err = capsys.readouterr()
    assert "terraform_data.host will be created" in out
    assert "Apply deployment rf-cli as planned above? [y/N]" in out
    assert "cancelled; nothing changed" in err
    assert cli.resources() == []
    assert not cli.inventory.exists()
    assert not (cli.root / "state" / "rf-cli" / "apply.tfplan").exists()


def test_end_of_input_on_the_terminal_means_no(cli: CLI) -> None:
    assert cli.run("apply", Terminal("")) != 0
    assert cli.resources() == []


def test_apply_after_yes_applies_the_saved_plan_and_writes_the_inventory(
    cli: CLI, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unplanned_apply(_self: TerraformAdapter, _variables: object) -> str:
        raise AssertionError("apply must apply the saved plan, not plan again")

    monkeypatch.setattr(TerraformAdapter, "apply", unplanned_apply)
    assert cli.run("apply", Terminal("y\n")) == 0
    assert cli.resources() == ["host"]
    assert "rf-cli" in cli.inventory.read_text()


def test_yes_applies_without_a_terminal_and_destroy_asks_too(cli: CLI) -> None:
    assert cli.run("apply", io.StringIO(""), "--yes") == 0
    assert cli.resources() == ["host"]
    assert cli.run("destroy", Terminal("no\n")) != 0
    assert cli.resources() == ["host"]
    assert cli.inventory.exists()
    assert cli.run("destroy", Terminal("yes\n")) == 0
    assert cli.resources() == []
    assert not cli.inventory.exists()


# --- CLI pieces --------------------------------------------------------------------------------


def test_var_values_keep_json_types_and_fall_back_to_strings() -> None:
    assert parse_variables(
        ['admin_cidrs=["192.0.2.0/24"]', "inference_count=2", "region=eu-west-1"]
    ) == {
        "admin_cidrs": ["192.0.2.0/24"],
        "inference_count": 2,
        "region": "eu-west-1",
    }


def test_var_without_equals_sign_is_rejected() -> None:
    with pytest.raises(ValueError, match="expected KEY=VALUE"):
        parse_variables(["region"])


def test_name_and_profile_cannot_be_overridden_by_var() -> None:
    deployment = Deployment(name="rf-one", profile="small", state_root=Path("/tmp/x"))
    assert deployment.variables({"name": "other", "region": "us-east-1"}) == {
        "name": "rf-one",
        "profile": "small",
        "region": "us-east-1",
    }


def test_invalid_deployment_name_is_rejected() -> None:
    with pytest.raises(ValueError, match="deployment name 'Bad_Name'"):
        Deployment(name="Bad_Name", profile="small")


# --- the offline provider mirror ---------------------------------------------------------------


def test_mirror_is_found_under_a_likely_root_and_cached(tmp_path: Path) -> None:
    mirror = tmp_path / "opt" / "tf-plugins"
    (mirror / REGISTRY_DIR / "hashicorp").mkdir(parents=True)
    cache = tmp_path / "cache"
    found = find_mirror(cache_file=cache, roots=[tmp_path / "opt"], search_whole_disk=False)
    assert found == mirror
    assert cache.read_text().strip() == str(mirror)


def test_cached_mirror_is_used_without_searching(tmp_path: Path) -> None:
    mirror = tmp_path / "somewhere"
    (mirror / REGISTRY_DIR).mkdir(parents=True)
    cache = tmp_path / "cache"
    cache.write_text(f"{mirror}\n")
    assert find_mirror(cache_file=cache, roots=[], search_whole_disk=False) == mirror


def test_stale_cache_is_ignored_and_missing_mirror_explained(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cache.write_text(f"{tmp_path / 'gone'}\n")
    with pytest.raises(Exception, match=r"no registry\.terraform\.io directory found"):
        find_mirror(cache_file=cache, roots=[tmp_path], search_whole_disk=False)


def test_cli_config_installs_registry_providers_only_from_the_mirror(tmp_path: Path) -> None:
    text = cli_config(tmp_path)
    assert f'path    = "{tmp_path}"' in text
    assert 'exclude = ["registry.terraform.io/*/*"]' in text


# --- the inventory file ------------------------------------------------------------------------

OUTPUT = """
"all":
  "children":
    "datastore": {"hosts": {}}
    "gateway": {"hosts": {}}
    "gpu_inference":
      "hosts":
        "rf-inference-1": {"ansible_host": "203.0.113.7"}
    "monitoring": {"hosts": {}}
  "vars": {"ragfleet_profile": "small"}
"""


def test_inventory_is_rewritten_with_a_header_and_same_content() -> None:
    import yaml

    text = render_inventory(OUTPUT, "rf")
    assert text.startswith("---\n# Inventory of deployment rf")
    assert yaml.safe_load(text) == yaml.safe_load(OUTPUT)


def test_inventory_without_the_role_groups_is_refused() -> None:
    with pytest.raises(InventoryError, match="gpu_inference"):
        render_inventory("all: {children: {gateway: {hosts: {}}}}", "rf")


def test_removing_the_inventory_also_removes_its_empty_folder(tmp_path: Path) -> None:
    path = tmp_path / "rf" / "hosts.yml"
    path.parent.mkdir()
    path.write_text("---\n")
    assert remove_inventory(path)
    assert not path.parent.exists()
