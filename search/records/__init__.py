"""What a run keeps: where Ray Tune stores trials, the Optuna study, the run folder's lock."""
