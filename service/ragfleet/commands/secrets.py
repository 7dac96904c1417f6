"""``ragfleet secrets init INVENTORY_DIR``: a new vault of random secrets for one deployment.

Writes ``INVENTORY_DIR/vault.yml`` (what ``site.yml`` loads by default), encrypted with the
password in ``--vault-password-file`` (created with a random password if the file does not exist).
The admin API key is printed once, or written to ``--admin-key-file``; the vault keeps its hash.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

VAULT_NAME = "vault.yml"


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "secrets", help="generate a deployment's secrets", description=__doc__
    )
    actions = parser.add_subparsers(dest="action", required=True)
    init = actions.add_parser(
        "init", help="write INVENTORY_DIR/vault.yml with random secrets and an admin API key"
    )
    init.add_argument("inventory_dir", type=Path, help="the inventory's directory")
    init.add_argument(
        "--vault-password-file",
        type=Path,
        required=True,
        help="the vault password; a missing file is created (mode 0600) with a random one."
        " Keep it out of the repository.",
    )
    init.add_argument(
        "--admin-key-file",
        type=Path,
        help="write the admin API key to this new file (mode 0600) instead of printing it",
    )
    init.add_argument("--force", action="store_true", help="replace an existing vault.yml")
    init.set_defaults(func=run_init)


def run_init(args: argparse.Namespace) -> int:
    from ragfleet.security import fleet_vault

    vault_path: Path = args.inventory_dir / VAULT_NAME
    if vault_path.exists() and not args.force:
        print(f"{vault_path} exists; pass --force to replace it (its secrets are then lost)")
        return 2
    if args.admin_key_file is not None and args.admin_key_file.exists():
        print(f"{args.admin_key_file} exists; name a new file for the admin key")
        return 2
    try:
        password = fleet_vault.read_or_create_password(args.vault_password_file)
        fresh = fleet_vault.generate()
        ciphertext = fleet_vault.encrypt(fleet_vault.render(fresh.variables), password)
        staging = vault_path.with_name(f".{VAULT_NAME}.{os.getpid()}")
        fleet_vault.write_private(staging, ciphertext)
        staging.replace(vault_path)
        if args.admin_key_file is not None:
            fleet_vault.write_private(args.admin_key_file, fresh.admin_key + "\n")
    except (fleet_vault.VaultError, OSError) as exc:
        print(f"ragfleet secrets init: {exc}")
        return 2
    print(f"wrote {vault_path}, encrypted with the password in {args.vault_password_file}")
    if args.admin_key_file is not None:
        print(f"the admin API key is in {args.admin_key_file}")
    else:
        print(f"admin API key (shown once, scope admin): {fresh.admin_key}")
    print("more keys: ragfleet keys new --name NAME --scopes query, then ansible-vault edit")
    return 0
