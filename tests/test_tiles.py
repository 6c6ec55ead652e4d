"""Tiled painting: the plan's geometry, exactness against the untiled step, and the paths that
choose and use tiles (memory cap, `size="auto"`, stylize, resume, TensorBoard)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from keras_nst import StyleTask, memory, settings, stylize, vgg19
from keras_nst.callbacks import DASHBOARD_SIZE, for_dashboard
from keras_nst.model import StyleTransferModel
from keras_nst.tiles import TilePlan, geometry

THREE = ["block1_conv1", "block2_conv1", "block3_conv1"]
FIVE = [f"block{b}_conv1" for b in range(1, 6)]
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
PHOTO, PAINTING = str(EXAMPLES / "tubingen.jpg"), str(EXAMPLES / "starry_night.jpg")


# === The plan ===


@pytest.mark.parametrize(
    "height, width, crop, deepest",
    [
        (96, 112, 96, "block3_conv1"),
        (257, 300, 320, "block5_conv1"),
        (50, 40, 40, "block1_conv1"),
        (1000, 33, 200, "block4_conv2"),
    ],
)
def test_cores_partition_the_image_and_crops_hold_their_halo(height, width, crop, deepest):
    plan = TilePlan.for_image(height, width, crop=crop, deepest=deepest)
    covered = np.zeros((height, width), int)
    for tile in plan.tiles:
        top, bottom, left, right = tile.core
        covered[top:bottom, left:right] += 1
        c_top, c_bottom, c_left, c_right = tile.crop
        # Every boundary inside the image is on the deepest layer's stride.
        for value, limit in (
            (top, height),
            (bottom, height),
            (left, width),
            (right, width),
            (c_top, height),
            (c_bottom, height),
            (c_left, width),
            (c_right, width),
        ):
            assert value in (0, limit) or value % plan.stride == 0
        # The halo is there, unless the image ends first.
        assert c_top == max(0, top - plan.halo) and c_bottom == min(height, bottom + plan.halo)
        assert c_left == max(0, left - plan.halo) and c_right == min(width, right + plan.halo)
    assert (covered == 1).all()
    # What the memory estimate uses, computed without listing the tiles.
    assert TilePlan.largest_crop_for(height, width, crop=crop, deepest=deepest) == plan.largest_crop
    assert plan.halo >= vgg19.receptive_radius(deepest)
    assert plan.stride == 2 ** vgg19.num_pools_before(deepest)


def test_the_halo_covers_the_receptive_field():
    # Hand-computed receptive radii: conv1_1 sees 1 pixel around; conv5_1 85.
    assert vgg19.receptive_radius("block1_conv1") == 1
    assert vgg19.receptive_radius("block5_conv1") == 85
    assert geometry("block5_conv1") == (16, 96)
    assert geometry("block3_conv1") == (4, 16)


# === Exactness ===


#: `max_memory` that lets a tiled step keep every tile's deeper activations, and one that
#: lets it keep none.
PLENTY, NONE = 2**40, 1


def _pair(photo, style, crop, max_memory=PLENTY, tile_cut=None, **task_settings):
    """An untiled model and a tiled one (every layer tiled unless `tile_cut` says)."""
    task = StyleTask(
        photo, style, size=max(photo.shape[:2]), total_variation_weight=1.0, **task_settings
    )
    whole = StyleTransferModel(task, weights=None, precision="float32")
    tiled = StyleTransferModel(
        task, weights=None, precision="float32", tile=crop, max_memory=max_memory, tile_cut=tile_cut
    )
    return task, whole, tiled


def _loss_and_gradient(model, image, rows=None):
    rows = tf.constant([0]) if rows is None else rows
    if model.plan is not None:
        losses, gradient = model.tiled.losses(image, rows, tape=True)
        return losses, gradient
    with tf.GradientTape() as tape:
        tape.watch(image)
        losses = model.compute_losses(image, rows)
        total = tf.reduce_sum(losses["loss"])
    return losses, tape.gradient(total, image)


# Five layers reach block5 (a 96 px halo): two tiles side by side keep the case small, and
# one style loss checks that halo (the geometry does not depend on the loss). Each case with
# the first pass's deeper activations kept for the second (as memory allows) and without.
@pytest.mark.parametrize(
    "style_loss, layers, crop, size, tiles, tolerance, keep",
    [
        (loss, THREE, 96, (96, 112), 4, tolerance, keep)
        for loss, tolerance in (("gram", 1e-5), ("mean_cov", 1e-4))
        for keep in (True, False)
    ]
    # Every layer through conv5_1 on two large tiles: the slowest case, for `make test`.
    + [pytest.param("mean_cov", FIVE, 400, (112, 416), 2, 2e-3, True, marks=pytest.mark.slow)],
)
def test_a_tiled_step_is_the_untiled_step(style_loss, layers, crop, size, tiles, tolerance, keep):
    rng = np.random.default_rng(3)
    photo = rng.integers(0, 256, (*size, 3)).astype("uint8")
    style = rng.integers(0, 256, (80, 72, 3)).astype("uint8")
    task, whole, tiled = _pair(
        photo,
        style,
        crop,
        style_loss=style_loss,
        style_layers=layers,
        content_layers=["block2_conv2"],
        max_memory=PLENTY if keep else NONE,
    )
    assert tiled.plan is not None and len(tiled.plan.tiles) == tiles
    assert whole.plan is None and tiled.split is None
    image = tf.constant(rng.uniform(0, 255, (1, *size, 3)).astype("float32"))
    _assert_same_step(whole, tiled, image, tolerance)
    # All tiles but the last (whose one pass serves both) kept, split after conv1's pool.
    assert tiled.tiled.keeping == (("block1_pool", tiles - 1) if keep else (None, 0))


def _assert_same_step(whole, tiled, image, tolerance):
    """`tiled`'s losses and gradient of `image` are `whole`'s, for every row."""
    rows = tf.range(image.shape[0])
    expected, expected_gradient = _loss_and_gradient(whole, image, rows)
    got, gradient = _loss_and_gradient(tiled, image, rows)
    assert set(got) == set(expected)
    for key in expected:
        np.testing.assert_allclose(
            got[key].numpy(), expected[key].numpy(), rtol=tolerance, err_msg=key
        )
    scale = float(tf.reduce_max(tf.abs(expected_gradient)))
    assert float(tf.reduce_max(tf.abs(gradient - expected_gradient))) <= tolerance * scale
    # The whole image's loss: not the sum of per-tile styles, which differs.
    assert float(tf.reduce_min(got["style_loss"])) > 0


# Each cut, each style loss once; two variants (a batch of two images) through the deepest cut.
@pytest.mark.parametrize(
    "style_loss, layers, cut, crop, size, tolerance, variants",
    [
        ("gram", THREE, "block1_pool", 40, (96, 112), 1e-5, []),
        ("mean_cov", THREE, "block2_pool", 48, (96, 112), 1e-4, []),
        pytest.param(
            "gram",
            FIVE,
            "block3_pool",
            96,
            (96, 112),
            1e-5,
            [{"style_weight": 3.0, "init": "noise"}],
            marks=pytest.mark.slow,
        ),
    ],
)
def test_a_step_that_tiles_only_the_first_layers_is_the_untiled_step(
    style_loss, layers, cut, crop, size, tolerance, variants
):
    rng = np.random.default_rng(7)
    photo = rng.integers(0, 256, (*size, 3)).astype("uint8")
    style = rng.integers(0, 256, (80, 72, 3)).astype("uint8")
    task, whole, tiled = _pair(
        photo,
        style,
        crop,
        tile_cut=cut,
        style_loss=style_loss,
        style_layers=layers,
        content_layers=["block2_conv2"],
        variants=variants,
    )
    split_cut, front = tiled.split
    assert split_cut == cut and len(front.tiles) > 4
    # The front's halo is the cut's receptive radius (rounded to its stride), not conv5_1's.
    assert (front.stride, front.halo) == geometry(cut) and front.halo < 40
    image = tf.constant(rng.uniform(0, 255, (task.num_variants, *size, 3)).astype("float32"))
    _assert_same_step(whole, tiled, image, tolerance)


def test_the_memory_left_decides_which_tiles_keep_their_activations(monkeypatch):
    monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", "1")  # the figures of oneDNN's kernels
    task = StyleTask(PHOTO, PAINTING, size=1024)  # conv1_1 to conv5_1: crops of 768 x 608
    height, width = TilePlan.largest_crop_for(
        task.height, task.width, crop=1008, deepest="block5_conv1"
    )
    assert (height, width) == (768, 608)
    # Values VGG-19 computes after each cut, the cut's output included, by hand:
    # (channels, area divisor) of pool1, conv2_1-2, pool2, conv3_1-4, pool3, conv4_1-4,
    # pool4, conv5_1.
    after_pool1 = (
        [(64, 4), (128, 4), (128, 4), (128, 16)]
        + [(256, 16)] * 4
        + [(256, 64)]
        + [(512, 64)] * 4
        + [(512, 256), (512, 256)]
    )

    def values(layers):
        return sum(channels * height * width // divisor for channels, divisor in layers)

    base = memory.estimate_tiled_bytes(task, 1008)
    one_pool1 = 4 * values(after_pool1)
    assert memory.keep_plan(task, 1008, 2, available=base + 2 * one_pool1) == ("block1_pool", 2)
    assert memory.keep_plan(task, 1008, 1, available=base + 2 * one_pool1) == ("block1_pool", 1)
    # Three tiles from pool2 save more than two from pool1 (3 x 74% against 2 x 89%).
    assert memory.keep_plan(task, 1008, 3, available=base + 2 * one_pool1) == ("block2_pool", 3)
    # Room for one tile after pool2 but not after pool1: keep it from pool2; with three
    # tiles, all three from pool3 save more (3 x 38% of a forward pass against 74%).
    assert memory.keep_plan(task, 1008, 1, available=base + one_pool1 - 1) == ("block2_pool", 1)
    assert memory.keep_plan(task, 1008, 3, available=base + one_pool1 - 1) == ("block3_pool", 3)
    assert memory.keep_plan(task, 1008, 3, available=base - 1) == (None, 0)
    # Multiply-adds after each cut over the whole forward pass, per pixel, by hand.
    convs = (
        [(3, 64, 1), (64, 64, 1), (64, 128, 4), (128, 128, 4), (128, 256, 16)]
        + [(256, 256, 16)] * 3
        + [(256, 512, 64)]
        + [(512, 512, 64)] * 3
        + [(512, 512, 256)]
    )
    macs = [9 * cin * cout / area for cin, cout, area in convs]
    assert memory.forward_share_after("block1_pool", "block5_conv1") == pytest.approx(
        sum(macs[2:]) / sum(macs)
    )
    assert memory.forward_share_after("block2_pool", "block5_conv1") == pytest.approx(
        sum(macs[4:]) / sum(macs)
    )


def test_overlap_and_count_are_the_listed_plans():
    for height, width, crop, deepest in [
        (96, 112, 96, "block3_conv1"),
        (768, 1024, 400, "block2_pool"),
        (1000, 33, 200, "block4_conv2"),
        (64, 64, 200, "block1_pool"),
    ]:
        plan = TilePlan.for_image(height, width, crop=crop, deepest=deepest)
        pixels = sum((t.crop[1] - t.crop[0]) * (t.crop[3] - t.crop[2]) for t in plan.tiles)
        assert TilePlan.overlap_for(height, width, crop=crop, deepest=deepest) == pytest.approx(
            pixels / (height * width)
        )
        assert TilePlan.count_for(height, width, crop=crop, deepest=deepest) == len(plan.tiles)


def test_tiling_only_the_first_layers_fits_in_the_memory_of_the_tiles_it_replaces(monkeypatch):
    monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", "1")  # the figures of oneDNN's kernels
    task = StyleTask(PHOTO, PAINTING, size=1024)  # 1024 x 768, conv1_1 to conv5_1
    chosen = []
    for tile in (1008, 800, 400, 300):
        budget = memory.estimate_tiled_bytes(task, tile)
        choice = memory.split_plan(task, tile)
        chosen.append(choice and choice[0])
        if choice is None:
            continue
        cut, crop = choice
        stride, halo = geometry(cut)
        assert memory.estimate_split_bytes(task, cut, crop) <= budget
        # The largest crop that fits, and never the whole image in one.
        assert crop < 1024
        assert (
            crop + stride >= 1024 or memory.estimate_split_bytes(task, cut, crop + stride) > budget
        )
        assert TilePlan.count_for(768, 1024, crop=crop, deepest=cut) >= 2
    # With room for the whole image's activations after pool1, the front (conv1_1, conv1_2)
    # goes through in crops; with less, the cut moves deeper (the whole image's back
    # shrinks), then nothing fits but every layer in tiles.
    assert chosen == ["block1_pool", "block2_pool", "block3_pool", None]
    # The back's values (after pool3, the cut's output included) are held whole, and
    # `FRONT_HELD` of the front's in a crop (8 and 10 bytes per value in float32).
    crop = 300
    height, width = TilePlan.largest_crop_for(768, 1024, crop=crop, deepest="block3_pool")
    back = memory.activation_values(768, 1024, "block5_conv1") - memory.activation_values(
        768, 1024, "block3_conv4"
    )
    front = memory.activation_values(height, width, "block3_pool")
    expected = (
        memory.RUNTIME_BYTES
        + memory._full_size_bytes(task, "adam")
        + max(10 * front, 8 * back + memory.FRONT_HELD * 10 * front)
        + 2 * 4 * (768 // 8) * (1024 // 8) * 256
    )
    assert memory.estimate_split_bytes(task, "block3_pool", crop) == pytest.approx(expected, abs=1)
    # With TensorFlow's own kernels: twice the bytes per value, and the larger of the front
    # and the back only (their measured peaks stayed under the back's estimate).
    monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", "0")
    expected = (
        memory.RUNTIME_BYTES
        + memory._full_size_bytes(task, "adam")
        + max(20 * front, 16 * back)
        + 2 * 4 * (768 // 8) * (1024 // 8) * 256
    )
    assert memory.estimate_split_bytes(task, "block3_pool", crop) == pytest.approx(expected, abs=1)


def test_tensorflows_own_kernels_are_estimated_at_twice_the_bytes(monkeypatch):
    from keras_nst import precision

    task = StyleTask(PHOTO, PAINTING, size=512)
    values = memory.activation_values(task.height, task.width, "block5_conv1")
    monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", "1")
    onednn = memory.estimate_peak_bytes(task)
    monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", "0")
    assert memory.estimate_peak_bytes(task) - onednn == values * 8
    # Unset, TensorFlow's default for the CPU: oneDNN with VNNI, AVX512-BF16 or AMX.
    monkeypatch.delenv("TF_ENABLE_ONEDNN_OPTS")
    monkeypatch.setattr(precision, "_cpu_flags", lambda: {"avx2", "avx512f"})
    assert not precision.onednn_kernels()
    monkeypatch.setattr(precision, "_cpu_flags", lambda: {"avx2", "avx512f", "avx512_vnni"})
    assert precision.onednn_kernels()
    assert memory.estimate_peak_bytes(task) == onednn


def test_a_bad_tile_cut_is_refused_by_name():
    rng = np.random.default_rng(8)
    photo = rng.integers(0, 256, (64, 64, 3)).astype("uint8")
    task = StyleTask(
        photo, photo, size=64, style_layers=["block1_conv1"], content_layers=["block1_conv2"]
    )
    with pytest.raises(
        ValueError,
        match=r"`tile_cut` must be auto, none or one of block1_pool, "
        r"block2_pool, block3_pool. Received: tile_cut='block4_pool'",
    ):
        StyleTransferModel(task, weights=None, tile=48, tile_cut="block4_pool")
    with pytest.raises(
        ValueError,
        match=r"`tile_cut` must come before the deepest layer used "
        r"\(block1_conv2\). Received: tile_cut='block1_pool'",
    ):
        StyleTransferModel(task, weights=None, tile=48, tile_cut="block1_pool")


def test_targets_of_a_tiled_style_image_are_the_whole_images():
    rng = np.random.default_rng(4)
    photo = rng.integers(0, 256, (96, 112, 3)).astype("uint8")
    for style_loss in ("gram", "mean_cov"):
        task, whole, tiled = _pair(
            photo,
            photo,
            96,
            style_loss=style_loss,
            style_layers=THREE,
            content_layers=["block3_conv1"],
        )
        for ours, theirs in zip(tiled.targets, whole.targets):
            for a, b in zip(ours, theirs):
                np.testing.assert_allclose(
                    np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-5 * np.abs(np.asarray(b)).max()
                )


def test_fit_tiled_paints_what_fit_untiled_paints():
    rng = np.random.default_rng(5)
    photo = rng.integers(0, 256, (96, 112, 3)).astype("uint8")
    style = rng.integers(0, 256, (64, 64, 3)).astype("uint8")
    task, whole, tiled = _pair(
        photo, style, 96, style_layers=THREE, content_layers=["block2_conv2"]
    )
    for model in (whole, tiled):
        model.compile(optimizer="adam")
        model.fit(task, epochs=1, steps_per_epoch=3, verbose=0)
    assert tiled.run_eagerly and not whole.run_eagerly
    # Adam divides by each pixel's gradient size: where a gradient is near zero, float rounding
    # (tiles sum in another order) moves a few pixels by tenths of a level at learning rate 10.
    np.testing.assert_allclose(tiled.painted().numpy(), whole.painted().numpy(), atol=0.5)
    assert np.mean(np.abs(tiled.painted().numpy() - whole.painted().numpy())) < 1e-3
    assert np.abs(tiled.painted().numpy() - photo).max() > 5  # it did paint


# === Choosing tiles ===


def test_the_memory_cap_tiles_a_painting_instead_of_refusing_it():
    task = StyleTask(PHOTO, PAINTING, size=4096)
    needed = memory.estimate_peak_bytes(task)
    cap = 8 * 2**30
    assert needed > cap
    crop = memory.plan_tile(task, available=cap)
    assert crop is not None and crop % 16 == 0
    assert (
        memory.estimate_tiled_bytes(task, crop)
        <= cap
        < memory.estimate_tiled_bytes(task, crop + 32)
    )
    assert memory.plan_tile(task, available=needed) is None
    with pytest.raises(ValueError, match=r"`size` is too large: even tile by tile"):
        memory.plan_tile(task, available=2**30)


def test_size_auto_is_the_largest_untiled_size_and_no_larger_than_the_photo(monkeypatch):
    monkeypatch.setattr(memory, "available_bytes", lambda: 2 * 2**30)
    task = StyleTask(PHOTO, PAINTING, size="auto")
    assert 256 <= task.size < 1024
    assert task.size % 16 == 0
    from keras_nst.precision import resolve_precision_on_cpu

    precision = resolve_precision_on_cpu("auto")
    assert memory.estimate_peak_bytes(task, precision=precision) <= 2 * 2**30
    bigger = StyleTask(PHOTO, PAINTING, size=task.size + 64)
    assert memory.estimate_peak_bytes(bigger, precision=precision) > 2 * 2**30
    monkeypatch.setattr(memory, "available_bytes", lambda: 200 * 2**30)
    assert StyleTask(PHOTO, PAINTING, size="auto").size == 1024


@pytest.mark.parametrize(
    "value, expected",
    [
        ("12GiB", 12 * 2**30),
        ("8G", 8 * 10**9),
        ("500 MB", 500 * 10**6),
        (1024, 1024),
        (None, None),
    ],
)
def test_max_memory_reads_units(value, expected):
    assert settings.check_memory(value, "max_memory") == expected


@pytest.mark.parametrize("value", ["lots", "-3GB", 0, "12XB", True])
def test_bad_max_memory_is_refused_by_name(value):
    with pytest.raises(
        ValueError, match=r"`max_memory` must be a positive number of bytes.*Received: max_memory="
    ):
        settings.check_memory(value, "max_memory")


@pytest.mark.parametrize("value", [-1, 8, "big", 2.5])
def test_bad_tile_is_refused_by_name(value):
    with pytest.raises(
        ValueError, match=r"`tile` must be 0 \(never tile\), a tile side of at least 16"
    ):
        settings.check_tile(value, "tile")


@pytest.mark.slow  # a whole painting tiled and resumed: make test runs it
def test_stylize_tiles_the_large_scales_under_a_memory_cap_and_resumes(tmp_path):
    """Coarse to fine under a cap: only the scale that does not fit is tiled; a run cut after
    the first tiled step resumes to the same bytes."""
    rng = np.random.default_rng(6)
    photo = rng.integers(0, 256, (144, 192, 3)).astype("uint8")
    style = rng.integers(0, 256, (64, 64, 3)).astype("uint8")
    task = StyleTask(photo, style, size=192, style_layers=THREE, content_layers=["block2_conv2"])
    common = dict(weights=None, precision="float32", steps=2, min_size=96, verbose=0, tile=160)
    # (That a tiled painting paints what an untiled one does: the exactness and fit tests.)
    full = stylize(task, output=tmp_path / "tiled.png", checkpoint_dir=tmp_path / "a", **common)
    assert full.model.plan is not None  # the last stage (192 px) is tiled
    # Only VGG-19's first layers are (`tile_cut="auto"`; where it cuts depends on the CPU's
    # kernels' bytes per value): the resume below is of such a painting.
    assert full.model.split is not None and full.model.split[0] in memory.CUTS
    assert full.steps == 6
    # Cut after step 5 (the first tiled step) by a Ctrl-C, then resume.
    from test_painting import RaiseSignal

    cut = stylize(task, checkpoint_dir=tmp_path / "b", callbacks=[RaiseSignal(5)], **common)
    assert cut.stopped_by == "SIGINT" and cut.steps == 5
    resumed = stylize(task, output=tmp_path / "resumed.png", resume=tmp_path / "b", **common)
    assert resumed.steps == 6
    np.testing.assert_array_equal(resumed.images, full.images)


@pytest.mark.slow  # a whole painting tiled and resumed: make test runs it
def test_each_stage_paints_with_the_largest_tile_that_fits_it_and_resumes(tmp_path):
    """Under a cap, the tile is chosen per stage (at its size, with its optimizer), not the
    smallest of all stages for every one: a resumed run starts with its stage's."""
    import keras
    from test_painting import RaiseSignal

    from keras_nst.memory import estimate_tiled_bytes
    from keras_nst.painting import painting_settings, stage_tiles
    from keras_nst.schedule import Schedule, Stage

    rng = np.random.default_rng(6)
    photo = rng.integers(0, 256, (96, 128, 3)).astype("uint8")
    style = rng.integers(0, 256, (64, 64, 3)).astype("uint8")
    task = StyleTask(photo, style, size=128, style_layers=THREE, content_layers=["block2_conv2"])
    schedule = Schedule([Stage(96, 2, "lbfgs"), Stage(128, 2)])
    cap = estimate_tiled_bytes(task, 64, optimizer="adam", precision="float32") + 2**16
    common = dict(weights=None, precision="float32", max_memory=cap, optimizer="adam")
    tiles = stage_tiles(task, painting_settings(common), schedule)
    common["verbose"] = 0
    assert tiles[1] == 64 and 96 > tiles[0] > tiles[1]  # the smaller scale fits larger tiles

    class Record(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.seen = []

        def on_train_batch_begin(self, batch, logs=None):
            self.seen.append((self.model.task.size, self.model.tile, self.model.plan is not None))

    record = Record()
    full = stylize(
        task, schedule=schedule, callbacks=[record], checkpoint_dir=tmp_path / "a", **common
    )
    assert record.seen == [(96, tiles[0], True)] * 2 + [(128, 64, True)] * 2
    assert full.model.stage_tiles == tuple(tiles)  # what the command line's first line reports
    cut = stylize(
        task, schedule=schedule, checkpoint_dir=tmp_path / "b", callbacks=[RaiseSignal(3)], **common
    )
    assert cut.stopped_by == "SIGINT" and cut.steps == 3
    resumed = stylize(task, schedule=schedule, resume=tmp_path / "b", **common)
    assert resumed.model.tile == 64 and resumed.steps == 4
    np.testing.assert_array_equal(resumed.images, full.images)


def test_dashboard_images_are_downsized():
    images = np.zeros((2, 3000, 1500, 3), np.uint8)
    images[:, :1500] = 200
    small = for_dashboard(images)
    assert small.shape == (2, DASHBOARD_SIZE, DASHBOARD_SIZE // 2, 3)
    assert small[0, 10, 10, 0] == 200 and small[0, -10, 10, 0] == 0
    assert for_dashboard(images[:, :100, :100]).shape == (2, 100, 100, 3)
