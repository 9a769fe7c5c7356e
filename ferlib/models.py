"""The two models of the homework: the reference CNN and a DNN of equal size.

Both take raw 48x48 grayscale pixels (0-255, any dtype) and scale them
inside the model, so a saved .keras file is all that predict.py, saliency.py
and friends need. Augmentation, when asked for, is part of the model too:
Keras' random layers run only in training, so evaluation never sees it.

The last Dense layer is linear and named "logits", followed by a float32
softmax: saliency needs the pre-softmax class score, and mixed precision
needs the probabilities in float32.
"""

import os
import sys

# TensorFlow's C++ start-up chatter (CUDA probing on CPU machines, oneDNN
# notices) means nothing to a student; real errors still raise in Python.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _import_tensorflow_quietly():
    """Import TensorFlow with the process's stderr pointed at /dev/null.

    TF 2.19+ prints its start-up notices whatever TF_CPP_MIN_LOG_LEVEL says
    (tensorflow/tensorflow#100442): five lines before every script's output.
    A failed import still raises, with its message, once stderr is back.
    """
    if "tensorflow" in sys.modules or os.environ["TF_CPP_MIN_LOG_LEVEL"] == "0":
        return
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        import tensorflow  # noqa: F401
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


_import_tensorflow_quietly()

import keras  # noqa: E402
from keras import layers  # noqa: E402

from ferlib.data import SIZE  # noqa: E402

NUM_CLASSES = 7
CNN_FILTERS = (32, 64, 128)


def _inputs(augment, erase=0.0):
    """Input -> [augmentation] -> scale to [0, 1]; no parameters."""
    inputs = keras.Input((SIZE, SIZE, 1), name="image")
    x = inputs
    if augment:
        x = augmentation(erase)(x)
    return inputs, layers.Rescaling(1 / 255, name="rescale")(x)


def augmentation(erase=0.0):
    """Mirror and shift by up to 10%; with erase > 0, that share of images also gets one rectangle of noise.

    Rotation (+-18 degrees) and zoom (+-10%) on top of these cost the
    reference CNN accuracy on FER2013: PublicTest 0.646 against 0.670 after
    100 epochs. With its fixed dropout they kept the network from fitting
    (clean training accuracy 0.711 against 0.803; docs/ablations.md).
    """
    steps = [layers.RandomFlip("horizontal", name="mirror"),
             layers.RandomTranslation(0.1, 0.1, fill_mode="nearest", name="shift")]
    if erase:
        # Random erasing (Zhong et al. 2017): each side 14-57% of the image's, clipped Gaussian noise.
        # A fixed factor pair: a single float would draw each image's probability from U(0, erase).
        steps.append(layers.RandomErasing(factor=(erase, erase), value_range=(0, 255), name="erase"))
    return keras.Sequential(steps, name="augment")


def augmentation_summary(model):
    """The model's training-time augmentation in words for the run record, e.g. 'mirror, shift 0.1'."""
    if "augment" not in [l.name for l in model.layers]:
        return ""
    words = []
    for layer in model.get_layer("augment").layers:
        c = layer.get_config()
        factor = c.get("factor", c.get("height_factor"))
        if isinstance(factor, (list, tuple)):   # RandomErasing's (p, p)
            factor = factor[1]
        words.append(layer.name if factor is None else f"{layer.name} {factor}")
    return ", ".join(words)


@keras.saving.register_keras_serializable(package="ferlib")
class FusedBatchNormalization(layers.BatchNormalization):
    """Keras' BatchNormalization, trained through TF's fused kernel.

    Keras 3 computes batch norm from separate ops (moments, then a float32
    normalise of a bfloat16 tensor); TF's FusedBatchNormV3 does the same
    arithmetic in one pass and is ~5x faster forward+backward on the CNN's
    48x48x32 maps here, which made training 1.7x faster (202 -> 337 img/s,
    bench/README.md). Same variables, same moving-average update; inference,
    masks and other backends take the stock path. Saved models hold the stock
    layer (see `portable`), so any Keras can load them.
    """

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
        return keras.losses.categorical_crossentropy(_targets(y_true, y_pred), y_pred,
                                                     label_smoothing=self.label_smoothing)

    def get_config(self):
        return {**super().get_config(), "label_smoothing": self.label_smoothing}


def _targets(y_true, y_pred):
    """Class weights per image: soft targets as given, integer labels one-hot."""
    classes = y_pred.shape[-1]
    if len(y_true.shape) == 2 and y_true.shape[-1] == classes:
        return keras.ops.cast(y_true, y_pred.dtype)
    return keras.ops.one_hot(keras.ops.cast(keras.ops.reshape(y_true, (-1,)), "int32"), classes, dtype=y_pred.dtype)


@keras.saving.register_keras_serializable(package="ferlib")
def label_accuracy(y_true, y_pred):
    """Accuracy against integer labels or soft targets (their largest class), for mixup's batches."""
    return keras.ops.cast(keras.ops.argmax(_targets(y_true, y_pred), -1) == keras.ops.argmax(y_pred, -1), "float32")


def portable(model):
    """The model with stock Keras layers in place of our training-speed ones, same weights."""
    def stock(layer):
        cls = layers.BatchNormalization if isinstance(layer, FusedBatchNormalization) else layer.__class__
        return cls.from_config(layer.get_config())
    if not any(isinstance(l, FusedBatchNormalization) for l in model.layers):
        return model
    clone = keras.models.clone_model(model, clone_function=stock)
    clone.set_weights(model.get_weights())
    return clone


def _head(x):
    x = layers.Dense(NUM_CLASSES, name="logits")(x)
    return layers.Activation("softmax", dtype="float32", name="probs")(x)


def build_cnn(augment=True, erase=0.0):
    """The reference CNN: 9 conv + BN, 3 dense; exactly 1,696,583 parameters.

    Conv layers are named conv2d_1 ... conv2d_9 in order, so the reference
    report's `conv2d_6` is the last conv of the second block here too.
    """
    inputs, x = _inputs(augment, erase)
    k = 0
    for block, filters in enumerate(CNN_FILTERS, 1):
        for _ in range(3):
            k += 1
            x = layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"conv2d_{k}")(x)
            x = FusedBatchNormalization(name=f"batch_normalization_{k}")(x)
        x = layers.MaxPooling2D(2, name=f"max_pooling2d_{block}")(x)
        x = layers.Dropout(0.25, name=f"dropout_{block}")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(256, activation="relu", name="dense_1")(x)
    x = layers.Dropout(0.5, name="dropout_4")(x)
    x = layers.Dense(128, activation="relu", name="dense_2")(x)
    x = layers.Dropout(0.5, name="dropout_5")(x)
    return keras.Model(inputs, _head(x), name="cnn")


def dnn_widths(target_params, depth=3, taper=0.5):
    """Hidden widths w, w*taper, w*taper^2, ... whose DNN has ~target_params parameters.

    The parameter count is a quadratic in w once the ratios are fixed, so we
    solve it exactly and round; the rounding error is far below 0.1% for any
    target from ~50k up.
    """
    n_in = SIZE * SIZE
    ratios = [taper ** i for i in range(depth)]
    # params(w) = sum over layers (fan_in + 1) * fan_out, with fan_out = r_i * w
    a = sum(ratios[i - 1] * ratios[i] for i in range(1, depth))      # hidden x hidden
    b = (n_in + 1) * ratios[0] + sum(ratios[1:]) + NUM_CLASSES * ratios[-1]
    c = NUM_CLASSES - target_params
    w = (-b + (b * b - 4 * a * c) ** 0.5) / (2 * a) if a else -c / b
    # Round w, then set the last width exactly: the count is linear in it.
    best = None
    for w0 in range(max(int(w) - 2, 1), int(w) + 3):
        widths = [max(int(round(w0 * r)), 1) for r in ratios]
        widths[-1] = 0
        base = dnn_param_count(widths)     # the count with the last layer's width 0
        per_unit = (widths[-2] if depth > 1 else n_in) + 1 + NUM_CLASSES
        widths[-1] = max(int(round((target_params - base) / per_unit)), 1)
        err = abs(dnn_param_count(widths) - target_params)
        if best is None or err < best[0]:
            best = (err, widths)
    return best[1]


def dnn_param_count(widths):
    sizes = [SIZE * SIZE] + list(widths) + [NUM_CLASSES]
    return sum((i + 1) * o for i, o in zip(sizes[:-1], sizes[1:]))


def build_dnn(target_params, depth=3, dropout=0.3, augment=True, erase=0.0):
    """Flatten -> `depth` ReLU dense layers (widths solved to target_params) -> Dense(7)."""
    inputs, x = _inputs(augment, erase)
    x = layers.Flatten(name="flatten")(x)
    for i, w in enumerate(dnn_widths(target_params, depth), 1):
        x = layers.Dense(w, activation="relu", name=f"dense_{i}")(x)
        if dropout:
            x = layers.Dropout(dropout, name=f"dropout_{i}")(x)
    return keras.Model(inputs, _head(x), name="dnn")


# ---------------------------------------------------------------- saved models

def load_model(path):
    """Load a saved .keras model, or fail with a one-line UserError."""
    import os
    from ferlib.data import UserError
    if not os.path.exists(path):
        raise UserError(f"{path}: no such model file (train one with train_cnn.py or train_dnn.py)")
    try:
        return keras.saving.load_model(path, compile=False)
    except Exception as e:   # a corrupt or foreign file: Keras raises many kinds
        raise UserError(f"{path}: not a readable Keras model ({e.__class__.__name__}: {str(e)[:120]})") from None


def conv_layers(model):
    return [l for l in model.layers if isinstance(l, layers.Conv2D)]


def logits_model(model):
    """A model from pixels to pre-softmax class scores (saliency needs these, not probabilities).

    Our models expose a "logits" layer; for any other classifier whose last
    layer is a softmax Dense or Activation, the scores are recomputed from the
    layer's input.
    """
    names = [l.name for l in model.layers]
    if "logits" in names:
        return keras.Model(model.inputs[0], model.get_layer("logits").output)
    last = model.layers[-1]
    if isinstance(last, layers.Activation):
        return keras.Model(model.inputs[0], last.input)
    if isinstance(last, layers.Dense):
        features = keras.Model(model.inputs[0], last.input)
        inputs = keras.Input(model.inputs[0].shape[1:])
        return keras.Model(inputs, keras.ops.matmul(features(inputs), last.kernel) + last.bias)
    return model


def predict_probs(model, x, tta=False, batch_size=512):
    """Class probabilities for uint8 images (N,48,48); tta averages with the mirror image."""
    import numpy as np
    from ferlib.train import array_batches
    p = np.asarray(model.predict(array_batches(x, batch_size=batch_size), verbose=0), np.float32)
    return mirror_tta(model, x, p, batch_size) if tta else p


def mirror_tta(model, x, probs, batch_size=512):
    """probs (a plain pass over x, already made) averaged with the mirror images' probabilities."""
    return (probs + predict_probs(model, x[:, :, ::-1], batch_size=batch_size)) / 2
