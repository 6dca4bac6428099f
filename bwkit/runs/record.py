"""run.json: the record of one run, always true.

It is rewritten atomically at every change (a reader sees the old record or the new,
never half of one), and it names the process that runs it: its pid, host and the
process's start time (from /proc). A run whose process died without a word (SIGKILL,
power loss) is recognised the next time anyone reads the record through `reconcile`
(the list of runs, `bwkit resume`): on the same host, when that pid no longer exists or
now belongs to a process that started at another time, the run is marked `interrupted`.
A run recorded on another host is left as it says (nothing here can tell).
"""
from __future__ import annotations

import datetime as dt
import json
import os
import socket
from pathlib import Path

from bwkit.errors import DiskFull, RunError
from bwkit.runs.artifacts import RunFolder, strict, write_json

STATUSES = ("running", "succeeded", "failed", "interrupted")
RESERVE_BYTES = 256 << 10   # kept free beside run.json while a run is under way, for its last word on a full disk


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _process_start(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (/proc/<pid>/stat field 22), or None."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rpartition(")")[2].split()[19]


def this_process() -> dict:
    return {"pid": os.getpid(), "host": socket.gethostname(), "start": _process_start(os.getpid())}


def process_alive(process: dict) -> bool | None:
    """True or False for a process of this host; None when it ran elsewhere (unknown)."""
    if process.get("host") != socket.gethostname():
        return None
    start = _process_start(process["pid"])
    return start is not None and (process.get("start") is None or start == process["start"])


class RunRecord:
    """One run's run.json, held in memory and saved at every change."""

    def __init__(self, files: RunFolder, data: dict):
        self.files, self.data = files, data

    @classmethod
    def start(cls, files: RunFolder, **fields) -> "RunRecord":
        """The record of a new run, written first and small, with room kept beside it for its later versions."""
        record = cls(files, {"run_id": files.root.name, "status": "running", "started": now(), **fields,
                             "stages": {}, "process": this_process()})
        record.save()
        try:
            files.record_reserve.write_bytes(b"\0" * RESERVE_BYTES)
        except OSError:
            files.record_reserve.unlink(missing_ok=True)   # no room even for that: save() says so when it fails
        return record

    @classmethod
    def load(cls, files: RunFolder) -> "RunRecord":
        return cls(files, read_record(files))

    def save(self) -> None:
        """Rewrite run.json; on a full disk the kept reserve is given up so that the record can still say so."""
        try:
            write_json(self.files.run_json, self.data)
        except DiskFull:
            if self.files.record_reserve.exists():
                self.files.record_reserve.unlink()
                write_json(self.files.run_json, self.data)
            else:
                self._last_word()

    def _last_word(self) -> None:
        """No room for a new file: the record rewritten in place, compact; if even that fails it is removed (a
        record that cannot tell the truth must not tell an old one) and the caller hears why."""
        text = json.dumps(strict(self.data), separators=(",", ":"), allow_nan=False).encode()
        try:
            with open(self.files.run_json, "r+b") as handle:
                handle.write(text)
                handle.truncate()
        except OSError:
            self.files.run_json.unlink(missing_ok=True)
            raise DiskFull(f"no space left on {self.files.root}: its run.json could not be written, and was "
                           "removed rather than left saying what is no longer true") from None

    def release(self) -> None:
        """The run is over: its reserve goes."""
        self.files.record_reserve.unlink(missing_ok=True)

    def stage(self, stage: str, status: str, seconds: float | None = None, **fields) -> None:
        entry = {"status": status, **({} if seconds is None else {"seconds": round(seconds, 2)}), **fields}
        self.data["stages"][stage] = entry
        self.save()

    def running_stage(self) -> str | None:
        return next((name for name, s in self.data["stages"].items() if s["status"] == "running"), None)

    def interrupt(self, why: str) -> None:
        """Mark the run and its running stage interrupted, with a one-line reason."""
        stage = self.running_stage()
        if stage:
            self.data["stages"][stage]["status"] = "interrupted"
        self.data.update(status="interrupted", error=why + (f" during {stage}" if stage else ""))
        self.save()


def read_record(files: RunFolder) -> dict:
    """run.json as a dict: the one place it is read. A missing, unreadable or malformed record is a RunError
    naming the file (a record is a JSON object with a run id, a status, parameters and stages)."""
    path = files.run_json
    if not path.is_file():
        raise RunError(f"{files.root} has no {RunFolder.RUN_JSON}: not a bwkit run folder")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise RunError(f"{path}: not a readable run record ({exc})") from None
    if not isinstance(data, dict):
        raise RunError(f"{path}: not a run record (a JSON {type(data).__name__}, not an object)")
    for name, kind in (("run_id", str), ("status", str), ("parameters", dict), ("stages", dict)):
        if not isinstance(data.get(name), kind):
            raise RunError(f"{path}: not a run record ('{name}' is missing or not a {kind.__name__})")
    return data


def record_or_empty(files: RunFolder) -> dict:
    """`read_record`, or {} where there is no readable record (a card or a model's description drawn for a folder
    whose record is missing or half-written says "unknown" rather than failing)."""
    try:
        return read_record(files)
    except RunError:
        return {}


def model_version(record: dict) -> str:
    """The model version a run exported under: its recorded parameter, else 04_export's default."""
    from bwkit.runs.params import notebook_parameters

    return (record.get("parameters") or {}).get("model_version") or \
        notebook_parameters("04_export")["model_version"].default   # .get: an unfinished or old run may lack them


def reconcile(files: RunFolder) -> dict:
    """run.json as it truly is: a `running` run whose process is gone becomes `interrupted` (and is saved)."""
    record = RunRecord.load(files)
    process = record.data.get("process", {})
    if record.data.get("status") == "running" and process and process_alive(process) is False:
        record.interrupt(f"interrupted: its process (pid {process['pid']} on {process['host']}) ended without a "
                         f"word (killed or the machine stopped), found at {now()}")
    return record.data
