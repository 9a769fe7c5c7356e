"""The losses and accuracy that read integer labels, soft targets (label smoothing, mixup) and a teacher's.

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


@keras.saving.register_keras_serializable(package="ferlib")
class DistillationLoss(keras.losses.Loss):
    """Knowledge distillation (Hinton et al. 2015): (1 - distill) x cross-entropy of the labels +
    distill x T^2 x KL(teacher at T || student at T).

    Training batches carry 14 columns per image: the label's 7 class weights (one-hot, or mixup's blend),
    then the teacher's probabilities already softened at the temperature T. The student's softened
    probabilities are softmax(log p / T), which equals softmax(logits / T); T^2 keeps the soft term's
    gradients at the labels' scale whatever T. Validation batches carry labels only: plain cross-entropy,
    the same number any other run logs.
    """

    def __init__(self, temperature=4.0, distill=0.9, label_smoothing=0.0, name="distillation", **kwargs):
        super().__init__(name=name, **kwargs)
        self.temperature, self.distill, self.label_smoothing = temperature, distill, label_smoothing

    def call(self, y_true, y_pred):
        ops, classes = keras.ops, y_pred.shape[-1]
        hard = keras.losses.categorical_crossentropy(targets(y_true, y_pred), y_pred,
                                                     label_smoothing=self.label_smoothing)
        if not (len(y_true.shape) == 2 and y_true.shape[-1] == 2 * classes):
            return hard
        teacher = ops.cast(y_true[:, classes:], y_pred.dtype)
        student = ops.log_softmax(ops.log(ops.clip(y_pred, 1e-7, 1.0)) / self.temperature, axis=-1)
        kl = ops.sum(teacher * (ops.log(ops.clip(teacher, 1e-7, 1.0)) - student), axis=-1)
        return (1 - self.distill) * hard + self.distill * self.temperature ** 2 * kl

    def get_config(self):
        return {**super().get_config(), "temperature": self.temperature, "distill": self.distill,
                "label_smoothing": self.label_smoothing}


def targets(y_true, y_pred):
    """Class weights per image: soft targets as given (a teacher's columns after them left out), integer
    labels one-hot."""
    classes = y_pred.shape[-1]
    if len(y_true.shape) == 2 and y_true.shape[-1] in (classes, 2 * classes):
        return keras.ops.cast(y_true[:, :classes], y_pred.dtype)
    return keras.ops.one_hot(keras.ops.cast(keras.ops.reshape(y_true, (-1,)), "int32"), classes, dtype=y_pred.dtype)


@keras.saving.register_keras_serializable(package="ferlib")
def label_accuracy(y_true, y_pred):
    """Accuracy against integer labels or soft targets (their largest class), for mixup's batches."""
    return keras.ops.cast(keras.ops.argmax(targets(y_true, y_pred), -1) == keras.ops.argmax(y_pred, -1), "float32")
