"""How a stage's kernel is started: the venv's `python3` kernelspec, quiet, on Unix sockets of its own.

jupyter_client picks a TCP kernel's five ports by binding and releasing them before the kernel starts, so a kernel
started at the same moment by another process (a second sweep worker, another run) can take one first: the kernel
dies with "Address already in use" and the stage fails. Sockets under a name of their own cannot collide. The name
holds the managing process's id: jupyter_client removes a kernel's sockets when it stops the kernel, and
`clear_orphaned_sockets` those a killed process left.
"""
from __future__ import annotations

import contextlib
import functools
import os
import tempfile
import uuid
from pathlib import Path

KERNEL = "python3"
# ipykernel logs a traceback when an interrupted run shuts it down mid-cell (and, on TCP ports, warns on every start
# that they are unencrypted): noise here (a cell's own errors reach the notebook, not this log).
KERNEL_ARGS = ["--IPKernelApp.log_level=CRITICAL"]
SOCKETS = "bwkit-kernel"   # a kernel's sockets: <temp folder>/bwkit-kernel-<managing process>-<kernel>-<1..5>
# A socket's path holds at most 107 bytes (macOS: 103); the name adds at most 40 to the temp folder. A longer temp
# folder: jupyter's TCP ports on 127.0.0.1, as papermill's own.
SOCKET_FOLDER_MAX = 60


def kernel_options() -> dict:
    """papermill's keyword arguments for a stage's kernel (orphaned sockets cleared first, where sockets are used)."""
    options = {"kernel_name": KERNEL, "extra_arguments": KERNEL_ARGS}
    if os.name == "posix" and len(tempfile.gettempdir()) <= SOCKET_FOLDER_MAX:
        clear_orphaned_sockets()
        options["kernel_manager_class"] = _local_socket_kernels()
    return options


@functools.cache
def _local_socket_kernels():
    """jupyter_client's kernel manager, its kernel on Unix sockets under a name of its own."""
    from jupyter_client import AsyncKernelManager
    from traitlets import default

    class LocalSocketKernelManager(AsyncKernelManager):
        @default("transport")
        def _transport_default(self):
            return "ipc"

        @default("ip")
        def _ip_default(self):   # the sockets' path prefix: absolute (the kernel's cwd is not ours) and unique
            return os.path.join(tempfile.gettempdir(), f"{SOCKETS}-{os.getpid()}-{uuid.uuid4().hex[:16]}")

    return LocalSocketKernelManager


def clear_orphaned_sockets(folder: str | None = None) -> None:
    """Remove the kernel sockets whose managing process is gone (killed before it could stop its kernel). A live
    process's stay, and so do those this user may not remove (another user's, in a shared temp folder)."""
    for path in Path(folder or tempfile.gettempdir()).glob(f"{SOCKETS}-*-*"):
        if _process_gone(path.name[len(SOCKETS) + 1:].split("-")[0]):
            with contextlib.suppress(OSError):
                path.unlink(missing_ok=True)


def _process_gone(pid: str) -> bool:
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except (ValueError, OSError):   # not a process id, or a live process of another user's
        pass
    return False
