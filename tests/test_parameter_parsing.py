"""Parsing ``--set key=value`` text: every number Python writes, finite values only, seeds.

Regression cases for numbers in scientific notation with an unsigned exponent (``1e0``, which was
read as ``1*e0``), for ``nan``/``inf`` and words where a number goes, and for seeds outside
numpy's range; then property tests (Hypothesis): any text either parses to a value of the
default's kind or raises :class:`InputError`, and numbers formatted the ways Python formats them
parse back to the same value, bare and with a unit.
"""

import math

import numpy as np
import pytest
from brian2 import Hz, mV, ms, nA, second
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from neuromod.device import use_device
from neuromod.errors import InputError
from neuromod.parameters import check_seed, parse_value, resolve_parameters

# ---------------------------------------------------------------- numbers in every notation


@pytest.mark.parametrize(
    ("text", "default", "expected"),
    [
        # an unsigned exponent: these were read as number * unit "e0", "E0", "e1", "e9"
        ("1e0", 0.5, 1.0),
        ("2E0", 0.5, 2.0),
        ("1E5", 0.5, 1e5),
        ("6e1", 3, 60),
        ("1e9*Hz", 5 * Hz, 1e9 * Hz),
        ("1e0*ms", 10 * ms, 1 * ms),
        ("1e0", 10 * ms / ms, 1.0),
        ("2.5e2", 3, 250),
        ("1e0, 2E1", [1.0], [1.0, 20.0]),
        ("1e0*ms, 2e1*ms", (5 * ms,), (1 * ms, 20 * ms)),
        # digit groups followed by a unit were not split into number and unit
        ("1_000 ms", 10 * ms, 1 * second),
        ("1_000ms", 10 * ms, 1 * second),
        # integer literals of other bases are numbers too
        ("0x10", 3, 16),
        ("0b101", 3, 5),
        # notations that worked already and keep working
        ("1e9 Hz", 5 * Hz, 1e9 * Hz),
        ("1e9Hz", 5 * Hz, 1e9 * Hz),
        ("1e+0", 0.5, 1.0),
        ("1e-3", 0.5, 1e-3),
        (".5", 0.5, 0.5),
        ("5.", 0.5, 5.0),
        ("5.ms", 10 * ms, 5 * ms),
        ("1_000", 3, 1000),
        ("+3", 3, 3),
        ("-2.5e-3", 0.5, -2.5e-3),
        ("20ms", 10 * ms, 20 * ms),
        ("20 ms", 10 * ms, 20 * ms),
        ("-65 mV", -70 * mV, -65 * mV),
        ("0.5*nA", 1 * nA, 0.5 * nA),
        ("2 mV/ms", 1 * mV / ms, 2 * mV / ms),
    ],
)
def test_every_number_notation_parses(text, default, expected):
    value = parse_value("x", text, default)
    if isinstance(expected, (list, tuple)):
        assert type(value) is type(expected) and list(value) == list(expected)
    else:
        assert value == expected
        assert type(value) is type(expected) or hasattr(value, "dim")


def test_whole_numbers_stay_exact():
    assert parse_value("n", "12345678901234567891", 3) == 12345678901234567891
    assert parse_value("n", "10**30", 3) == 10**30


# ---------------------------------------------------------------- finite numbers only


@pytest.mark.parametrize(
    ("text", "default"),
    [
        ("nan", 0.5),
        ("inf", 0.5),
        ("-inf", 0.5),
        ("+inf", 3),
        ("NaN", 0.5),
        ("Infinity", 0.5),
        ("abc", 0.5),
        ("abc", 3),
        ("True", 3),
        ("None", 0.5),
        ("'1'", 0.5),
        ("1j", 0.5),
        ("1e999", 0.5),
        ("-1e999", 3),
        ("10**400", 0.5),
        ("10**400", 3),
        ("-(2**1100)", 3),
        ("(-8)**(1/3)", 0.5),
    ],
)
def test_non_finite_values_and_words_are_refused(text, default):
    with pytest.raises(InputError, match=r"parameter 'x' must be a finite number, got ") as info:
        parse_value("x", text, default)
    assert repr(text) in str(info.value)


@pytest.mark.parametrize("text", ["nan", "-inf", "abc", "nan*ms", "inf ms", "1e999*ms", "0*ms/0", "-ms/0*0"])
def test_non_finite_values_with_units_are_refused(text):
    expected = r"parameter 'tau' must be a finite number in ms \(e\.g\. 20\*ms\), got "
    with pytest.raises(InputError, match=expected) as info:
        parse_value("tau", text, 20 * ms)
    assert repr(text) in str(info.value) and "\n" not in str(info.value)


def test_a_list_refuses_a_non_finite_entry():
    with pytest.raises(InputError, match="must be a finite number in Hz"):
        parse_value("frequencies", "1*Hz, nan*Hz", (0.1 * Hz, 50 * Hz))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1/0", "division by zero"),
        ("ms + mV", "units do not match"),
        ("2**ms", "exponent must be a plain number"),
        ("2**10**10", "must be a finite number"),  # refused at once, not computed for hours
        ("9**9**9", "must be a finite number"),
        ("-" * 5000 + "1", "cannot parse"),
        ("(" * 300 + "1" + ")" * 300, "cannot parse"),
        ("1\x00", "cannot parse"),
        ("20*parsec", "unknown unit 'parsec'"),
        ("__import__('os')", "only numbers"),
        ("ms.__class__", "only numbers"),
    ],
)
def test_arithmetic_errors_are_input_errors(text, message):
    with pytest.raises(InputError, match=message) as info:
        parse_value("x", text, 20 * ms)
    assert "\n" not in str(info.value)


# ---------------------------------------------------------------- seeds


@pytest.mark.parametrize("seed", [0, 1, 2**32 - 1, np.int64(7), np.uint32(2**32 - 1)])
def test_check_seed_accepts_numpy_range(seed):
    assert check_seed(seed) == int(seed)
    assert type(check_seed(seed)) is int


@pytest.mark.parametrize("seed", [-1, 2**32, 2**64, True, False, np.bool_(True), 1.0, "3", None, np.int64(-1)])
def test_check_seed_refuses_the_rest(seed):
    with pytest.raises(InputError, match=r"seed must be an integer in \[0, 2\*\*32 - 1\], got "):
        check_seed(seed)


@pytest.mark.parametrize("seed", [-1, 4294967296])
def test_use_device_refuses_a_bad_seed_before_creating_anything(tmp_path, seed):
    build = tmp_path / "build"
    with pytest.raises(InputError, match="seed must be an integer"):
        with use_device("cpp_standalone", build_dir=build, seed=seed):
            pass
    assert not build.exists()
    with pytest.raises(InputError, match="seed must be an integer"):
        with use_device("runtime", seed=seed):
            pass


def test_use_device_accepts_the_largest_seed():
    with use_device("runtime", seed=2**32 - 1) as sim:
        assert sim.seed == 2**32 - 1


# ---------------------------------------------------------------- properties

#: Defaults of every kind the protocols and tasks use.
DEFAULTS = {
    "n": 3,
    "rate": 0.5,
    "tau": 20 * ms,
    "delays": [0 * second, 10 * second],
    "freqs": (0.1 * Hz, 50 * Hz),
    "acts": (0.95, 0.0),
    "adapt": False,
    "variant": "event",
    "rules": ["pair", "triplet"],
}

#: Pieces of what people (and typos) write, so that generated text often looks like a value.
_PIECES = ["0", "1", "2", "9", "10", ".", "_", "e", "E", "+", "-", "*", "/", "**", "(", ")", " ", ",",
           "ms", "mV", "Hz", "second", "s", "nan", "inf", "x", "j", "abc", "True", "'", "[", "]", "0x", "1e"]
#: Small expressions over numbers, words and units: 1/0, ms + mV, nan*ms, (1e0 - 2) ** ms, 20 ms.
_ATOMS = ["0", "1", "2", "2.5", ".5", "1e0", "1E2", "1e999", "1_0", "nan", "inf", "abc", "True", "1j", "'a'",
          "ms", "mV", "Hz", "second", "parsec"]
_expressions = st.recursive(
    st.sampled_from(_ATOMS),
    lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from(["+", "-", "*", "/", "**", " ", ""]), inner).map("".join),
        inner.map(lambda s: f"({s})"),
        inner.map(lambda s: f"-{s}"),
    ),
    max_leaves=4,  # 2**2**2**2 at most: the unpatched parser computed powers in full
)
value_texts = st.one_of(
    st.text(max_size=30),
    st.lists(st.sampled_from(_PIECES), max_size=12).map("".join),
    _expressions,
    st.lists(_expressions, min_size=1, max_size=3).map(", ".join),
)


def _assert_kind(value, default):
    if isinstance(default, bool):
        assert type(value) is bool
    elif isinstance(default, str):
        assert type(value) is str
    elif isinstance(default, (list, tuple)):
        assert type(value) is type(default) and len(value) >= 1
        for item in value:
            _assert_kind(item, default[0])
    elif hasattr(default, "dim"):
        assert hasattr(value, "dim") and value.dim == default.dim
        assert np.isfinite(np.asarray(value)).all()
    elif isinstance(default, int):
        assert type(value) is int
    else:
        assert type(value) is float and math.isfinite(value)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=value_texts, key=st.sampled_from(sorted(DEFAULTS)))
def test_any_text_parses_to_the_defaults_kind_or_is_an_input_error(text, key):
    default = DEFAULTS[key]
    try:
        value = parse_value(key, text, default)
    except InputError as exc:
        assert "\n" not in str(exc)
    else:
        _assert_kind(value, default)
    try:
        params = resolve_parameters(DEFAULTS, {key: text})
    except InputError:
        pass
    else:
        _assert_kind(params[key], default)


finite_floats = st.floats(allow_nan=False, allow_infinity=False)
#: How Python writes a float: repr/str (1e+16, 5e-324), f"{x:e}" and f"{x:E}" (1.500000E+00).
_FLOAT_FORMATS = [repr, str, "{:e}".format, "{:E}".format, "{:.17g}".format]
_UNIT_SUFFIXES = ["*ms", " * ms", " ms", "ms"]


@settings(max_examples=200, deadline=None)
@given(x=finite_floats, form=st.sampled_from(_FLOAT_FORMATS), suffix=st.sampled_from(_UNIT_SUFFIXES))
def test_formatted_floats_parse_to_the_same_value(x, form, suffix):
    text = form(x)
    expected = float(text)  # f"{x:e}" keeps 7 digits: the value is what the text says
    assert math.isclose(expected, x, rel_tol=1e-6)
    value = parse_value("rate", text, 0.5)
    assert type(value) is float and value == expected
    assert parse_value("tau", text + suffix, 20 * ms) == expected * ms


@settings(max_examples=200, deadline=None)
@given(
    mantissa=st.one_of(
        st.integers(0, 10**6).map(str),  # 6
        st.tuples(st.integers(0, 999), st.integers(0, 999)).map(lambda t: f"{t[0]}.{t[1]:03d}"),  # 12.050
        st.integers(0, 999).map(lambda n: f".{n}"),  # .5
        st.integers(0, 999).map(lambda n: f"{n}."),  # 5.
    ),
    exponent=st.integers(0, 300),
    letter=st.sampled_from("eE"),
    sign=st.sampled_from(["", "-", "+"]),
    suffix=st.sampled_from(_UNIT_SUFFIXES),
)
def test_unsigned_exponents_parse(mantissa, exponent, letter, sign, suffix):
    text = f"{sign}{mantissa}{letter}{exponent}"
    assert parse_value("rate", text, 0.5) == float(text)
    assert parse_value("tau", text + suffix, 20 * ms) == float(text) * ms


@settings(max_examples=200, deadline=None)
@given(
    n=st.integers(-(10**300), 10**300),
    form=st.sampled_from([str, "{:_}".format, "{:+}".format]),
    suffix=st.sampled_from(_UNIT_SUFFIXES),
)
def test_formatted_integers_parse_exactly(n, form, suffix):
    text = form(n)
    value = parse_value("n", text, 3)
    assert type(value) is int and value == n
    assert parse_value("rate", text, 0.5) == float(n)
    assert parse_value("tau", text + suffix, 20 * ms) == n * ms
