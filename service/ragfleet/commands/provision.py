"""``ragfleet provision plan|apply|destroy``: AWS hosts for a hardware profile, through Terraform.

``apply`` and ``destroy`` save a plan, show it, ask for confirmation on a terminal (``--yes``
skips the question; without a terminal and without ``--yes`` they refuse), then apply that saved
plan, so what changes is exactly what was shown. ``apply`` writes ``<inventories>/<name>/hosts.yml``
from Terraform's ``ansible_inventory`` output; ``destroy`` removes it. Terraform variables come
from repeated ``--var key=value``; values that parse as JSON (lists, numbers, booleans) keep their
type: ``--var 'admin_cidrs=["192.0.2.0/24"]'``.
"""

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ragfleet.provision.deployment import Deployment
    from ragfleet.provision.terraform_adapter import TerraformAdapter

    Runner = Callable[[TerraformAdapter, dict[str, Any], Deployment], int]
    AfterApply = Callable[[TerraformAdapter, Deployment], None]

EXIT_FAILED = 1
EXIT_PLAN_HAS_CHANGES = 2


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """Add ``provision`` and its actions to the ragfleet CLI."""
    parser = subparsers.add_parser(
        "provision", help="plan, apply or destroy AWS hosts with Terraform"
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    plan = actions.add_parser("plan", help="show what apply would change")
    plan.add_argument(
        "--detailed-exitcode",
        action="store_true",
        help="exit 2 when the plan has changes, 0 when there are none (like terraform)",
    )
    plan.set_defaults(func=_plan)
    apply = actions.add_parser("apply", help="create or update the hosts and write the inventory")
    apply.set_defaults(func=_apply)
    destroy = actions.add_parser("destroy", help="delete the hosts and their inventory")
    destroy.set_defaults(func=_destroy)
    for action in (plan, apply, destroy):
        _add_common_options(action)
    for action in (apply, destroy):
        action.add_argument(
            "--yes",
            action="store_true",
            help="apply the plan shown without asking (automation); without it, ask on a "
            "terminal and refuse elsewhere",
        )


def _add_common_options(parser: argparse.ArgumentParser) -> None:
    # Not the deployment module: it imports python-terraform, absent on service hosts.
    from ragfleet.provision.paths import DEFAULT_INVENTORIES_DIR, DEFAULT_TERRAFORM_DIR

    parser.add_argument("--profile", required=True, help="hardware profile: small, medium, large")
    parser.add_argument("--name", required=True, help="deployment name, e.g. rag-prod")
    parser.add_argument(
        "--var",
        dest="variables",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a Terraform variable; repeat for several",
    )
    parser.add_argument("--terraform-dir", type=Path, default=DEFAULT_TERRAFORM_DIR)
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=None,
        help="root of per-deployment state (default: $RAGFLEET_DATA_DIR/terraform)",
    )
    parser.add_argument("--inventories-dir", type=Path, default=DEFAULT_INVENTORIES_DIR)


def parse_variables(pairs: list[str]) -> dict[str, Any]:
    """``key=value`` pairs to a dict; JSON values keep their type, anything else is a string."""
    variables: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"--var {pair!r}: expected KEY=VALUE")
        try:
            variables[key] = json.loads(raw)
        except json.JSONDecodeError:
            variables[key] = raw
    return variables


def _plan(args: argparse.Namespace) -> int:
    def run(tf: "TerraformAdapter", variables: dict[str, Any], _deployment: "Deployment") -> int:
        result = tf.plan(variables)
        print(result.output, end="")
        return EXIT_PLAN_HAS_CHANGES if result.changes and args.detailed_exitcode else 0

    return _with_terraform(args, run)


def _apply(args: argparse.Namespace) -> int:
    def write(tf: "TerraformAdapter", deployment: "Deployment") -> None:
        from ragfleet.provision.inventory import render_inventory, write_inventory

        text = render_inventory(tf.outputs()["ansible_inventory"], deployment.name)
        print(f"inventory written to {write_inventory(deployment.inventory_file, text)}")

    return _apply_confirmed_plan(args, "apply", write)


def _destroy(args: argparse.Namespace) -> int:
    def remove(_tf: "TerraformAdapter", deployment: "Deployment") -> None:
        from ragfleet.provision.inventory import remove_inventory

        if remove_inventory(deployment.inventory_file):
            print(f"inventory removed: {deployment.inventory_file}")

    return _apply_confirmed_plan(args, "destroy", remove)


def _apply_confirmed_plan(args: argparse.Namespace, action: str, after: "AfterApply") -> int:
    """Save a plan, show it, get a yes (``--yes`` or the terminal), apply exactly that plan."""
    if not args.yes and not sys.stdin.isatty():
        print(
            f"ragfleet provision {action}: refusing to {action} without confirmation: stdin is "
            "not a terminal. Review `ragfleet provision plan`, then pass --yes.",
            file=sys.stderr,
        )
        return EXIT_FAILED

    def run(tf: "TerraformAdapter", variables: dict[str, Any], deployment: "Deployment") -> int:
        plan_file = deployment.plan_file(action)
        plan_file.parent.mkdir(parents=True, exist_ok=True)
        try:
            result = tf.plan(variables, out=plan_file, destroy=action == "destroy")
            print(result.output, end="")
            if result.changes:
                if not (args.yes or _confirmed(action, deployment.name)):
                    print(
                        f"ragfleet provision {action}: cancelled; nothing changed", file=sys.stderr
                    )
                    return EXIT_FAILED
                print(tf.apply_plan(plan_file), end="")
            after(tf, deployment)
        finally:
            plan_file.unlink(missing_ok=True)
        return 0

    return _with_terraform(args, run)


def _confirmed(action: str, name: str) -> bool:
    """y/N on the terminal: anything but y or yes (end of input included) means no."""
    try:
        answer = input(f"\n{action.capitalize()} deployment {name} as planned above? [y/N] ")
    except EOFError:
        return False
    return answer.strip().lower() in ("y", "yes")


def _with_terraform(args: argparse.Namespace, run: "Runner") -> int:
    """Check inputs, initialise Terraform for the deployment, run, report failures plainly."""
    from ragfleet.hardware import ProfileError, load_profile
    from ragfleet.provision.inventory import InventoryError
    from ragfleet.provision.mirror import MirrorNotFoundError

    try:
        from ragfleet.provision.deployment import Deployment
        from ragfleet.provision.terraform_adapter import TerraformError
    except ModuleNotFoundError as missing:  # python-terraform: the operator extra
        print(
            f"ragfleet provision needs {missing.name}: pip install 'ragfleet[operator]'",
            file=sys.stderr,
        )
        return EXIT_FAILED

    try:
        load_profile(args.profile)
        deployment = Deployment(
            name=args.name,
            profile=args.profile,
            terraform_dir=args.terraform_dir,
            state_root=args.state_dir,
            inventories_root=args.inventories_dir,
        )
        variables = deployment.variables(parse_variables(args.variables))
        code = run(deployment.terraform(), variables, deployment)
    except (ProfileError, ValueError, MirrorNotFoundError, InventoryError) as error:
        print(f"ragfleet provision: {error}", file=sys.stderr)
        return EXIT_FAILED
    except TerraformError as error:
        print(error.stdout, end="")
        print(f"ragfleet provision: {error}", file=sys.stderr)
        return EXIT_FAILED
    return code
