"""What no role may loosen: the modes and owners of the system directories and account files."""

import pytest

pytestmark = pytest.mark.host


@pytest.mark.parametrize(
    ("path", "mode", "group"),
    [
        ("/etc", 0o755, "root"),
        ("/usr", 0o755, "root"),
        ("/usr/local/bin", 0o755, "root"),
        ("/etc/systemd/system", 0o755, "root"),
        ("/etc/passwd", 0o644, "root"),
        ("/etc/group", 0o644, "root"),
        ("/etc/shadow", 0o640, "shadow"),
        ("/etc/sudoers", 0o440, "root"),
    ],
)
def test_system_paths_keep_their_modes(host, path, mode, group):
    f = host.file(path)
    assert f.exists, f"{path} is missing"
    assert f.user == "root"
    assert f.group == group
    assert f.mode == mode, f"{path} has mode {f.mode:o}, expected {mode:o}"


def test_no_world_writable_files_in_etc(host):
    found = host.check_output("find /etc -xdev -perm -0002 ! -type l -print")
    assert found == "", f"world-writable under /etc:\n{found}"
