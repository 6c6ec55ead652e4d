"""Contact sheets: a labelled grid of images, as in Gatys et al.'s Figure 2 (Pillow only)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from keras_nst.images import to_uint8

_MARGIN = 8
_FONT_SIZE = 13


def _font():
    try:
        return ImageFont.load_default(size=_FONT_SIZE)
    except TypeError:  # Pillow < 10.1 has only the fixed bitmap font
        return ImageFont.load_default()


def contact_sheet(
    images: Sequence[Sequence[np.ndarray | None]],
    *,
    row_labels: Sequence[str],
    column_labels: Sequence[str],
    captions: Sequence[Sequence[str]] | None = None,
    title: str = "",
) -> Image.Image:
    """Lays images out in a grid with named rows and columns and a caption under each.

    Args:
        images: `rows x columns` RGB arrays (`None` leaves a cell empty); cells may differ in
            size (each is centred in a cell as large as the largest image).
        row_labels: one label per row, written to the left.
        column_labels: one label per column, written on top.
        captions: optional text under each image (e.g. the seconds it took).
        title: optional line above everything.

    Returns:
        A `PIL.Image.Image` in RGB.
    """
    if len(row_labels) != len(images) or any(len(row) != len(column_labels) for row in images):
        raise ValueError(
            "`images` must be a grid of len(row_labels) rows of len(column_labels) images. "
            f"Received: {len(images)} rows of {[len(row) for row in images]} for "
            f"{len(row_labels)} row labels and {len(column_labels)} column labels"
        )
    font = _font()
    measure = ImageDraw.Draw(Image.new("RGB", (1, 1)))

    def text_size(text):
        left, top, right, bottom = measure.textbbox((0, 0), text, font=font)
        return right - left, bottom - top

    cells = [image for row in images for image in row if image is not None]
    cell_width = max([image.shape[1] for image in cells] + [text_size(c)[0] for c in column_labels])
    cell_height = max(image.shape[0] for image in cells) if cells else 1
    line = text_size("Ag")[1] + 4
    label_width = max([text_size(label)[0] for label in row_labels] + [0]) + 2 * _MARGIN
    caption_height = line if captions else 0
    title_height = line + _MARGIN if title else 0
    width = label_width + len(column_labels) * (cell_width + _MARGIN) + _MARGIN
    height = title_height + line + _MARGIN + len(images) * (cell_height + caption_height + _MARGIN)

    sheet = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(sheet)
    if title:
        draw.text((_MARGIN, _MARGIN // 2), title, fill="black", font=font)
    top = title_height
    for column, label in enumerate(column_labels):
        x = label_width + column * (cell_width + _MARGIN) + (cell_width - text_size(label)[0]) // 2
        draw.text((x, top), label, fill="black", font=font)
    top += line + _MARGIN // 2
    for row, (label, row_images) in enumerate(zip(row_labels, images)):
        y = top + row * (cell_height + caption_height + _MARGIN)
        draw.text((_MARGIN, y + cell_height // 2 - line // 2), label, fill="black", font=font)
        for column, image in enumerate(row_images):
            x = label_width + column * (cell_width + _MARGIN)
            if image is not None:
                image = to_uint8(image)
                offset = ((cell_width - image.shape[1]) // 2, (cell_height - image.shape[0]) // 2)
                sheet.paste(Image.fromarray(image), (x + offset[0], y + offset[1]))
            if captions:
                caption = captions[row][column]
                draw.text(
                    (x + (cell_width - text_size(caption)[0]) // 2, y + cell_height + 2),
                    caption,
                    fill="dimgray",
                    font=font,
                )
    return sheet
