"""Schedules: stages on one step counter (no TensorFlow needed)."""

import pytest

from keras_nst.schedule import Schedule, Stage


def test_stages_share_one_step_counter():
    schedule = Schedule([Stage(64, 10), Stage(90, 5), Stage(128, 20)])
    assert schedule.total_steps == 35 and schedule.ends() == [10, 15, 35]
    assert schedule.final_size == 128 and schedule.largest_size == 128
    assert [schedule.locate(n) for n in (0, 9, 10, 14, 15, 34)] == [
        (0, 0), (0, 9), (1, 0), (1, 4), (2, 0), (2, 19)]
    # Past the end the last stage goes on (a resumed run may extend it).
    assert schedule.locate(50) == (2, 35)


def test_identity_lets_the_last_stage_grow():
    first = Schedule([Stage(64, 10), Stage(128, 20)])
    longer = Schedule([Stage(64, 10), Stage(128, 40)])
    other = Schedule([Stage(64, 12), Stage(128, 20)])
    assert first.identity() == longer.identity() != other.identity()
    assert Schedule.single(256, 100).identity() == {"sizes": [256], "steps": []}


@pytest.mark.parametrize("stages, message", [
    ([], r"`stages` must hold at least one stage"),
    ([Stage(64, 0)], r"`stages\[0\]` must be a Stage of positive size and steps"),
    ([Stage(64, 5), (128, 5)], r"`stages\[1\]` must be a Stage"),
])
def test_bad_stages(stages, message):
    with pytest.raises(ValueError, match=message):
        Schedule(stages)
