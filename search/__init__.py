"""Distributed hyperparameter search for the MNIST article's five model families."""

__version__ = "0.1.0"
