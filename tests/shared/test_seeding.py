"""Random streams keyed by seed, purpose and counters: reproducible, and independent."""

import numpy as np
import pytest

from shared.seeding import stream


def test_a_stream_is_a_function_of_its_keys():
    first = stream(7, "dropout", 3).random(5)
    np.testing.assert_array_equal(stream(7, "dropout", 3).random(5), first)
    # a resumed run asks for step 3's stream without having drawn steps 0 to 2
    for step in range(3):
        stream(7, "dropout", step).random(5)
    np.testing.assert_array_equal(stream(7, "dropout", 3).random(5), first)


@pytest.mark.parametrize(
    "other", [(8, "dropout", 3), (7, "batches", 3), (7, "dropout", 4), (7, "dropout", 3, 1)]
)
def test_another_seed_purpose_or_counter_draws_other_numbers(other):
    assert not np.array_equal(stream(*other).random(5), stream(7, "dropout", 3).random(5))


def test_an_unknown_purpose_is_refused_naming_the_known_ones():
    with pytest.raises(ValueError, match="unknown random stream purpose 'noise'; known: "):
        stream(0, "noise")


def test_trailing_zero_counters_name_the_same_stream():
    # NumPy's SeedSequence pads its entropy with zeros, so (3,) and (3, 0) are one stream: each
    # purpose keeps one number of counters (stream's docstring says so).
    np.testing.assert_array_equal(
        stream(7, "dropout", 3, 0).random(5), stream(7, "dropout", 3).random(5)
    )
