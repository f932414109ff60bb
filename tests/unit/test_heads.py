"""HeadSpec: `LAYER.HEAD` lists with `*` wildcards, validated against a model's shape."""

from __future__ import annotations

import pytest

from interp.errors import UserError
from interp.heads import HeadSpec, format_heads


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0.1,1.3", ((0, 1), (1, 3))),
        (" 3.3 , 0.0 ", ((3, 3), (0, 0))),  # order kept, whitespace ignored
        ("1.*", ((1, 0), (1, 1), (1, 2), (1, 3))),
        ("*.0", ((0, 0), (1, 0), (2, 0), (3, 0))),
        ("*.*", tuple((layer, h) for layer in range(4) for h in range(4))),
        ("2.*,0.3", ((2, 0), (2, 1), (2, 2), (2, 3), (0, 3))),
    ],
)
def test_parse_and_resolve(text, expected):
    assert HeadSpec.parse(text).resolve(n_layers=4, n_heads=4) == expected


def test_roundtrip_and_all():
    spec = HeadSpec.parse("1.*, *.2,0.0")
    assert str(spec) == "1.*,*.2,0.0"
    assert HeadSpec.parse(str(spec)) == spec
    heads = HeadSpec.parse("0.1,1.3").resolve(2, 4)
    assert HeadSpec.parse(format_heads(heads)).resolve(2, 4) == heads
    assert len(HeadSpec.all().resolve(3, 5)) == 15


@pytest.mark.parametrize("text", ["", " , ", "a.b", "1", "1.2.3", "-1.0", "1.x", "1,2", "*", "1.*.*"])
def test_bad_syntax_is_one_line_user_error(text):
    with pytest.raises(UserError) as e:
        HeadSpec.parse(text)
    msg = str(e.value)
    assert "\n" not in msg and "LAYER.HEAD" in msg


@pytest.mark.parametrize(
    ("text", "what"),
    [("9.0", "9.0 does not exist"), ("0.4", "0.4 does not exist"), ("9.*", "9.* does not exist"),
     ("*.7", "*.7 does not exist"), ("0.1,0.1", "0.1 is listed twice"), ("1.*,1.2", "1.2 is listed twice")],
)
def test_out_of_range_and_duplicates_name_the_valid_range(text, what):
    with pytest.raises(UserError) as e:
        HeadSpec.parse(text).resolve(n_layers=4, n_heads=4)
    msg = str(e.value)
    assert what in msg
    assert "valid heads are 0.0–3.3 (layers 0–3, heads 0–3)" in msg
    assert "\n" not in msg


def test_resolve_for_bridge_gqa(tiny_gemma_bridge):
    # GQA (1 kv head): heads are the query heads of hook_z
    assert HeadSpec.parse("1.*").resolve_for(tiny_gemma_bridge) == ((1, 0), (1, 1), (1, 2), (1, 3))
