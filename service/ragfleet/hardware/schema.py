"""Generate hardware_profiles/profile.schema.json from the structs, so the two cannot drift.

Run ``python -m ragfleet.hardware.schema`` after changing ``ragfleet.hardware.model``; a unit test
fails while the committed file is stale. Editors use the schema through the yaml-language-server
comment at the top of each profile.
"""

import json
import sys

import msgspec

from ragfleet.hardware.loader import REPO_PROFILES_DIR
from ragfleet.hardware.model import Profile

SCHEMA_FILE = REPO_PROFILES_DIR / "profile.schema.json"


def profile_schema() -> str:
    """The JSON Schema of a profile file, formatted as committed."""
    schema = msgspec.json.schema(Profile)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "ragfleet hardware profile"
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    target = sys.argv[1] if len(sys.argv) > 1 else str(SCHEMA_FILE)
    with open(target, "w", encoding="utf-8") as handle:
        handle.write(profile_schema())
