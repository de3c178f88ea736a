"""The fast MinHash equals its definition byte for byte, so stored signatures stay comparable."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from router.similarity import MAX_CHARS, norm_text, reference_signature, signature, signatures, similarity
from tests.factories import envelope

FLOOD = "Banjir setinggi lutut di Jalan Kemang Raya depan Kem Chicks sejak pagi, motor mogok semua"
FLOOD_2 = "Jalan Kemang Raya banjir setinggi lutut lagi depan Kem Chicks, motor banyak yang mogok"


@settings(max_examples=300)
@given(st.text(max_size=2 * MAX_CHARS))
def test_signature_equals_reference_on_normalised_text(text: str) -> None:
    normalised = norm_text(envelope("s", text=text))
    assert signature(normalised) == reference_signature(normalised)


@settings(max_examples=200)
@given(st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x7F), max_size=600))
def test_signature_equals_reference_on_any_ascii(text: str) -> None:
    assert signature(text) == reference_signature(text)  # characters outside norm_text's alphabet included


@settings(max_examples=100)
@given(st.lists(st.text(max_size=2 * MAX_CHARS), max_size=12),
       st.lists(st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x7F), max_size=60), max_size=4))
def test_batch_signatures_equal_one_by_one(texts: list[str], raw: list[str]) -> None:
    """The router signs a whole batch at once: the same bytes as one by one, whatever the lengths."""
    batch = [norm_text(envelope(f"s{i}", text=t)) for i, t in enumerate(texts)] + raw  # raw: outside the alphabet
    assert signatures(batch) == [signature(t) for t in batch]


def test_similar_complaints_score_higher_than_different_ones() -> None:
    a, b = norm_text(envelope("a", text=FLOOD)), norm_text(envelope("b", text=FLOOD_2))
    lamp = norm_text(envelope("c", text="Lampu penerangan jalan mati di Taman Suropati sudah seminggu"))
    assert signature(a) is not None and len(signature(a) or b"") == 64
    assert similarity(signature(a), signature(b)) > similarity(signature(a), signature(lamp))
    assert signature("ab") is None


def test_shared_plain_text_gives_the_same_fingerprint_text() -> None:
    from router.gazetteer import envelope_text, plain

    cases = [(FLOOD, None), (FLOOD, "Banjir!"), ("lihat https://x.co/a #banjir @DKIJakarta di Kemang", None),
             ("Caf\u00e9 banjir di Kemang", "Re: lapor")]
    for text, subject in cases:
        env = envelope("w", text=text, subject=subject)
        shared = plain(envelope_text(env.subject, env.text))
        assert norm_text(env, shared) == norm_text(env)
    assert "https" not in norm_text(envelope("u", text="lihat https://x.co/a #banjir"))
