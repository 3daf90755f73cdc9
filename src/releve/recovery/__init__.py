"""Recovery: verified backups of Relève's own state, restores, restore drills, and chaos drills (game days).

Backups are consistent online snapshots (SQLite's backup API, `pg_dump`), compressed, optionally encrypted,
checksummed and described by a manifest written last; a restore verifies everything before it replaces
anything; a restore drill measures the RTO and RPO achieved against each process's targets.

Other packages import from here only.
"""

from ._backup import (
    DEFAULT_PART_SIZE,
    AuditSink,
    BackupCheck,
    Progress,
    check_backups,
    create_backup,
    list_backups,
    store_location,
)
from ._backup_format import (
    BACKUP_KEY_ENV,
    BACKUP_PASSPHRASE_ENV,
    BackupError,
    BackupKey,
    Manifest,
    PartInfo,
    RestoreError,
)
from ._backup_prune import PruneResult, prune_backups, retained_backups
from ._chaos import DrillAborted, DrillRunner, DrillSample, check_phase, new_drill_id
from ._chaos_demo import DEMO_ROUTE, drill_demo_config, print_drill_outcome, run_drill_demo
from ._chaos_report import render_drill_report, write_drill
from ._destinations import Destination, DirectoryDestination, S3Destination, open_destination
from ._experiment import (
    BUILTIN_EXPERIMENTS,
    Experiment,
    ExperimentError,
    ExperimentMethod,
    ExperimentProbes,
    SteadyState,
    builtin_experiment,
    load_experiment,
    parse_experiment,
)
from ._restore import RestoreResult, restore_backup
from ._restore_drill import DrillResult, ProcessObjectives, channel_alert, restore_drill
from ._schedule import RecoverySchedule

__all__ = [
    "AuditSink",
    "BACKUP_KEY_ENV",
    "BACKUP_PASSPHRASE_ENV",
    "BUILTIN_EXPERIMENTS",
    "BackupCheck",
    "BackupError",
    "BackupKey",
    "DEFAULT_PART_SIZE",
    "DEMO_ROUTE",
    "Destination",
    "DirectoryDestination",
    "DrillAborted",
    "DrillResult",
    "DrillRunner",
    "DrillSample",
    "Experiment",
    "ExperimentError",
    "ExperimentMethod",
    "ExperimentProbes",
    "Manifest",
    "PartInfo",
    "ProcessObjectives",
    "Progress",
    "PruneResult",
    "RecoverySchedule",
    "RestoreError",
    "RestoreResult",
    "S3Destination",
    "SteadyState",
    "builtin_experiment",
    "channel_alert",
    "check_backups",
    "check_phase",
    "create_backup",
    "drill_demo_config",
    "list_backups",
    "load_experiment",
    "new_drill_id",
    "open_destination",
    "parse_experiment",
    "print_drill_outcome",
    "prune_backups",
    "render_drill_report",
    "restore_backup",
    "restore_drill",
    "retained_backups",
    "run_drill_demo",
    "store_location",
    "write_drill",
]
