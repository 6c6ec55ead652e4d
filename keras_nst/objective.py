"""The objective: a painting's loss terms, their targets, and one scoring loop.

A `StyleTransferModel` paints to minimise the sum of its terms (`keras_nst.terms`). The
objective holds the terms and the variables of their targets (recomputed at each stage, or
assigned anew where the compiled step goes on), scores images whole or from the statistics
summed over tiles in the same loop, and names what is logged.
"""

from __future__ import annotations

from keras import ops

from keras_nst import vgg19
from keras_nst.terms import zeros


class Objective:
    """The loss terms and their target variables.

    Args:
        terms: the `LossTerm`s, summed in this order.
    """

    def __init__(self, terms):
        self.terms = list(terms)
        #: Each term's target variables (one list per term, one variable per target).
        self.targets: list[list] = []

    @property
    def layer_names(self) -> list[str]:
        """Every layer any term reads, in network order."""
        names = {name for term in self.terms for name in term.layers}
        return sorted(names, key=vgg19.layer_index)

    # === Targets ===

    def target_values(self, task, extract) -> list[list]:
        """Each term's targets for `task`, from `extract(images) -> {layer: features}`."""
        return [term.targets(task, extract) for term in self.terms]

    def fits(self, values: list[list]) -> bool:
        """Whether `values` have the shapes of the current target variables (so that they
        can be assigned to them instead of making new ones)."""
        for term_values, variables in zip(values, self.targets):
            if len(term_values) != len(variables) or any(
                tuple(ops.shape(value)) != tuple(variable.shape)
                for value, variable in zip(term_values, variables)
            ):
                return False
        return True

    def assign(self, values: list[list]) -> None:
        """Assigns `values` (as `fits`) to the target variables."""
        for term_values, variables in zip(values, self.targets):
            for value, variable in zip(term_values, variables):
                variable.assign(ops.cast(ops.convert_to_tensor(value), "float32"))

    def retarget(self, task, extract, make_variable, forget) -> None:
        """New target variables for `task`: `make_variable(value, name)` makes one,
        `forget(variable)` drops an old one from its owner."""
        for variables in self.targets:
            for variable in variables:
                forget(variable)
        self.targets = []
        for term in self.terms:
            values = term.targets(task, extract)
            names = term.target_names() or [str(i) for i in range(len(values))]
            if len(values) != len(names):
                raise ValueError(
                    f"Loss term {type(term).__name__} gave {len(values)} targets for "
                    f"{len(names)} target names."
                )
            prefix = term.key.replace("_loss", "")
            self.targets.append(
                [
                    make_variable(value, f"{prefix}_target_{name}")
                    for value, name in zip(values, names)
                ]
            )

    def target_tensors(self) -> list[list]:
        return [[ops.convert_to_tensor(t) for t in ts] for ts in self.targets]

    # === Scoring ===

    def score(self, images, targets, rows, features=None, totals=None) -> dict:
        """Each term's weighted loss of `images` (rows `rows` of the variants), its parts,
        and their sum `loss`: from `features` (the whole image's), or from `totals` (each
        term's statistics summed over tiles; terms without layers score `images` directly).
        """
        result, total = {}, zeros(rows)
        for index, (term, term_targets) in enumerate(zip(self.terms, targets)):
            if totals is not None and term.layers:
                value, parts = term.score(list(totals[index]), term_targets, rows)
            else:
                value, parts = term(features, images, term_targets, rows)
            result.update(parts)
            result[term.key] = value
            total = total + value
        result["loss"] = total
        return result

    def core_statistics(self, features, crop, bounds, origin, targets, rows) -> list:
        """Each layered term's additive statistics over one tile's core: `features` of the
        crop, `bounds` the core in the crop (top, bottom, left, right), `origin` the core's
        corner in the image (spatial targets are cropped to it)."""
        top, bottom, left, right = (bounds[i] for i in range(4))
        core = {}
        for name, value in features.items():
            stride = vgg19.stride(name)
            core[name] = value[
                :, top // stride : bottom // stride, left // stride : right // stride
            ]
        images = crop[:, top:bottom, left:right]
        statistics = []
        for term, term_targets in zip(self.terms, targets):
            if not term.layers:
                statistics.append([])
                continue
            if term.spatial:
                cropped = []
                for name, target in zip(term.layers, term_targets):
                    stride = vgg19.stride(name)
                    y, x = origin[0] // stride, origin[1] // stride
                    # The core's own shape: empty for a layer this part of the step does not
                    # compute (a step that tiles only the first layers).
                    height, width = ops.shape(core[name])[1], ops.shape(core[name])[2]
                    cropped.append(target[:, y : y + height, x : x + width])
                term_targets = cropped
            statistics.append(term.statistics(core, images, term_targets, rows))
        return statistics

    # === Logs ===

    @property
    def loss_keys(self) -> list[str]:
        """Every key `score` gives."""
        keys = ["loss"]
        for term in self.terms:
            keys += [term.key, *term.part_keys()]
        return keys

    def logs(self, per_variant: dict) -> dict:
        """What a step logs: the losses summed over variants (a term's total only where
        some variant weighs it, or it asks to be logged anyway)."""
        keys = ["loss"]
        keys += [t.key for t in self.terms if t.logged_unweighted or t.weights.any()]
        keys += [key for t in self.terms for key in t.part_keys()]
        return {key: ops.sum(per_variant[key]) for key in keys}
