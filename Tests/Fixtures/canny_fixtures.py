"""Canny edges as diffusers' ControlNet documentation prepares them, for `kiln control canny`:
`image = np.array(load_image(path))`, `edges = cv2.Canny(image, low, high)` (OpenCV's defaults:
aperture 3, L1 gradient, on the three RGB channels), then the edges stacked to three channels.

Writes the synthetic inputs to Tests/Fixtures/images/canny-*.png, each case's edges as an 8-bit
gray PNG under Tests/Fixtures/expected/canny/, and the list of cases to
Tests/Fixtures/expected/canny/cases.json ([{image, low, high, edges}, ...]).
Run through generate_fixtures.py --only canny_fixtures (needs numpy, Pillow, opencv-python-headless
and diffusers, all in the fixtures' venv).
"""
import json
import os

import cv2
import numpy as np
from PIL import Image
from diffusers.utils import load_image

HERE = os.path.dirname(os.path.abspath(__file__))
IMAGES = os.path.join(HERE, "images")
OUT = os.path.join(HERE, "expected", "canny")


def synthetic_images():
    """Inputs that reach OpenCV's corner cases: plateaus of equal magnitude (the > and >= of its
    non-maximum suppression), every gradient direction, one-pixel-wide images, noise."""
    rng = np.random.default_rng(20)
    made = {}
    made["canny-noise-37x23.png"] = rng.integers(0, 256, size=(23, 37, 3), dtype=np.uint8)
    # Low contrast, so that each pair of thresholds keeps another set of edges.
    made["canny-soft-31x29.png"] = rng.integers(100, 141, size=(29, 31, 3), dtype=np.uint8)
    y, x = np.mgrid[0:41, 0:53]
    disc = ((x - 25.3) ** 2 + (y - 19.7) ** 2 < 14.5 ** 2)
    shapes = np.zeros((41, 53, 3), dtype=np.uint8)
    shapes[..., 0] = np.where(disc, 220, 30)
    shapes[..., 1] = np.where((x > 8) & (x < 20) & (y > 4) & (y < 35), 180, 60)
    shapes[..., 2] = np.clip(x * 5 + y * 3, 0, 255)
    made["canny-shapes-53x41.png"] = shapes
    made["canny-steps-1x19.png"] = np.repeat((np.arange(19) * 13 % 256).astype(np.uint8)[:, None, None], 3, axis=2)
    made["canny-steps-17x1.png"] = np.repeat((np.arange(17) * 29 % 256).astype(np.uint8)[None, :, None], 3, axis=2)
    checker = ((x // 4 + y // 3) % 2 * 255).astype(np.uint8)
    made["canny-checker-53x41.png"] = np.stack([checker, checker // 2, 255 - checker], axis=2)
    for name, array in made.items():
        Image.fromarray(array, "RGB").save(os.path.join(IMAGES, name))
    return list(made)


def main():
    os.makedirs(OUT, exist_ok=True)
    names = synthetic_images()
    # Inputs read as load_image reads them: EXIF orientation, alpha dropped, gray to RGB, 16-bit.
    names += ["input-photo-88x72.jpg", "tiling-scene-264x200.png", "input-rgba-70x50.png",
              "extra-exif-orientation-20x12.jpg", "input-gray16-40x30.png", "extra-palette4-interlaced-13x9.png"]
    thresholds = [(100, 200), (50, 150), (200, 100), (0, 0), (10.7, 30.2), (400, 900), (-5, 20)]
    cases = []
    for name in names:
        image = np.array(load_image(os.path.join(IMAGES, name)))
        assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
        for low, high in thresholds:
            edges = cv2.Canny(image, low, high)
            stem = os.path.splitext(name)[0]
            out = f"{stem}-{low}-{high}.png"
            Image.fromarray(edges, "L").save(os.path.join(OUT, out))
            cases.append({"image": name, "low": low, "high": high, "edges": out,
                          "edge_pixels": int((edges == 255).sum())})
    with open(os.path.join(OUT, "cases.json"), "w") as f:
        json.dump({"opencv": cv2.__version__, "cases": cases}, f, indent=1)
    print(f"canny: {len(cases)} cases, OpenCV {cv2.__version__}")


if __name__ == "__main__":
    main()
