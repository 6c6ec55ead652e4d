"""A schedule: the stages of one painting on one continuous step counter.

A stage paints at one size for a number of steps. Between stages the model moves to the next
stage's task (`StyleTransferModel.set_task`): the image is resized in float, the targets are
recomputed, the optimizer's state is carried over (or, where the next stage names another
optimizer, that one takes over with its state empty). All stages run inside one `fit`, so the
step axis, the callbacks, TensorBoard and checkpoints see one run; a checkpoint taken in any
stage resumes there.

TensorFlow-free (the callback that drives a model through the stages imports Keras lazily).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

from keras_nst.settings import check_optimizer_name


@dataclasses.dataclass(frozen=True)
class Stage:
    """One stage: `steps` optimisation steps with the image's longest side at `size` pixels.

    `optimizer` names the optimizer of this stage (one of `keras_nst.settings.OPTIMIZERS`,
    with its default learning rate); `None` paints with the painting's own `optimizer`.
    """

    size: int
    steps: int
    optimizer: str | None = None


class Schedule:
    """Stages painted one after the other.

    Args:
        stages: the `Stage`s, in order; sizes need not grow, steps must be positive.

    Example:

    >>> schedule = Schedule([Stage(128, 100), Stage(256, 50)])
    >>> schedule.total_steps, schedule.locate(120)
    (150, (1, 20))
    """

    def __init__(self, stages: Sequence[Stage]):
        stages = tuple(stages)
        if not stages:
            raise ValueError("`stages` must hold at least one stage. Received: stages=[]")
        for index, stage in enumerate(stages):
            if not isinstance(stage, Stage) or stage.size <= 0 or stage.steps <= 0:
                raise ValueError(
                    f"`stages[{index}]` must be a Stage of positive size and steps. "
                    f"Received: stages[{index}]={stage!r}"
                )
            if stage.optimizer is not None:
                check_optimizer_name(stage.optimizer, f"stages[{index}].optimizer")
        self.stages = stages

    @classmethod
    def single(cls, size: int, steps: int) -> Schedule:
        """One stage: the whole painting at one size."""
        return cls([Stage(size, steps)])

    @classmethod
    def coarse_to_fine(
        cls,
        size: int,
        steps: int,
        *,
        min_size: int | None = 128,
        ratio: float = 2**0.5,
        scale_steps: int | None = None,
        scale_optimizer: str | None = None,
    ) -> Schedule:
        """Scales from about `min_size` up to `size`, each `ratio` times the one before.

        The sizes are `round(size / ratio**i)` for `i = n, ..., 1, 0`, the smallest one at
        least `min_size` (so the last stage is exactly `size`, and a `size` below
        `min_size * ratio` is one stage). The final size gets `steps` steps, each smaller
        one `scale_steps` (default: `steps`), painted with `scale_optimizer` (default: the
        painting's optimizer). `min_size=None` paints at `size` only.

        Examples:
            >>> [stage.size for stage in Schedule.coarse_to_fine(512, 100).stages]
            [128, 181, 256, 362, 512]
        """
        if min_size is None or ratio <= 1:
            return cls.single(size, steps)
        count = 0
        while round(size / ratio ** (count + 1)) >= min_size:
            count += 1
        coarse = steps if scale_steps is None else scale_steps
        stages = [
            Stage(round(size / ratio**i), coarse, scale_optimizer) for i in range(count, 0, -1)
        ]
        return cls([*stages, Stage(size, steps)])

    @property
    def total_steps(self) -> int:
        return sum(stage.steps for stage in self.stages)

    @property
    def final_size(self) -> int:
        return self.stages[-1].size

    @property
    def largest_size(self) -> int:
        return max(stage.size for stage in self.stages)

    def step_costs(self) -> list[float]:
        """Each step's relative cost, for estimating the time left: its stage's pixels."""
        return [float(stage.size) ** 2 for stage in self.stages for _ in range(stage.steps)]

    def starts(self) -> list[int]:
        """The step count at the start of each stage."""
        return [0, *self.ends()[:-1]]

    def ends(self) -> list[int]:
        """The step count at the end of each stage."""
        ends, total = [], 0
        for stage in self.stages:
            total += stage.steps
            ends.append(total)
        return ends

    def locate(self, steps_done: int) -> tuple[int, int]:
        """`(stage index, steps done in it)` after `steps_done` steps in all.

        A stage that is complete hands over to the next one; after the last stage's end the
        last stage is returned (with more steps done than it has, to extend a painting).
        """
        start = 0
        for index, end in enumerate(self.ends()):
            if steps_done < end or index == len(self.stages) - 1:
                return index, steps_done - start
            start = end
        raise AssertionError("unreachable")

    def identity(self) -> dict:
        """What a resumed run must share with the checkpoint it resumes: every stage but the
        length of the last, which a resumed run may extend."""
        identity = {
            "sizes": [stage.size for stage in self.stages],
            "steps": [stage.steps for stage in self.stages[:-1]],
        }
        if any(stage.optimizer for stage in self.stages):
            identity["optimizers"] = [stage.optimizer for stage in self.stages]
        return identity

    def __repr__(self) -> str:
        stages = ", ".join(
            f"{stage.size} px x {stage.steps}"
            + (f" ({stage.optimizer})" if stage.optimizer else "")
            for stage in self.stages
        )
        return f"Schedule({stages})"


def follow(
    schedule: Schedule,
    task,
    optimizer_for: Callable | None = None,
    tile_for: Callable | None = None,
):
    """A Keras callback that moves a `StyleTransferModel` through `schedule`'s stages.

    Args:
        schedule: the stages.
        task: the full-size `StyleTask`; each stage paints `task.at_size(stage.size)`.
        optimizer_for: `optimizer_for(index)`: the optimizer that takes over at the start of
            stage `index`, or `None` to carry the current one over (see
            `keras_nst.painting.stage_optimizer`). By default it is always carried over.
        tile_for: `tile_for(index)`: the model's `tile` in stage `index` (0: whole; see
            `keras_nst.painting.stage_tiles`). By default the model's stays.

    With several stages, the callback also logs `size` (the stage's longest side) with every
    step's losses, so the progress bar and TensorBoard show which stage a step belongs to.
    """
    several = len(schedule.stages) > 1
    import keras
    from keras import ops

    class FollowSchedule(keras.callbacks.Callback):
        def _steps_done(self) -> int:
            return int(ops.convert_to_numpy(self.model.optimizer.iterations))

        def on_train_begin(self, logs=None):
            # The model was built for the stage a run starts (or resumes) in.
            self.index = schedule.locate(self._steps_done())[0]
            size = schedule.stages[self.index].size
            if self.model.task.size != size:
                self.model.set_task(task.at_size(size), tile=self._tile(self.index))

        def _tile(self, index):
            return tile_for(index) if tile_for is not None else None

        def on_train_batch_end(self, batch, logs=None):
            done = self._steps_done()
            index, _ = schedule.locate(done)
            if several and logs is not None:
                logs["size"] = float(self.model.task.size)
            if index == self.index:
                return
            self.index = index
            optimizer = optimizer_for(index) if optimizer_for is not None else None
            size = schedule.stages[index].size
            if self.model.task.size != size or optimizer is not None:
                self.model.set_task(task.at_size(size), optimizer=optimizer, tile=self._tile(index))

    return FollowSchedule()
