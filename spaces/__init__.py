"""The search spaces shipped with the package: one YAML file per family, installed as
``search.space_files`` (see ``pyproject.toml``), so that a non-editable install finds them too."""
