"""``kb_eval``'s question sets: the spent ``sealed`` set is development data, ``sealed2`` is held out."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from devtools.kb_eval import evaluation as ev


def test_sealed_is_development_data_and_sealed2_is_held_out():
    assert "sealed" in ev.DEVELOPMENT
    assert "sealed2" not in ev.DEVELOPMENT
    assert ev.HELD_OUT_SETS == ("sealed2",)
    assert "sealed" in ev.CALIBRATION
    assert len(ev.cases("sealed")) == 262


def test_sealed2_runs_only_once_its_file_exists(tmp_path, monkeypatch):
    monkeypatch.setattr(ev, "SEALED2", tmp_path / "questions.json")
    assert "sealed2" not in ev.available_sets()
    (tmp_path / "questions.json").write_text("[]", encoding="utf-8")
    assert ev.available_sets() == ev.SETS


def test_fit_refuses_the_held_out_set():
    case = ev.Case("Combien coûte Business ?", ["single"], [("89 EUR",)])
    with pytest.raises(ValueError, match="held-out"):
        ev.fit(None, [("dev", case), ("sealed2", case)])
    with pytest.raises(CommandError, match="sealed2"):
        call_command("kb_eval", "--fit", "--set", "dev", "--set", "sealed2")
