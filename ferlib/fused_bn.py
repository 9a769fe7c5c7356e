"""Batch norm trained through TensorFlow's fused kernel, and saved as Keras' own layer.

Keras 3 computes batch norm from separate ops (moments, then a float32
normalise of a bfloat16 tensor); TF's FusedBatchNormV3 does the same
arithmetic in one pass and is ~5x faster forward+backward on the CNN's
48x48x32 maps on a CPU, which makes training 1.7x faster (bench/README.md).
Same variables, same moving-average update; inference, masks and other
backends take the stock path. Saved models hold the stock layer (`portable`),
so any Keras loads them.
"""

from ferlib import tf_setup  # noqa: F401  (before keras: keras imports tensorflow)

import keras  # noqa: E402
from keras import layers  # noqa: E402


@keras.saving.register_keras_serializable(package="ferlib")
class FusedBatchNormalization(layers.BatchNormalization):
    """Keras' BatchNormalization whose training step is one FusedBatchNormV3 op."""

    def call(self, inputs, training=None, mask=None):
        if (not training or mask is not None or keras.backend.backend() != "tensorflow"
                or len(inputs.shape) != 4 or self.axis not in (-1, 3) or not (self.center and self.scale)):
            return super().call(inputs, training=training, mask=mask)
        import tensorflow as tf
        y, mean, var = tf.compat.v1.nn.fused_batch_norm(inputs, self.gamma, self.beta, epsilon=self.epsilon,
                                                         is_training=True)
        n = tf.cast(tf.reduce_prod(tf.shape(inputs)[:-1]), tf.float32)
        var = var * (n - 1) / n   # the op returns the unbiased variance; Keras averages the biased one
        m = self.momentum
        self.moving_mean.assign(self.moving_mean * m + tf.cast(mean, self.moving_mean.dtype) * (1 - m))
        self.moving_variance.assign(self.moving_variance * m + tf.cast(var, self.moving_variance.dtype) * (1 - m))
        return y


def portable(model):
    """The model with stock Keras layers in place of FusedBatchNormalization, same weights."""
    def stock(layer):
        cls = layers.BatchNormalization if isinstance(layer, FusedBatchNormalization) else layer.__class__
        return cls.from_config(layer.get_config())
    if not any(isinstance(l, FusedBatchNormalization) for l in model.layers):
        return model
    clone = keras.models.clone_model(model, clone_function=stock)
    clone.set_weights(model.get_weights())
    return clone
