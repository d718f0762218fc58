from __future__ import annotations

from seed_questions import BORDER, SVR


def test_verbatim_with_straight_apostrophes_matches_curly_text(seed_engine) -> None:  # type: ignore[no-untyped-def]
    matches = seed_engine.cite("We're not recording any neighboring country's equipment or military movement")
    assert matches and matches[0].verbatim and matches[0].url == BORDER
    art = seed_engine.article(matches[0].article_id)
    assert art.text[matches[0].start:matches[0].end] == matches[0].text
    assert "We’re not recording" in matches[0].text  # the article's own typography


def test_verbatim_with_curly_quotes_and_different_case(seed_engine) -> None:  # type: ignore[no-untyped-def]
    claim = "“any movement of russian troops inside our territory does NOT pose a threat to anyone”"
    matches = seed_engine.cite(claim)
    assert matches[0].verbatim and matches[0].url == SVR


def test_verbatim_across_white_space_and_dashes(seed_engine) -> None:  # type: ignore[no-untyped-def]
    matches = seed_engine.cite("to support the separatists - claims   Moscow denies")
    assert matches[0].verbatim and matches[0].url == SVR
    assert matches[0].text.startswith("Kiev and its Western allies")


def test_paraphrase_finds_the_right_sentence(seed_engine) -> None:  # type: ignore[no-untyped-def]
    matches = seed_engine.cite("Germany asked Russia to show restraint on the border with Ukraine")
    assert matches and not matches[0].verbatim
    assert matches[0].url == BORDER and "restraint" in matches[0].text


def test_paraphrase_from_the_other_seed(seed_engine) -> None:  # type: ignore[no-untyped-def]
    matches = seed_engine.cite("Putin claimed American bombers flew close to Russian borders")
    assert matches and not matches[0].verbatim
    assert matches[0].url == SVR and "bombers" in matches[0].text


def test_unrelated_claim_finds_nothing(seed_engine) -> None:  # type: ignore[no-untyped-def]
    assert seed_engine.cite("The recipe calls for three ripe bananas and a cup of sugar") == ()
    assert seed_engine.cite("Argentina won the football World Cup in Qatar") == ()
