"""Shared fixtures. The tests mirror the package (tests/<subpackage>/test_*.py); the helper
modules beside this file (``exact_oracles``, ``onnx_builders``) are importable from every test,
since pytest puts this directory on ``sys.path``."""

from __future__ import annotations

from pathlib import Path

import pytest

from milpregions.cli.main import main

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def models_dir() -> Path:
    """The committed models (``models/``)."""
    return ROOT / "models"


@pytest.fixture
def cli(capsys):
    """``cli(*argv)`` runs ``milpregions argv`` in-process: (exit status, stdout, stderr)."""
    def run(*argv):
        code = main([str(a) for a in argv])
        out, err = capsys.readouterr()
        return code, out, err
    return run
