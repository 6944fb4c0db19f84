"""``python -m search``: the same command line as ``python -m search.run`` and ``mnist-search``."""

from search.run import cli

if __name__ == "__main__":
    cli("python -m search")
