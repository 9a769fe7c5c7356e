"""Draw docs/synthetic_faces.png: a row of built-in synthetic faces per class.

    python docs/synthetic_faces.py
"""
import os
import sys

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from ferlib import CLASS_NAMES  # noqa: E402
from ferlib.synthetic import synthetic_faces  # noqa: E402


def main(out=os.path.join(os.path.dirname(os.path.abspath(__file__)), "synthetic_faces.png"), per_class=10):
    images, labels, _ = synthetic_faces(7 * per_class * 3, seed=0)
    fig, axes = plt.subplots(7, per_class, figsize=(per_class * 0.9, 7 * 0.95))
    for c, name in enumerate(CLASS_NAMES):
        for j, i in enumerate(np.flatnonzero(labels == c)[:per_class]):
            ax = axes[c, j]
            ax.imshow(images[i], cmap="gray", vmin=0, vmax=255)
            ax.set_xticks([]), ax.set_yticks([])
            if j == 0:
                ax.set_ylabel(name, rotation=0, ha="right", va="center", fontsize=11)
    fig.suptitle("Built-in synthetic faces (seed 0), one row per class", fontsize=12)
    fig.tight_layout()
    fig.savefig(out, dpi=80)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
