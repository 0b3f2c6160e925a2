"""Keras callbacks for variational training: KL warm-up, atomic backups, resumable schedules, divergence."""

from tfvb.callbacks.backup_and_restore import BackupAndRestore
from tfvb.callbacks.early_stopping import EarlyStopping
from tfvb.callbacks.kl_warmup import KLWarmup
from tfvb.callbacks.reduce_lr_on_plateau import ReduceLROnPlateau
from tfvb.callbacks.wall_clock import WallClock
from tfvb.models._divergence import TerminateOnNonFinite, TrainingDivergedError

__all__ = ["BackupAndRestore", "EarlyStopping", "KLWarmup", "ReduceLROnPlateau", "TerminateOnNonFinite",
           "TrainingDivergedError", "WallClock"]
