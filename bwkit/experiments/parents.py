"""A sweep's or a search's MLflow run, with its runs nested under it (children carry their seed and group).

Logged on the client as each run lands, so workers need no access to the store and a SQLite store
has one writer. Every failure here is one warning line (`tracking`): a sweep never fails for it.
"""
from __future__ import annotations

import time
from contextlib import contextmanager
from pathlib import Path

from bwkit.experiments.tracking import _client, _experiment, _key, _warn, track_run, tracking_uri


def start_parent(kind: str, name: str, params: dict, *, uri: str | None = None, runs_root=None) -> str | None:
    """The MLflow run of a sweep or a search, which its runs nest under; None (one warning) if tracking fails."""
    uri = tracking_uri(uri, runs_root)
    try:
        from mlflow.entities import Param

        client = _client(uri)
        created = client.create_run(_experiment(client, uri), run_name=name,
                                    tags={"bwkit.kind": kind, f"bwkit.{kind}_id": name, "mlflow.source.type": "LOCAL"})
        client.log_batch(created.info.run_id, params=[Param(_key(k), str(v)[:6000]) for k, v in params.items()][:100])
        return created.info.run_id
    except Exception as exc:  # noqa: BLE001 - tracking never makes a sweep fail
        _warn(f"of {kind} {name} to {uri}", exc)
        return None


def end_parent(parent: str | None, metrics: dict, failed: bool, *, uri: str | None = None, runs_root=None,
               killed: bool = False) -> None:
    """Close a sweep's or search's MLflow run with its summary metrics (KILLED: stopped by a signal)."""
    if parent is None:
        return
    uri = tracking_uri(uri, runs_root)
    try:
        from mlflow.entities import Metric

        client, now = _client(uri), int(time.time() * 1000)
        client.log_batch(parent, metrics=[Metric(_key(k), float(v), now, 0) for k, v in metrics.items()
                                          if isinstance(v, (int, float)) and v == v])
        client.set_terminated(parent, "KILLED" if killed else "FAILED" if failed else "FINISHED")
    except Exception as exc:  # noqa: BLE001
        _warn(f"closing {parent}", exc)


class TrackedParent:
    """A sweep's or a search's MLflow parent run, and each run logged under it as it lands (off: does nothing)."""

    def __init__(self, kind: str, name: str, *, params: dict, uri: str | None, runs_root: Path, folder: Path):
        """params: the runs' common parameters and what the sweep or search varies; `tracking` among them decides."""
        self.on, self.uri, self.runs_root, self.folder = params.get("tracking") is not False, uri, runs_root, folder
        self.parent = start_parent(kind, name, params, uri=uri, runs_root=runs_root) if self.on else None

    def landed(self, entry: dict, result: dict) -> None:
        if self.on and (self.folder / result["run_id"]).is_dir():
            config = entry["config"]
            group = ",".join(f"{k}={v}" for k, v in sorted(entry.get("point", {}).items()))
            track_run(self.folder / result["run_id"], uri=self.uri, runs_root=self.runs_root, parent=self.parent,
                      tags={"bwkit.repeat": entry.get("repeat", 0), "bwkit.group": group or "all",
                            "bwkit.seed": config.seed})

    def close(self, metrics: dict, failed: bool, *, killed: bool = False) -> None:
        end_parent(self.parent, metrics, failed, uri=self.uri, runs_root=self.runs_root, killed=killed)

    @contextmanager
    def closed_if_stopped(self):
        """The block that runs the sweep or search: stopped by Ctrl-C (KILLED) or an error (FAILED), the parent run
        is closed, not left RUNNING in MLflow for ever; the stop then goes on."""
        try:
            yield
        except BaseException as exc:
            self.close({}, True, killed=isinstance(exc, KeyboardInterrupt))
            raise
