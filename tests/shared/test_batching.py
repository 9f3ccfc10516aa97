import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.batching import epoch_batches, epoch_permutation, n_batches


@given(
    n=st.integers(1, 500),
    batch_size=st.integers(1, 600),
    seed=st.integers(0, 2**32),
    epoch=st.integers(0, 100),
)
def test_every_sample_once_per_epoch_in_order_of_the_permutation(n, batch_size, seed, epoch):
    batches = epoch_batches(n, batch_size, seed, epoch)
    assert len(batches) == n_batches(n, batch_size)
    assert all(len(b) == batch_size for b in batches[:-1])
    assert len(batches[-1]) == (n % batch_size or min(n, batch_size))
    joined = np.concatenate(batches)
    np.testing.assert_array_equal(joined, epoch_permutation(n, seed, epoch))
    np.testing.assert_array_equal(np.sort(joined), np.arange(n))
    assert joined.dtype == np.int64


def test_order_depends_only_on_seed_and_epoch():
    a = epoch_permutation(100, seed=3, epoch=5)
    np.testing.assert_array_equal(a, epoch_permutation(100, seed=3, epoch=5))
    assert not np.array_equal(a, epoch_permutation(100, seed=3, epoch=6))
    assert not np.array_equal(a, epoch_permutation(100, seed=4, epoch=5))


def test_partial_last_batch_is_kept():
    sizes = [len(b) for b in epoch_batches(10, 4, 0, 0)]
    assert sizes == [4, 4, 2]


def test_bad_arguments():
    with pytest.raises(ValueError, match="training set is empty"):
        epoch_permutation(0, 0, 0)
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        epoch_batches(10, 0, 0, 0)
