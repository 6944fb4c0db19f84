"""A family's run top to bottom (``family_run``): search, retrain and test once (``retrain``), write the
run folder (``summary``)."""
