"""``kb_eval``'s question sets: the spent ``sealed`` and ``sealed2`` sets are development data, ``sealed3`` is
held out."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from devtools.kb_eval import evaluation as ev


def test_sealed_and_sealed2_are_development_data_and_sealed3_is_held_out():
    assert ev.DEVELOPMENT == ("dev", "test", "first", "sealed", "sealed2")
    assert "sealed3" not in ev.DEVELOPMENT
    assert ev.HELD_OUT_SETS == ("sealed3",)
    assert ev.CALIBRATION == ("dev", "test", "sealed", "sealed2")
    assert len(ev.cases("sealed")) == 262
    assert len(ev.cases("sealed2")) == 300


def test_sealed3_runs_only_once_its_file_exists(tmp_path, monkeypatch):
    monkeypatch.setattr(ev, "SEALED3", tmp_path / "questions.json")
    assert "sealed3" not in ev.available_sets()
    (tmp_path / "questions.json").write_text("[]", encoding="utf-8")
    assert ev.available_sets() == ev.SETS


def test_fit_refuses_the_held_out_set():
    case = ev.Case("Combien coûte Business ?", ["single"], [("89 EUR",)])
    with pytest.raises(ValueError, match="held-out"):
        ev.fit(None, [("dev", case), ("sealed3", case)])
    with pytest.raises(CommandError, match="sealed3"):
        call_command("kb_eval", "--fit", "--set", "dev", "--set", "sealed3")
    with pytest.raises(CommandError, match="sealed3"):
        call_command("kb_eval", "--fit", "--held-out")
