"""Turns pytest-benchmark's JSON into a Markdown summary and loss plots.

    python benchmarks/report.py benchmarks/results/benchmark.json [MORE.json ...]

Writes `summary.md`, `loss_vs_step.png` and `loss_vs_seconds.png` beside the JSON.
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path


def _by_kind(benchmarks):
    kinds = defaultdict(list)
    for bench in benchmarks:
        kinds[bench["extra_info"].get("kind", "other")].append(bench)
    return kinds


def _ms_per_step(bench) -> float:
    return 1000 * bench["stats"]["median"] / bench["extra_info"]["steps"]


def step_table(kinds) -> list[str]:
    if not kinds["step"]:
        return []
    baseline = {b["extra_info"]["size"]: _ms_per_step(b) for b in kinds["baseline"]}
    matmul = {
        b["extra_info"]["dtype"]: b["extra_info"]["gflop"] / b["stats"]["median"]
        for b in kinds["matmul"]
    }
    rows = [
        "| optimizer | pooling | size | precision | ms/step | GFLOP/s | baseline ms/step | baseline / ours |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for b in sorted(
        kinds["step"],
        key=lambda b: (
            b["extra_info"]["size"],
            b["extra_info"]["optimizer"],
            b["extra_info"]["pooling"],
        ),
    ):
        info = b["extra_info"]
        ms = _ms_per_step(b)
        gflops = info["gflop_per_step"] / (ms / 1000)
        base = baseline.get(info["size"])
        ratio = (
            f"{base / ms:.2f}x"
            if base and info["optimizer"] == "adam" and info["pooling"] == "avg"
            else ""
        )
        rows.append(
            f"| {info['optimizer']} | {info['pooling']} | {info['size']} | {info['precision']} | "
            f"{ms:.1f} | {gflops:.0f} | {base:.1f} | {ratio} |"
            if base
            else f"| {info['optimizer']} | {info['pooling']} | {info['size']} | {info['precision']} | {ms:.1f} | {gflops:.0f} | | |"
        )
    lines = ["## Step time (median, through `fit`)", "", *rows, ""]
    if matmul:
        peaks = ", ".join(
            f"{dtype}: {value:.0f} GFLOP/s" for dtype, value in sorted(matmul.items())
        )
        lines += [f"Practical peak, a large matmul timed in the same run: {peaks}.", ""]
    lines += [
        "The baseline recomputes content features and style Grams inside every step "
        "(content, style and image as one batch of 3), as the keras.io example does.",
        "",
    ]
    return lines


def weights_step_table(kinds) -> list[str]:
    if not kinds["step_weights"]:
        return []
    rows = {}
    for b in kinds["step_weights"]:
        rows.setdefault(b["extra_info"]["size"], {})[b["extra_info"]["weights"]] = _ms_per_step(b)
    lines = [
        "## Step time by weights (Adam, avg pooling, median through `fit`)",
        "",
        "| size | random VGG-19 ms/step | pretrained VGG-16 (vgg16-hed) ms/step | ratio |",
        "|---|---|---|---|",
    ]
    for size, found in sorted(rows.items()):
        random, pretrained = found.get("random"), found.get("vgg16-hed")
        ratio = f"{pretrained / random:.2f}" if random and pretrained else ""
        lines.append(f"| {size} | {random or 0:.1f} | {pretrained or 0:.1f} | {ratio} |")
    return lines + [
        "",
        "The pretrained features skip VGG-19's three extra convolutions (identities).",
        "",
    ]


def precision_table(kinds) -> list[str]:
    lines = []
    for b in kinds["precision"]:
        info = b["extra_info"]
        lines += [
            f"## float32 against mixed_bfloat16 ({info['size']} px, {info['steps']} Adam steps)",
            "",
            "| precision | ms/step | final loss (own) | final loss judged in float32 |",
            "|---|---|---|---|",
        ]
        for name, r in info["results"].items():
            lines.append(
                f"| {name} | {r['ms_per_step']:.1f} | {r['own_loss']:.4g} | {r['float32_loss']:.4g} |"
            )
        lines.append("")
    return lines


def memory_table(kinds) -> list[str]:
    if not kinds["memory"]:
        return []
    lines = [
        "## Peak memory of a painting process (Adam, avg pooling)",
        "",
        "| size | peak RSS (MB) |",
        "|---|---|",
    ]
    for b in sorted(kinds["memory"], key=lambda b: b["extra_info"]["size"]):
        lines.append(f"| {b['extra_info']['size']} | {b['extra_info']['peak_rss_mb']:.0f} |")
    return lines + [""]


def convergence_table(kinds) -> list[str]:
    if not kinds["convergence"]:
        return []
    first = kinds["convergence"][0]["extra_info"]
    lines = [
        f"## Convergence ({first['size']} px, {first['steps']} steps, random VGG-19 weights)",
        "",
        "| optimizer | pooling | final loss | seconds |",
        "|---|---|---|---|",
    ]
    for b in sorted(
        kinds["convergence"],
        key=lambda b: (b["extra_info"]["pooling"], b["extra_info"]["final_loss"]),
    ):
        info = b["extra_info"]
        lines.append(
            f"| {info['optimizer']} | {info['pooling']} | {info['final_loss']:.4g} | {info['curve'][-1][0]:.1f} |"
        )
    lines += [
        "",
        "Each pooling has its own loss (different features), so compare optimizers within a pooling.",
        "",
    ]
    return lines


def tiles_table(kinds) -> list[str]:
    if not kinds["tiles"]:
        return []
    lines = [
        "## Tiled against untiled steps (peak memory of the process, time per step)",
        "",
        "| size | tiled | cap (GiB) | peak RSS (GiB) | s/step | untiled s/step | tiled / untiled |",
        "|---|---|---|---|---|---|---|",
    ]
    rows = sorted(kinds["tiles"], key=lambda b: (b["extra_info"]["size"], b["extra_info"]["tiles"]))
    untiled = {
        b["extra_info"]["size"]: b["extra_info"]["seconds_per_step"]
        for b in rows
        if b["extra_info"]["tiles"] == 1
    }
    for b in rows:
        info = b["extra_info"]
        base = untiled.get(info["size"])
        ratio = f"{info['seconds_per_step'] / base:.2f}x" if base and info["tiles"] > 1 else ""
        cap = f"{info['cap_gib']:g}" if info.get("cap_gib") else ""
        base_text = f"{base:.2f}" if base else ""
        lines.append(
            f"| {info['size']} | {_how_tiled(info)} | {cap} | {info['peak_rss_gib']:.2f} | "
            f"{info['seconds_per_step']:.2f} | {base_text} | {ratio} |"
        )
    notes = [
        f"- {b['extra_info']['size']} px: {b['extra_info']['note']}."
        for b in rows
        if b["extra_info"].get("note")
    ]
    return lines + [""] + (notes + [""] if notes else [])


def _how_tiled(info) -> str:
    """How a tiles benchmark's step was tiled, in words."""
    if info.get("split"):
        cut, crops = info["split"]
        return f"through {cut} in {crops} crop{'s' if crops > 1 else ''}, the rest whole"
    if info["tiles"] == 1:
        return "no"
    cut, count = info.get("kept") or (None, 0)
    kept = f", {count} keep after {cut}" if count else ""
    return f"every layer, {info['tiles']} tiles{kept}"


def _scores(r: dict) -> str:
    pretrained = " | ".join(f"{r[k]:.4f}" if k in r else "" for k in ("p_gram", "p_swd", "edges"))
    return (
        f"{r['gram']:.4f} | {r['swd']:.3f} | {r['content']:.3f} | {r['noise']:.2f} | {pretrained}"
    )


_SCORE_HEADER = "Gram | SWD | content | noise | pretrained Gram | pretrained SWD | edges"


def quality_table(kinds) -> list[str]:
    """Equal wall time: each painter's picture as the judge scores it, per weights and pair."""
    if not kinds["quality"]:
        return []
    first = kinds["quality"][0]["extra_info"]
    lines = [
        f"## Pictures at equal wall time ({first['size']} px, {first['seconds']:.0f} s each)",
        "",
        "Every painter optimises the weights named. Judged by a seeded random VGG-19 that no painter "
        "optimised (`benchmarks/judge.py`): Gram and sliced-Wasserstein distances to the style "
        "image, content distance to the photo, noise (high-frequency energy over the photo's); "
        "and, with the pretrained VGG-16, the same style distances at the layers no painter "
        "optimises and the HED edge map's distance to the photo's (lower is better but noise).",
        "",
        f"| weights | pair | painter | steps (per scale) | seconds | {_SCORE_HEADER} |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for b in sorted(
        kinds["quality"],
        key=lambda b: (b["extra_info"].get("weights", "random"), b["extra_info"]["pair"]),
    ):
        info = b["extra_info"]
        for name, r in info["results"].items():
            lines.append(
                f"| {info.get('weights', 'random')} | {info['pair']} | {name} | {'/'.join(map(str, r['steps']))} | "
                f"{r['seconds']:.0f} | {_scores(r)} |"
            )
    lines += ["", "Side-by-side sheets: `quality/<weights>/<pair>.png`.", ""]
    return lines


def time_to_quality_table(kinds) -> list[str]:
    lines = []
    for b in kinds["time_to_quality"]:
        info = b["extra_info"]
        reached, goal_seconds = info["reached_seconds"], info["goal_seconds"]
        keys = ", ".join(info["goal_keys"])
        lines += [
            f"## Time to quality ({info['size']} px, float32, {info['weights']} weights, {info['pair']})",
            "",
            f"crowsonkb's recipe paints for {goal_seconds:.0f} s; its picture's distances ({keys}) are "
            "the goal. keras-nst (the `w2` preset, L-BFGS at every scale) reaches all of them "
            + (
                f"after {reached:.0f} s: {goal_seconds / reached:.1f}x faster."
                if reached is not None
                else "not within its run."
            ),
            "",
            f"| painter | seconds | steps | {_SCORE_HEADER} |",
            "|---|---|---|---|---|---|---|---|---|---|",
            f"| crowsonkb | {info['recipe']['seconds']:.0f} | {'/'.join(map(str, info['recipe']['steps']))} | {_scores(info['recipe'])} |",
            f"| tutorial | {info['tutorial']['seconds']:.0f} | {'/'.join(map(str, info['tutorial']['steps']))} | {_scores(info['tutorial'])} |",
        ]
        for seconds, step, scores in info["ours"]:
            lines.append(
                f"| keras-nst w2, L-BFGS | {seconds:.0f} | {step} of the last scale | {_scores(scores)} |"
            )
        lines.append("")
    return lines


def video_table(kinds) -> list[str]:
    lines = []
    for b in kinds["video"]:
        info = b["extra_info"]
        lines += [
            f"## Video: flicker ({info['frames']} frames of the shipped clip at {info['size']} px)",
            "",
            f"keras-nst: first frame {info['steps']} steps, each next one {info['frame_steps']} from the "
            f"previous painted frame warped along the flow, with the temporal loss. Independent: each "
            f"frame {info['steps']} steps from its photo. Flicker: mean absolute change between "
            "consecutive painted frames where the input is static (levels of 255); distances as the "
            "judge above, averaged over the frames.",
            "",
            "| painting | seconds | flicker | Gram | SWD | content | noise |",
            "|---|---|---|---|---|---|---|",
        ]
        for name, scores in info["scores"].items():
            lines.append(
                f"| {name} | {info['seconds'][name]:.0f} | {scores['flicker']:.2f} | {scores['gram']:.4f} | "
                f"{scores['swd']:.3f} | {scores['content']:.3f} | {scores['noise']:.2f} |"
            )
        lines += [
            "",
            f"Flicker ratio (keras-nst / independent): {info['flicker_ratio']:.2f}. "
            "Clips: `video/clip_side_by_side.gif` (input, independent, keras-nst).",
            "",
        ]
    return lines


def plots(kinds, directory: Path) -> list[str]:
    if not kinds["convergence"] and not kinds["tiles"]:
        return []
    try:
        import matplotlib
    except ImportError:
        print("matplotlib is not installed (pip install keras-nst[bench]): no plots written")
        return []

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    if kinds["convergence"]:
        written += _convergence_plots(plt, kinds["convergence"], directory)
    if kinds["tiles"]:
        written += _tiles_plot(plt, kinds["tiles"], directory)
    return written


def _convergence_plots(plt, benchmarks, directory: Path) -> list[str]:
    written = []
    for axis, filename, label in (
        (None, "loss_vs_step.png", "step"),
        (0, "loss_vs_seconds.png", "seconds"),
    ):
        figure, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=False)
        for ax, pooling in zip(axes, ("avg", "max")):
            for b in benchmarks:
                info = b["extra_info"]
                if info["pooling"] != pooling:
                    continue
                curve = info["curve"]
                xs = [row[0] for row in curve] if axis == 0 else list(range(1, len(curve) + 1))
                ax.plot(xs, [row[1] for row in curve], label=info["optimizer"])
            ax.set_yscale("log")
            ax.set_xlabel(label)
            ax.set_ylabel("total loss")
            ax.set_title(f"{pooling} pooling")
            ax.legend()
        figure.tight_layout()
        figure.savefig(directory / filename, dpi=90)
        plt.close(figure)
        written.append(filename)
    return written


def _tiles_plot(plt, benchmarks, directory: Path) -> list[str]:
    """Peak memory and seconds per step against size, tiled and untiled."""
    figure, axes = plt.subplots(1, 2, figsize=(11, 4))

    def kind(info):
        return (
            "untiled"
            if info["tiles"] == 1
            else "first layers tiled"
            if info.get("split")
            else "every layer tiled"
        )

    for label, style in (
        ("untiled", "o-"),
        ("first layers tiled", "s--"),
        ("every layer tiled", "^:"),
    ):
        rows = sorted(
            (b["extra_info"] for b in benchmarks if kind(b["extra_info"]) == label),
            key=lambda info: info["size"],
        )
        if not rows:
            continue
        sizes = [info["size"] for info in rows]
        tiled = label != "untiled"
        axes[0].plot(sizes, [info["peak_rss_gib"] for info in rows], style, label=label)
        axes[1].plot(sizes, [info["seconds_per_step"] for info in rows], style, label=label)
        if tiled:
            for info in rows:
                if info.get("cap_gib"):
                    axes[0].annotate(
                        f"cap {info['cap_gib']:g}",
                        (info["size"], info["peak_rss_gib"]),
                        textcoords="offset points",
                        xytext=(4, -10),
                        fontsize=8,
                    )
    for ax, label in zip(axes, ("peak RSS (GiB)", "seconds per step")):
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("longest side (px)")
        ax.set_ylabel(label)
        ax.legend()
    figure.tight_layout()
    figure.savefig(directory / "tiles.png", dpi=90)
    plt.close(figure)
    return ["tiles.png"]


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    paths = [Path(arg) for arg in argv] or [Path("benchmarks/results/benchmark.json")]
    path = paths[0]
    data = json.loads(path.read_text())
    # Later files (e.g. a re-run of one suite) replace earlier results of the same test.
    merged = {bench["fullname"]: bench for bench in data["benchmarks"]}
    for extra in paths[1:]:
        merged.update({b["fullname"]: b for b in json.loads(extra.read_text())["benchmarks"]})
    kinds = _by_kind(list(merged.values()))
    machine = data.get("machine_info", {})
    flags = [
        f
        for f in machine.get("cpu", {}).get("flags", [])
        if f.startswith(("avx512", "amx", "avx2", "fma"))
    ]
    header = [
        "# keras-nst benchmarks",
        "",
        f"Machine: {machine.get('cpu', {}).get('brand_raw', 'unknown CPU')}, "
        f"{machine.get('cpu', {}).get('count', '?')} cores; Python {machine.get('python_version', '?')}. "
        f"Run: {data.get('datetime', '')[:19]}.",
        "",
        f"CPU flags: {', '.join(sorted(flags)) or 'unknown'} (mixed_bfloat16 beats "
        "float32 on CPUs with amx_bf16; with avx512_bf16 alone it was slower; compare timings "
        "within one run).",
        "",
    ]
    written = plots(kinds, path.parent)
    lines = (
        header
        + step_table(kinds)
        + weights_step_table(kinds)
        + precision_table(kinds)
        + memory_table(kinds)
        + convergence_table(kinds)
    )
    lines += (
        quality_table(kinds)
        + time_to_quality_table(kinds)
        + tiles_table(kinds)
        + video_table(kinds)
    )
    lines += [f"![{name}]({name})" for name in written]
    (path.parent / "summary.md").write_text("\n".join(lines) + "\n")
    print(f"Wrote {path.parent / 'summary.md'}" + "".join(f", {path.parent / n}" for n in written))
    return 0


if __name__ == "__main__":
    sys.exit(main())
