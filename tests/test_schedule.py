"""Schedules: stages on one step counter (no TensorFlow needed)."""

import numpy as np
import pytest

from keras_nst.schedule import Schedule, Stage


def test_stages_share_one_step_counter():
    schedule = Schedule([Stage(64, 10), Stage(90, 5), Stage(128, 20)])
    assert schedule.total_steps == 35 and schedule.ends() == [10, 15, 35]
    assert schedule.final_size == 128 and schedule.largest_size == 128
    assert [schedule.locate(n) for n in (0, 9, 10, 14, 15, 34)] == [
        (0, 0),
        (0, 9),
        (1, 0),
        (1, 4),
        (2, 0),
        (2, 19),
    ]
    # Past the end the last stage goes on (a resumed run may extend it).
    assert schedule.locate(50) == (2, 35)


def test_identity_lets_the_last_stage_grow():
    first = Schedule([Stage(64, 10), Stage(128, 20)])
    longer = Schedule([Stage(64, 10), Stage(128, 40)])
    other = Schedule([Stage(64, 12), Stage(128, 20)])
    assert first.identity() == longer.identity() != other.identity()
    assert Schedule.single(256, 100).identity() == {"sizes": [256], "steps": []}


@pytest.mark.parametrize(
    "stages, message",
    [
        ([], r"`stages` must hold at least one stage"),
        ([Stage(64, 0)], r"`stages\[0\]` must be a Stage of positive size and steps"),
        ([Stage(64, 5), (128, 5)], r"`stages\[1\]` must be a Stage"),
    ],
)
def test_bad_stages(stages, message):
    with pytest.raises(ValueError, match=message):
        Schedule(stages)


def test_scale_optimizer_paints_the_smaller_scales_and_joins_the_identity():
    schedule = Schedule.coarse_to_fine(256, 100, scale_steps=30, scale_optimizer="lbfgs")
    assert [(s.size, s.steps, s.optimizer) for s in schedule.stages] == [
        (128, 30, "lbfgs"),
        (181, 30, "lbfgs"),
        (256, 100, None),
    ]
    assert schedule.starts() == [0, 30, 60]
    assert schedule.identity()["optimizers"] == ["lbfgs", "lbfgs", None]
    # Without one the identity is what it always was (checkpoints written before still resume).
    assert "optimizers" not in Schedule.coarse_to_fine(256, 100).identity()
    assert "(lbfgs)" in repr(schedule)


def test_a_stage_names_a_known_optimizer():
    with pytest.raises(
        ValueError,
        match=r"`stages\[0\].optimizer` must be one of .*Received: stages\[0\].optimizer='bfgs'",
    ):
        Schedule([Stage(64, 5, "bfgs"), Stage(128, 5)])


def test_a_panorama_starts_coarse_to_fine_where_its_short_side_is_large_enough(style_path):
    """`min_size` is the first scale's longest side: a 2000 x 200 photo's 128 px scale would
    be 13 px high, too small for conv5_1 (16 px), so the painting starts at 181 px."""
    from keras_nst import StyleTask, painting

    photo = np.full((200, 2000, 3), 128, np.uint8)
    task = StyleTask(photo, style_path, size=512)
    values = painting.painting_settings({})
    sizes = [stage.size for stage in painting.default_schedule(task, values).stages]
    assert sizes == [181, 256, 362, 512]
    assert min(task.at_size(181).height, task.at_size(181).width) >= 16
    with pytest.raises(ValueError, match="needs at least 16 pixels"):
        task.at_size(128)
    # A photo of ordinary proportions keeps every scale.
    square = StyleTask(np.full((300, 400, 3), 128, np.uint8), style_path, size=512)
    assert [s.size for s in painting.default_schedule(square, values).stages][0] == 128
