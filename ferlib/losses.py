"""The loss and accuracy that read both integer labels and soft targets (label smoothing, mixup).

Registered with Keras, so a model saved compiled with them loads back.
"""

from ferlib import tf_setup  # noqa: F401  (before keras: keras imports tensorflow)

import keras  # noqa: E402


@keras.saving.register_keras_serializable(package="ferlib")
class SparseSmoothedCrossentropy(keras.losses.Loss):
    """Cross-entropy of integer labels against smoothed one-hot targets; soft targets (mixup's) pass as they are.

    Keras 3's SparseCategoricalCrossentropy has no label_smoothing (only the
    one-hot CategoricalCrossentropy does), and the kit's batches carry labels;
    with --mixup the training batches carry 7 class weights per image instead,
    while validation still carries labels.
    """

    def __init__(self, label_smoothing=0.0, name="sparse_smoothed_crossentropy", **kwargs):
        super().__init__(name=name, **kwargs)
        self.label_smoothing = label_smoothing

    def call(self, y_true, y_pred):
        return keras.losses.categorical_crossentropy(targets(y_true, y_pred), y_pred,
                                                     label_smoothing=self.label_smoothing)

    def get_config(self):
        return {**super().get_config(), "label_smoothing": self.label_smoothing}


def targets(y_true, y_pred):
    """Class weights per image: soft targets as given, integer labels one-hot."""
    classes = y_pred.shape[-1]
    if len(y_true.shape) == 2 and y_true.shape[-1] == classes:
        return keras.ops.cast(y_true, y_pred.dtype)
    return keras.ops.one_hot(keras.ops.cast(keras.ops.reshape(y_true, (-1,)), "int32"), classes, dtype=y_pred.dtype)


@keras.saving.register_keras_serializable(package="ferlib")
def label_accuracy(y_true, y_pred):
    """Accuracy against integer labels or soft targets (their largest class), for mixup's batches."""
    return keras.ops.cast(keras.ops.argmax(targets(y_true, y_pred), -1) == keras.ops.argmax(y_pred, -1), "float32")
