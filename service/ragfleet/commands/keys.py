"""``ragfleet keys new --name NAME --scopes query``: make an API key and its settings entry.

The key is printed once; only its hash goes into ``RAGFLEET_API_KEYS`` (or the Ansible vault).
"""

from __future__ import annotations

import argparse
from typing import Any

from ragfleet.security.api_keys import SCOPES, ApiKeyConfigError, hash_key, new_key, parse_api_keys


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "keys", help="manage API keys", description=__doc__
    )
    actions = parser.add_subparsers(dest="action", required=True)
    create = actions.add_parser("new", help="create a key and print its RAGFLEET_API_KEYS entry")
    create.add_argument("--name", required=True, help="who or what uses the key")
    create.add_argument(
        "--scopes",
        default="query",
        help=f"'+'-separated, among {', '.join(sorted(SCOPES))} (default: query)",
    )
    create.set_defaults(func=run_new)


def run_new(args: argparse.Namespace) -> int:
    key = new_key()
    entry = f"{args.name}:{hash_key(key)}:{args.scopes}"
    try:
        parse_api_keys(entry)
    except ApiKeyConfigError as exc:
        print(exc)
        return 2
    print(f"key (shown once, give it to {args.name}): {key}")
    print(f"RAGFLEET_API_KEYS entry (store this):      {entry}")
    return 0
