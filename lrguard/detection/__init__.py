"""Detection, the pure layer: a ``TrainingRun`` per optimizer takes plain observations (steps, lrs, losses,
gradient statistics, schedules) and its detectors turn them into findings. Nothing here imports a framework."""
