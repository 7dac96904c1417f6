"""``ragfleet profile list|show|check``: the hardware profiles, and whether a host meets one."""

import argparse
import json
import sys
from pathlib import Path
from typing import Any

EXIT_MISMATCH = 1
EXIT_BAD_INPUT = 2


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """Add ``profile`` and its actions to the ragfleet CLI."""
    parser = subparsers.add_parser("profile", help="list, show or check hardware profiles")
    parser.add_argument(
        "--profiles-dir",
        type=Path,
        default=None,
        help=(
            "directory of profile YAML files (default: $RAGFLEET_HARDWARE_PROFILES, the repo's,"
            " or the copy an installed wheel carries)"
        ),
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

    listing = actions.add_parser("list", help="one line per profile")
    listing.set_defaults(func=_list)

    show = actions.add_parser("show", help="a profile's settings as YAML")
    show.add_argument("name")
    show.set_defaults(func=_show)

    check = actions.add_parser("check", help="compare this host (or saved facts) with a profile")
    check.add_argument("name")
    check.add_argument("--facts", type=Path, help="host facts JSON instead of reading this host")
    check.add_argument("--json", action="store_true", help="print the report as JSON")
    check.set_defaults(func=_check)


def _list(args: argparse.Namespace) -> int:
    from ragfleet.hardware import ProfileError, list_profiles, load_profile

    try:
        profiles = [
            load_profile(name, args.profiles_dir) for name in list_profiles(args.profiles_dir)
        ]
    except ProfileError as error:
        return _fail(str(error))
    for p in profiles:
        print(
            f"{p.name:<8} {p.capacity.requests_per_minute:>6} req/min  "
            f"{p.gpu.min_count} x {p.gpu.model} "
            f"({p.gpu.min_memory_gib} GiB, {p.trtllm.quantisation})  "
            f"AWS {p.aws.instance_type} ({p.aws.gpu_stand_in})"
        )
    return 0


def _show(args: argparse.Namespace) -> int:
    import msgspec
    import yaml

    from ragfleet.hardware import ProfileError, load_profile

    try:
        profile = load_profile(args.name, args.profiles_dir)
    except ProfileError as error:
        return _fail(str(error))
    data: Any = msgspec.to_builtins(profile)
    print(yaml.safe_dump(data, sort_keys=False, width=100), end="")
    return 0


def _check(args: argparse.Namespace) -> int:
    from ragfleet.hardware import ProfileError, load_profile
    from ragfleet.hardware.compare import compare
    from ragfleet.hardware.driver import load_driver_table
    from ragfleet.hardware.facts import FactsError, gather, load_facts

    try:
        profile = load_profile(args.name, args.profiles_dir)
        drivers = load_driver_table(args.profiles_dir)
        facts = load_facts(args.facts) if args.facts else gather()
    except (ProfileError, FactsError) as error:
        return _fail(str(error))
    report = compare(profile, facts, drivers)
    if args.json:
        import msgspec

        body = msgspec.to_builtins(report)
        print(json.dumps({**body, "ok": report.ok}, indent=2))
    else:
        print(report.render())
    return 0 if report.ok else EXIT_MISMATCH


def _fail(message: str) -> int:
    print(f"ragfleet profile: {message}", file=sys.stderr)
    return EXIT_BAD_INPUT
