"""Makes `clip.gif`, the short clip `keras-nst video` is shown on, from two shipped images.

A still background (Chelsea the cat, CC0) with a moving patch (the astronaut's portrait,
public domain) sliding across it: most of each frame is static, which is where flicker shows,
and the patch covers and uncovers the background, which is what the occlusion mask is for.
Every frame uses one palette without dithering, so static pixels are identical in every
frame of the GIF.

    python examples/make_clip.py            # writes examples/clip.gif
    python examples/make_clip.py OUT.gif    # elsewhere
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

HERE = Path(__file__).resolve().parent
SIZE = (160, 106)  # the background's aspect ratio (451 x 300)
PATCH = 44
FRAMES = 16
#: Milliseconds per frame (10 frames per second).
DURATION = 100


def frames() -> list[Image.Image]:
    background = (
        Image.open(HERE / "chelsea.jpg").convert("RGB").resize(SIZE, Image.Resampling.LANCZOS)
    )
    face = Image.open(HERE / "astronaut.jpg").convert("RGB").crop((150, 20, 370, 240))
    face = face.resize((PATCH, PATCH), Image.Resampling.LANCZOS)
    result = []
    for index in range(FRAMES):
        frame = background.copy()
        x = 6 + 6 * index
        y = 34 + round(6 * np.sin(index / 3))
        frame.paste(face, (x, y))
        result.append(frame)
    return result


def main(path: Path = HERE / "clip.gif") -> Path:
    pictures = frames()
    # One palette for every frame, with the patch's colours: from two frames side by side.
    strip = Image.new("RGB", (SIZE[0] * 2, SIZE[1]))
    strip.paste(pictures[0], (0, 0))
    strip.paste(pictures[FRAMES // 2], (SIZE[0], 0))
    palette = strip.quantize(colors=256, dither=Image.Dither.NONE)
    indexed = [picture.quantize(palette=palette, dither=Image.Dither.NONE) for picture in pictures]
    indexed[0].save(
        path, save_all=True, append_images=indexed[1:], duration=DURATION, loop=0, optimize=False
    )
    return path


if __name__ == "__main__":
    import sys

    print(f"Wrote {main(Path(sys.argv[1])) if len(sys.argv) > 1 else main()}")
