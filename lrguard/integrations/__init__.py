"""Integrations, one adapter per framework: each turns its framework's events into observations of a
``TrainingRun``. ``install`` arms them with post-import hooks; ``failopen`` keeps an lrguard error from ever
reaching the training."""
