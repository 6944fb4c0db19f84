"""The thin Ray Tune adapter: the only code that imports ``ray.tune``.

``runner`` builds and runs the Tuner and turns its results into plain ``TrialOutcome`` values;
``trial`` is what runs inside each trial's worker; ``searcher`` is Optuna told how far each trial
got; ``progress`` prints the lines a user watches; ``interrupt`` makes Ctrl-C a resumable stop.
"""
