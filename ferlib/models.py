"""The two models of the homework: the reference CNN and a DNN of equal size.

Both take raw 48x48 grayscale pixels (0-255, any dtype) and scale them
inside the model, so a saved .keras file is all that predict.py, saliency.py
and friends need. Augmentation, when asked for, is part of the model too:
Keras' random layers run only in training, so evaluation never sees it.

The last Dense layer is linear and named "logits", followed by a float32
softmax: saliency needs the pre-softmax class score, and mixed precision
needs the probabilities in float32.
"""

import numpy as np

from ferlib import tf_setup  # noqa: F401  (before keras: keras imports tensorflow)

import keras  # noqa: E402
from keras import layers  # noqa: E402

from ferlib import SIZE, TTA_VIEWS, UserError, losses  # noqa: E402,F401  (losses: registers what compiled saved models name)
from ferlib.batches import array_batches  # noqa: E402
from ferlib.fused_bn import FusedBatchNormalization  # noqa: E402

NUM_CLASSES = 7
CNN_FILTERS = (32, 64, 128)


def build_cnn(augment=True, erase=0.0, dense_dropout=0.5):
    """The reference CNN: 9 conv + BN, 3 dense; exactly 1,696,583 parameters.

    Three blocks of three 3x3 ReLU conv layers, each followed by batch norm
    (32, 64, 128 filters), then 2x2 max pooling and dropout 0.25 per block;
    Dense 256 and 128 with dropout `dense_dropout` (0.5), then Dense 7. Conv layers are named
    conv2d_1 ... conv2d_9 in order, so the reference report's `conv2d_6` is
    the last conv of the second block here too.
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
    x = layers.Dropout(dense_dropout, name="dropout_4")(x)
    x = layers.Dense(128, activation="relu", name="dense_2")(x)
    x = layers.Dropout(dense_dropout, name="dropout_5")(x)
    return keras.Model(inputs, _head(x), name="cnn")


def build_dnn(target_params, depth=3, dropout=0.0, augment=False, erase=0.0):
    """Flatten -> `depth` ReLU dense layers (widths solved to target_params) -> Dense(7).

    The defaults are train_dnn.py's: no dropout, no augmentation.
    """
    inputs, x = _inputs(augment, erase)
    x = layers.Flatten(name="flatten")(x)
    for i, w in enumerate(dnn_widths(target_params, depth), 1):
        x = layers.Dense(w, activation="relu", name=f"dense_{i}")(x)
        if dropout:
            x = layers.Dropout(dropout, name=f"dropout_{i}")(x)
    return keras.Model(inputs, _head(x), name="dnn")


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


def _inputs(augment, erase=0.0):
    """Input -> [augmentation] -> scale to [0, 1]; no parameters."""
    inputs = keras.Input((SIZE, SIZE, 1), name="image")
    x = inputs
    if augment:
        x = augmentation(erase)(x)
    return inputs, layers.Rescaling(1 / 255, name="rescale")(x)


def _head(x):
    x = layers.Dense(NUM_CLASSES, name="logits")(x)
    return layers.Activation("softmax", dtype="float32", name="probs")(x)


def augmentation(erase=0.0):
    """Mirror and shift by up to 10%; with erase > 0, that share of images also gets one rectangle of noise.

    Only what keeps a face a plausible FER2013 crop: rotation and zoom on top
    of these held the reference CNN back on FER2013 (docs/ablations.md).
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


# ---------------------------------------------------------------- saved models

def load_model(path, compute="auto"):
    """Load a saved .keras model of 48x48x1 faces and 7 classes, or fail with a one-line UserError.

    compute "auto": the model computes in what this machine computes fast, as a trainer would pick it
    (machine.pick_precision): a model trained in bfloat16 runs in float32 on a CPU without bfloat16
    instructions (4x faster there, bench/loaded_precision.py) and in float16 on a GPU. None: as saved.
    """
    import os
    import zipfile
    if not os.path.isfile(path):
        raise UserError(f"{path}: no such model file (train one with train_cnn.py or train_dnn.py)")
    if not zipfile.is_zipfile(path):   # Keras would call it "file not found"
        raise UserError(f"{path}: not a Keras model file (a .keras file is a zip archive; this one is not)")
    try:
        model = keras.saving.load_model(path, compile=False)
    except Exception as e:   # a damaged or foreign file: Keras raises many kinds
        reason = " ".join(str(e).split())   # one line, whole
        raise UserError(f"{path}: not a readable Keras model ({e.__class__.__name__}: {reason})") from None
    takes, gives = tuple(model.inputs[0].shape[1:]), model.outputs[0].shape[-1]
    if takes != (SIZE, SIZE, 1) or gives != NUM_CLASSES:
        raise UserError(f"{path}: the model takes {'x'.join(map(str, takes))} inputs and gives {gives} outputs; "
                        f"the kit's scripts need {SIZE}x{SIZE}x1 faces and {NUM_CLASSES} classes")
    if compute is None:
        return model
    from ferlib.machine import pick_precision
    return computing_in(model, pick_precision(compute))


def computing_in(model, policy):
    """A model trained under a mixed policy, recast to `policy` ("float32", "mixed_bfloat16", "mixed_float16"),
    the same weights; the model itself where it already computes so, or computes in float32 throughout (as
    the compact copies do: they are kept exact). A layer kept in float32 under a mixed policy (the softmax)
    stays in float32."""
    mixed = {layer.dtype_policy.name for layer in model.layers} - {"float32"}
    return model if not mixed or mixed == {policy} else _recast(model, policy)


def float32_copy(model, half_weights=False):
    """The model computing in float32, whatever policy it was trained under: its labels then depend on
    its weights alone, not on whether the CPU does bfloat16 (which alone changes 0.5% of FER2013's
    labels). half_weights: every float weight rounded to the nearest float16 value, which a deflated
    archive (save_deflated) stores in a little over half the space."""
    return _recast(model, "float32", half_weights)


def _recast(model, policy, half_weights=False):
    def recast(layer):
        keep = policy != "float32" and layer.dtype_policy.name == "float32"
        return layer.__class__.from_config({**layer.get_config(), "dtype": layer.dtype_policy.name if keep else policy})
    clone = keras.models.clone_model(model, clone_function=recast)
    weights = model.get_weights()
    if half_weights:
        weights = [w.astype(np.float16).astype(w.dtype) if w.dtype == np.float32 else w for w in weights]
    clone.set_weights(weights)
    return clone


def save_deflated(model, dest):
    """model.save(dest) with its archive compressed (Keras stores it uncompressed), via a temporary
    file renamed into place. Rounded to float16 values, a float32 weight's last 13 bits are zero, and
    deflate takes the CNN from 6.9 to 3.9 MB; the file loads as any .keras file."""
    import os
    import tempfile
    import zipfile
    from ferlib.outputs import atomic_path
    with tempfile.TemporaryDirectory() as scratch, atomic_path(dest) as tmp:
        plain = os.path.join(scratch, "model.keras")
        model.save(plain)
        with zipfile.ZipFile(plain) as src, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as out:
            for item in src.infolist():
                out.writestr(item.filename, src.read(item.filename))


def conv_layers(model):
    return [l for l in model.layers if isinstance(l, layers.Conv2D)]


def randomised(model, seed=0):
    """A copy of the model with its weights re-drawn: what the network gives with no learning (Adebayo et al.'s
    sanity check of saliency maps; the control of network dissection)."""
    copy = keras.models.clone_model(model)
    rng = np.random.default_rng(seed)
    copy.set_weights([rng.normal(0, 0.05, w.shape).astype(w.dtype) if w.ndim > 1 else w
                      for w in model.get_weights()])
    return copy


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


# Test-time views: 1 (the image), 2 (and its mirror), 10 (the centre and four corner shifts, each
# mirrored) or 18 (all nine shifts, each mirrored). Shifts are of SHIFT pixels with the edge pixels
# repeated, as the training augmentation's RandomTranslation fills them. What each gives on FER2013:
# docs/ablations.md (+0.002-0.003 for 10 views over the mirror on two models).
SHIFT = 2


def shifted(x, dy, dx):
    """Images (N,48,48) moved dy rows down and dx columns right, the edge pixels repeated."""
    h, w = x.shape[1:]
    p = np.pad(x, ((0, 0), (SHIFT, SHIFT), (SHIFT, SHIFT)), mode="edge")
    return np.ascontiguousarray(p[:, SHIFT - dy:SHIFT - dy + h, SHIFT - dx:SHIFT - dx + w])


def view_shifts(views):
    """The (dy, dx) shifts a number of test-time views uses; each shift is also mirrored from 2 views up."""
    if views not in TTA_VIEWS:
        raise UserError(f"--tta takes {', '.join(map(str, TTA_VIEWS))} views, not {views}")
    corners = [(0, 0), (-SHIFT, -SHIFT), (-SHIFT, SHIFT), (SHIFT, -SHIFT), (SHIFT, SHIFT)]
    return {1: [(0, 0)], 2: [(0, 0)], 10: corners,
            18: [(dy, dx) for dy in (-SHIFT, 0, SHIFT) for dx in (-SHIFT, 0, SHIFT)]}[views]


def predict_probs(model, x, tta=1, batch_size=512):
    """Class probabilities for uint8 images (N,48,48), averaged over `tta` test-time views (TTA_VIEWS)."""
    one = lambda images: np.asarray(model.predict(array_batches(images, batch_size=batch_size), verbose=0),
                                    np.float32)
    total = 0.0
    for dy, dx in view_shifts(tta):
        xs = shifted(x, dy, dx) if dy or dx else x
        total = total + one(xs) + (one(np.ascontiguousarray(xs[:, :, ::-1])) if tta > 1 else 0.0)
    return total / tta


def ensemble_probs(models, x, tta=1, batch_size=512):
    """The mean of several models' class probabilities (each over its `tta` views): an ensemble's prediction."""
    return sum(predict_probs(m, x, tta, batch_size) for m in models) / len(models)


def mirror_tta(model, x, probs, batch_size=512):
    """probs (a plain pass over x, already made) averaged with the mirror images' probabilities."""
    return (probs + predict_probs(model, x[:, :, ::-1], batch_size=batch_size)) / 2
