"""`lci train` in a build without torch's compiler stack: one line saying so, before any work starts."""

from __future__ import annotations

import importlib.util

from lci_studio.cli import main, train


def test_a_full_install_can_train():
    assert train.training_missing() is None


def test_train_says_in_one_line_that_the_standalone_build_leaves_it_out(monkeypatch, tmp_path, capsys):
    real = importlib.util.find_spec

    def without_dynamo(name, *rest):
        return None if name == "torch._dynamo" else real(name, *rest)

    monkeypatch.setattr(importlib.util, "find_spec", without_dynamo)
    (tmp_path / "data").mkdir()
    status = main(["train", str(tmp_path / "data"), "--out", str(tmp_path / "out"), "--steps", "1"])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 1
    assert len(err) == 1 and err[0].startswith("lci: error: lci train is not part of the standalone build")
    assert not (tmp_path / "out").exists()
