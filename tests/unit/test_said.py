"""The sentences workers write in a job's log (and refusals give as reasons), declared once."""

from __future__ import annotations

from string import Formatter

import pytest

from shared.errors import TransitionRefused
from shared.said import ENGLISH, Said, said


def test_a_sentence_reads_as_its_english_text_with_its_params():
    assert str(said("part_of", n=2, total=5)) == "part 2 of 5"
    assert said("part_of", n=2, total=5) == Said("part_of", {"n": 2, "total": 5})


def test_an_unknown_code_or_a_missing_param_fails_where_it_is_written():
    with pytest.raises(KeyError, match="no sentence 'nope'"):
        said("nope")
    with pytest.raises(KeyError, match="total"):
        said("part_of", n=2)


@pytest.mark.parametrize("code", sorted(ENGLISH))
def test_every_sentence_fills_with_its_params(code: str):
    names = {name for _, name, _, _ in Formatter().parse(ENGLISH[code]) if name}
    assert "{" not in str(said(code, **dict.fromkeys(names, 7)))


def test_a_refusal_keeps_its_english_message_and_its_code():
    refused = TransitionRefused("DONE", "move to ROTEIRO", said("refused_only_forward", column="CONCLUIDO"))
    assert (
        str(refused)
        == "cannot move to ROTEIRO a job in state DONE: jobs only move forward, and this one is in CONCLUIDO"
    )
    assert refused.said is not None and refused.said.code == "refused_only_forward"
    assert TransitionRefused("DONE", "edit", "plain words").said is None
