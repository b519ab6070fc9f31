"""explanation: the plain-language account of a quality, on real measured results (tests/codec/conftest.py)."""

from __future__ import annotations

import dataclasses

from lci_studio.codec.explanation import HOW_IT_WORKS, INTRO, explain
from lci_studio.codec.number_format import format_kb, format_ratio
from tests.codec.conftest import silence

# --------------------------------------------------------------------------------------------- words


def test_explain_names_lambda_channels_and_size(results):
    result = silence(results[1], list(range(5, 24)))  # 5 of 24 channels active
    assert result.active_channels == 5
    text = explain(result, results).text()
    assert "Quality 2 of 8" in text
    assert "λ = 0.0035" in text
    assert "5 of its 24 latent channels carry information; the other 19" in text
    assert format_kb(result.file_bytes) in text
    assert format_ratio(result.ratio_to_raw) in text
    assert "N = 16" in text and "M = 24" in text
    assert "8 × 6 squares" in text  # 128 × 96 pixels
    assert "smaller than the file you opened" in text or "larger than the file you opened" in text
    assert "higher λ" in text  # the why


def test_explain_all_active_and_comparison_with_lower_quality(results):
    explanation = explain(results[2], results)
    assert explanation.channels.startswith("All 32 of its latent channels carry information")
    assert "Compared with quality 2" in explanation.comparison
    assert format_kb(results[1].file_bytes) in explanation.comparison
    assert "wider network (N = 16, M = 32 where quality 2 has N = 16, M = 24): it has 8 more channels" in (
        explanation.comparison
    )
    assert "network" not in explain(results[1], results).comparison  # same size as quality 1
    assert explain(results[0], results).comparison == ""
    assert explain(results[0]).how_it_works()[0].startswith("Quality 1 was trained with λ = 0.0018")


def test_explain_leads_with_what_a_viewer_sees_and_keeps_the_model_under_how_it_works(results):
    """Issue 22: the explanation opened with λ, "average squared pixel error" and "N = 96 filters"."""
    explanation = explain(results[2], results)
    seen = " ".join(explanation.seen())
    assert explanation.paragraphs()[0].startswith("The file is") and "a ratio of" in seen
    assert "The difference view (D) shows where" in seen or "amplifies them" in seen  # what is lost
    for term in ("λ", "N =", "M =", "channel"):
        assert term not in seen, term
    text = explanation.text()
    assert text.index(HOW_IT_WORKS) < text.index("λ") and text.index(HOW_IT_WORKS) < text.index("N = ")


def test_explain_ms_ssim_and_unknown_lambda(results):
    ms = dataclasses.replace(results[0], info=dataclasses.replace(results[0].info, metric="ms-ssim", lmbda=8.73))
    assert "MS-SSIM" in explain(ms).training and "0.0873 bits per pixel" in explain(ms).training
    unknown = dataclasses.replace(results[0], info=dataclasses.replace(results[0].info, lmbda=None))
    assert "not recorded" in explain(unknown).training
    assert INTRO and all(isinstance(p, str) for p in INTRO)
