"""The sockets a killed runner's kernel leaves behind are removed; a live runner's, and what may not be removed, stay."""
import os
from pathlib import Path

from bwkit.pipeline.kernels import SOCKETS, clear_orphaned_sockets

GONE = 2 ** 22 + 1   # above Linux's largest pid_max: never a live process


def _sockets(folder: Path, pid) -> list[Path]:
    paths = [folder / f"{SOCKETS}-{pid}-0123456789abcdef-{n}" for n in range(1, 6)]
    for path in paths:
        path.touch()
    return paths


def test_a_gone_processs_sockets_are_removed_and_a_live_ones_kept(tmp_path):
    gone, live = _sockets(tmp_path, GONE), _sockets(tmp_path, os.getpid())
    odd = [tmp_path / f"{SOCKETS}-notapid-1", tmp_path / "other-kernel-1"]
    for path in odd:
        path.touch()
    clear_orphaned_sockets(str(tmp_path))
    assert not any(path.exists() for path in gone)
    assert all(path.exists() for path in live + odd)


def test_a_socket_this_user_may_not_remove_is_left_without_an_error(tmp_path, monkeypatch):
    gone = _sockets(tmp_path, GONE)

    def refused(self, missing_ok=False):
        raise PermissionError(1, "Operation not permitted", str(self))

    monkeypatch.setattr(Path, "unlink", refused)
    clear_orphaned_sockets(str(tmp_path))   # another user's, in a shared temp folder: not ours to remove
    assert all(path.exists() for path in gone)
