"""Hardware profiles: typed loading of hardware_profiles/*.yaml and checks of hosts against them."""

from ragfleet.hardware.loader import (
    ProfileError,
    list_profiles,
    load_catalogue,
    load_profile,
    profiles_dir,
)
from ragfleet.hardware.model import Catalogue, InstanceType, Profile

__all__ = [
    "Catalogue",
    "InstanceType",
    "Profile",
    "ProfileError",
    "list_profiles",
    "load_catalogue",
    "load_profile",
    "profiles_dir",
]
