"""Batches as quiet tf.data pipelines: training batches that are a pure function of (seed, epoch).

A resumed run must see exactly the batches an uninterrupted one would, so
each epoch's order (and mixup's blends) is drawn from (seed, epoch) alone,
not from a generator whose position a restart would lose.

On Keras' other backends (KERAS_BACKEND=jax) the same batches come from a
keras.utils.PyDataset, since tf.data needs TensorFlow.
"""

import math

import numpy as np

from ferlib import CLASS_NAMES
from ferlib.tf_setup import import_tensorflow, tensorflow_backend


def quiet_options():
    """tf.data without autotuning and with one private thread.

    On a 2-core CPU tf.data's autotuned prefetch threads compete with TF's two
    compute threads, and whole epochs then run with fewer cores busy and
    slower (bench/README.md). Batches of uint8 cost nothing to make, so there
    is nothing for prefetching to hide.
    """
    tf = import_tensorflow()
    options = tf.data.Options()
    options.autotune.enabled = False
    options.threading.private_threadpool_size = 1
    return options


def array_batches(x, y=None, batch_size=512):
    """Arrays -> a quiet tf.data pipeline for evaluate/predict (Keras' own adapter autotunes)."""
    x = x[..., None] if x.ndim == 3 else x
    if not tensorflow_backend():
        return py_batches(lambda i: x[i * batch_size:(i + 1) * batch_size] if y is None else
                          (x[i * batch_size:(i + 1) * batch_size], y[i * batch_size:(i + 1) * batch_size]),
                          math.ceil(len(x) / batch_size))
    tf = import_tensorflow()
    ds = tf.data.Dataset.from_tensor_slices(x if y is None else (x, y)).batch(batch_size)
    return ds.with_options(quiet_options())


class Batches:
    """uint8 training batches as a tf.data pipeline, reshuffled every epoch from (seed, epoch) alone.

    `set_epoch` picks the order; the generator reads it when an epoch's
    iterator starts, which Keras does after the callbacks' on_epoch_begin.
    """

    def __init__(self, x, y, batch_size, seed, mixup=0.0, teacher=None):
        self.x, self.y, self.batch_size, self.seed, self.mixup = x, y, batch_size, seed, mixup
        self.teacher = teacher   # (N, 7) a teacher's soft targets per image, carried after the label's columns
        self.set_epoch(0)
        if not tensorflow_backend():
            self.dataset = py_batches(self.batch, len(self))
            return
        tf = import_tensorflow()
        columns = len(CLASS_NAMES) * (1 + (teacher is not None))
        labels = (tf.TensorSpec((None, columns), tf.float32) if mixup or teacher is not None
                  else tf.TensorSpec((None,), tf.int64))
        spec = (tf.TensorSpec((None,) + x.shape[1:] + (1,), tf.uint8), labels)
        ds = tf.data.Dataset.from_generator(self._epoch, output_signature=spec)
        self.dataset = ds.apply(tf.data.experimental.assert_cardinality(len(self))).with_options(quiet_options())

    def set_epoch(self, epoch):
        self.epoch = epoch
        self.order = np.random.default_rng([self.seed, epoch]).permutation(len(self.x))

    def __len__(self):
        return math.ceil(len(self.x) / self.batch_size)

    def batch(self, i):
        """Batch i of the current epoch: (uint8 images (n,48,48,1), labels), or with a teacher
        (images, [one-hot label | teacher's targets] (n,14))."""
        idx = np.sort(self.order[i * self.batch_size:(i + 1) * self.batch_size])   # sorted: faster gather
        x, y = self.x[idx, :, :, None], self.y[idx].astype(np.int64)
        if self.teacher is not None:
            y = np.concatenate([np.eye(len(CLASS_NAMES), dtype=np.float32)[y], self.teacher[idx]], axis=1)
        if self.mixup:
            x, y = mixup(x, y, self.mixup, np.random.default_rng([self.seed, self.epoch, i]))
        return x, y

    def _epoch(self):
        for i in range(len(self)):
            yield self.batch(i)


def py_batches(batch, n):
    """A keras.utils.PyDataset of n batches, batch(i) each: the tf.data pipelines' stand-in on other backends."""
    import keras

    class PyBatches(keras.utils.PyDataset):
        def __len__(self):
            return n

        def __getitem__(self, i):
            return batch(i)

    return PyBatches()


def mixup(x, y, alpha, rng):
    """Each image blended with another of its batch, lam ~ Beta(alpha, alpha); labels -> class weights alike.

    In numpy from (seed, epoch, batch), not Keras' MixUp layer: that one draws
    from a seed generator of its own in the tf.data pipeline, which a resumed
    run would restart. Blends are rounded back to uint8: half a gray level at most. y: labels, or
    class weights per image (and a teacher's after them), blended alike.
    """
    lam = rng.beta(alpha, alpha, size=len(x)).astype(np.float32)
    other = rng.permutation(len(x))
    weights = np.eye(len(CLASS_NAMES), dtype=np.float32)[y] if y.ndim == 1 else y
    blend = lam[:, None, None, None] * x + (1 - lam[:, None, None, None]) * x[other]
    return np.rint(blend).astype(np.uint8), lam[:, None] * weights + (1 - lam[:, None]) * weights[other]
