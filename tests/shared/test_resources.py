"""Memory estimates and refusals before allocating, and the thread count a command chose."""

import pytest

from shared.errors import DataError, SpecError
from shared.resources import (
    THREADS_VARIABLE,
    array_bytes,
    requested_threads,
    require,
    require_dataset,
    size,
    training_bytes,
)


def test_sizes_read_in_binary_units():
    assert size(512) == "512 bytes"
    assert size(1536) == "1.5 KiB"
    assert size(3 * 2**30) == "3.0 GiB"
    assert size(5 * 2**50) == "5120.0 TiB"


def test_array_bytes_is_the_product_of_the_shape_times_the_item_size():
    assert array_bytes((3, 4)) == 96
    assert array_bytes((3, 4), itemsize=4) == 48
    assert array_bytes((10**200, 10**200)) > 1e300  # astronomical counts stay floats


def test_training_bytes_counts_weights_with_their_slots_data_and_activations():
    # 2-3 model, 10 samples, batch 4, float32, Adam's two slots: weights (2+1)*3 = 9 values,
    # times 5 (weights, gradients, best copy, 2 slots); data 10 * (2 + 3); activations
    # (4 + 8192) rows * 3 * (2 + 3)
    expected = 4 * (9 * 5 + 10 * 5 + (4 + 8192) * 15)
    assert training_bytes((2, 3), 10, 4, 4) == expected


def test_more_than_is_free_is_refused_in_one_sentence(monkeypatch):
    monkeypatch.setattr("shared.resources.available_memory", lambda: 2**30)
    require(2**29, "a small thing")  # fits: nothing happens
    with pytest.raises(SpecError, match=r"^the model needs about 2\.0 GiB of memory, and this "
                       r"machine has 1\.0 GiB free; use a smaller size$"):  # fmt: skip
        require(2**31, "the model")
    with pytest.raises(DataError, match="needs about 1.5 GiB"):
        require_dataset((2**26, 1.5), "the data")  # 8-byte values, counted twice


@pytest.mark.parametrize(("value", "expected"), [("3", 3), ("1", 1), ("0", None), ("", None),
                                                 ("two", None), ("-2", None)])  # fmt: skip
def test_the_requested_thread_count_is_a_whole_number_from_one(monkeypatch, value, expected):
    monkeypatch.setenv(THREADS_VARIABLE, value)
    assert requested_threads() == expected


def test_no_requested_thread_count_without_the_variable(monkeypatch):
    monkeypatch.delenv(THREADS_VARIABLE, raising=False)
    assert requested_threads() is None
