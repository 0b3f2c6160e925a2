"""Keras callbacks for variational training: KL warm-up, atomic backups, resumable schedules."""

from tfvb.callbacks.backup_and_restore import BackupAndRestore
from tfvb.callbacks.early_stopping import EarlyStopping
from tfvb.callbacks.kl_warmup import KLWarmup
from tfvb.callbacks.reduce_lr_on_plateau import ReduceLROnPlateau
from tfvb.callbacks.wall_clock import WallClock

__all__ = ["BackupAndRestore", "EarlyStopping", "KLWarmup", "ReduceLROnPlateau", "WallClock"]
