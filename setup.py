"""Copy hardware_profiles/ into the wheel as ragfleet/hardware/profiles/.

The directory stays at the repository root, where Terraform and Ansible read it; an installed
ragfleet has no repository, so the wheel carries a copy that ragfleet.hardware.loader falls back
to. Everything else about the build is in pyproject.toml.
"""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

PROFILES = Path(__file__).resolve().parent / "hardware_profiles"
PATTERNS = ("*.yaml", "*.json")


class BuildPyWithProfiles(build_py):
    def run(self) -> None:
        super().run()
        if self.editable_mode:
            return  # an editable install reads the repository's directory directly
        target = Path(self.build_lib, "ragfleet", "hardware", "profiles")
        self.mkpath(str(target))
        for pattern in PATTERNS:
            for source in sorted(PROFILES.glob(pattern)):
                self.copy_file(str(source), str(target / source.name))


setup(cmdclass={"build_py": BuildPyWithProfiles})
