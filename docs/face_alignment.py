"""Where MTCNN puts the five landmarks on FER2013's own faces: the frame faces.py aligns a photo's faces to.

    python docs/face_alignment.py --data data/fer2013.csv --faces 600

Each face of the split, upscaled 4x (MTCNN's smallest face is 20 px, a FER2013 face fills its 48), is run
through the detector; the landmarks of the faces found are scaled back to the 48x48 crop. Printed: how
many faces were found, and the median and spread of the eye centres, the eyes' distance and the mouth,
which faces.py's ALIGN constants take.
"""

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from ferlib.data import load_fer2013  # noqa: E402

UPSCALE = 4


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=None)
    p.add_argument("--split", default="val")
    p.add_argument("--faces", type=int, default=600)
    args = p.parse_args(argv)
    from mtcnn import MTCNN
    from PIL import Image
    x, _ = load_fer2013(args.data).split(args.split)
    detector = MTCNN(device="CPU:0")
    points = []
    for face in x[:args.faces]:
        big = np.asarray(Image.fromarray(face).resize((48 * UPSCALE,) * 2, Image.BICUBIC).convert("RGB"))
        found = detector.detect_faces(big)
        if found:
            k = max(found, key=lambda f: f["confidence"])["keypoints"]
            points.append([np.array(k[n], float) / UPSCALE for n in ("left_eye", "right_eye", "nose", "mouth_left",
                                                                      "mouth_right")])
    points = np.array(points)   # (faces, 5, xy)
    eyes = (points[:, 0] + points[:, 1]) / 2
    distance = np.linalg.norm(points[:, 1] - points[:, 0], axis=1)
    mouth = (points[:, 3] + points[:, 4]) / 2
    q = lambda v: np.percentile(v, [25, 50, 75], axis=0).round(2).tolist()  # noqa: E731
    print(f"{len(points)} of {min(args.faces, len(x))} {args.split} faces found")
    print(f"eye centre (x, y) quartiles: {q(eyes)}")
    print(f"eye distance quartiles: {q(distance)}")
    print(f"mouth centre (x, y) quartiles: {q(mouth)}")


if __name__ == "__main__":
    main()
