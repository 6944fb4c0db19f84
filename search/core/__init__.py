"""The core: settings, spaces, data, trial reports, the rules of a search. Nothing here imports Ray or a family."""
