"""Default locations of the Terraform configuration and the generated inventories.

Kept apart from the Terraform adapter so the CLI can describe its options without the ``operator``
extra (python-terraform) installed, as on a deployed service host.
"""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]
DEFAULT_TERRAFORM_DIR = REPO_ROOT / "terraform"
DEFAULT_INVENTORIES_DIR = REPO_ROOT / "inventories"
