"""one_hot_shape: the sparse loss as the literal one-hot product of an old backend.

The numpy backend up to Keras 3.3 and the torch backend up to 3.13 compute the sparse
loss as ``-sum(one_hot(labels) * log_prob, axis)``. Where their ``one_hot`` builds a
tensor of another shape than the labels' with a class axis at ``axis``, array
broadcasting gives a result of another shape:

* ``drops_unit_last_axis`` (numpy): ``one_hot`` drops a size-1 last axis of its input,
  so labels (N, 1) against y_pred (N, 1, K) give an (N, K) one-hot and an (N, N) result
  whose entry [i, j] is row i's loss for label j;
* ``permutes_negative_axis`` (torch): ``one_hot`` moves the class axis with a
  permutation written for a non-negative axis; a negative axis other than -1 permutes
  the one-hot otherwise (axis -2 of rank 3 reverses the axes).

:func:`literal_product` evaluates that product exactly, one element per position of
the broadcast result: each holds a 0/1 class vector and a row of predictions.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any, Callable

import numpy as np

__all__ = ["one_hot_differs", "literal_product"]


def one_hot_differs(choice: str, label_shape: tuple[int, ...], axis: int) -> bool:
    """Whether the backend's one-hot tensor differs in shape from the exact one."""
    if choice == "drops_unit_last_axis":
        return len(label_shape) > 1 and label_shape[-1] == 1 and label_shape[:-1] != (1,) * (len(label_shape) - 1)
    if choice == "permutes_negative_axis":
        return axis < -1
    return False


def _permutation(dims: int, axis: int) -> list[int]:
    # The torch backend's order: the class axis (last) to `axis`, the others shifted by one
    # for the axes after `axis` (range(axis + 1, dims) is meant for a non-negative axis).
    order = list(range(dims))
    order[axis] = -1
    for ax in range(axis + 1, dims):
        order[ax] -= 1
    return [o % dims for o in order]


def literal_product(labels: np.ndarray, y_pred: np.ndarray, axis: int, K: int, choice: str,
                    index: Callable[[Any, int], int | None], element: Callable[[np.ndarray, list[Fraction]], Any],
                    error: Callable[[str, str], Exception]) -> np.ndarray:
    """The exact elements of ``-sum(one_hot(labels) * log_prob(y_pred), axis)``, broadcast as the backend does.

    ``index(label, K)`` maps a label to its class (None: an all-zero row; it raises for a
    label the backend refuses); ``element(row, t)`` is one row's loss for a 0/1 vector t.
    """
    flat = labels.reshape(-1)
    hot = np.zeros((flat.size, K), dtype=np.int64)
    for i, lab in enumerate(flat.tolist()):
        c = index(lab, K)
        if c is not None:
            hot[i, c] = 1
    shape = tuple(labels.shape)
    if choice == "drops_unit_last_axis":
        if len(shape) > 1 and shape[-1] == 1:
            shape = shape[:-1]
        hot = hot.reshape(shape + (K,))
        if axis != -1:
            hot = np.moveaxis(hot, -1, axis)
    else:
        hot = hot.reshape(shape + (K,))
        dims = hot.ndim
        if axis != -1 and axis != dims:
            order = _permutation(dims, axis)
            if sorted(order) != list(range(dims)):
                raise error("invalid_argument", f"one_hot's permutation {order} repeats an axis")
            hot = hot.transpose(order)
    try:
        t_b, p_b = np.broadcast_arrays(hot, y_pred)
    except ValueError:
        raise error("invalid_shape", f"one-hot {list(hot.shape)} times predictions {list(y_pred.shape)} "
                                     "does not broadcast") from None
    ax = axis % t_b.ndim
    t_m, p_m = np.moveaxis(t_b, ax, -1), np.moveaxis(p_b, ax, -1)
    out_shape = t_m.shape[:-1]
    t_rows, p_rows = t_m.reshape(-1, t_m.shape[-1]), p_m.reshape(-1, p_m.shape[-1])
    out = np.empty(len(t_rows), dtype=object)
    for i in range(len(t_rows)):
        out[i] = element(p_rows[i], [Fraction(int(v)) for v in t_rows[i]])
    return out.reshape(out_shape)
