"""Distribution: MirroredStrategy on two logical CPUs and two workers on 127.0.0.1 paint the
same images as one device (variants are split across replicas)."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import read_events, tensor_value

pytestmark = pytest.mark.slow  # subprocesses: make test runs them, make test-fast skips them

SCRIPT = Path(__file__).resolve().parent / "distributed_script.py"
REPO = SCRIPT.parent.parent


def _env(**extra):
    env = {**os.environ, "PYTHONPATH": str(REPO), **extra}
    env.pop("TF_CONFIG", None)
    env.update(extra)
    return env


def _paint(mode, optimizer, num_variants, tmp_path, env=None):
    output = tmp_path / f"{mode}.npz"
    result = subprocess.run(
        [sys.executable, str(SCRIPT), mode, optimizer, str(num_variants), str(output)],
        env=env or _env(),
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1]), np.load(output)


CASES = [("adam", 3), ("lbfgs", 3), ("adam", 1)]


def test_mirrored_matches_one_device(tmp_path):
    optimizers = ",".join(o for o, _ in CASES)
    counts = ",".join(str(n) for _, n in CASES)
    results, images = _paint("compare", optimizers, counts, tmp_path)
    for optimizer, num_variants in CASES:
        case = f"{optimizer}-{num_variants}"
        single, mirrored = results[f"single-{case}"], results[f"mirrored-{case}"]
        assert single["replicas"] == 1 and mirrored["replicas"] == 2
        # Each replica paints its own variants (one variant: the second replica idles), and
        # the result is the same float32 image, bit for bit, as one device painting them all.
        np.testing.assert_array_equal(images[f"mirrored-{case}"], images[f"single-{case}"])
        # Logged losses are sums over replicas, added in another order: equal to round-off.
        np.testing.assert_allclose(mirrored["loss"], single["loss"], rtol=1e-5)
        np.testing.assert_allclose(mirrored["variant_loss"], single["variant_loss"], rtol=1e-5)
        # StyleTensorBoard logged the same curve and images under the strategy.
        events = read_events(tmp_path / f"logs-mirrored-{case}")
        losses = [float(tensor_value(e)) for e in events.Tensors("loss")]
        assert [e.step for e in events.Tensors("loss")] == [1, 2, 3, 4, 5, 6]
        np.testing.assert_allclose([losses[2], losses[5]], mirrored["loss"], rtol=1e-6)
        assert [e.step for e in events.Tensors("image")] == [3, 6]


def test_a_schedule_with_a_handover_paints_the_same_under_mirrored(tmp_path):
    """Coarse to fine through `stylize` under MirroredStrategy: the canvas grows, the targets
    are recomputed and Adam takes over from L-BFGS inside one fit, as on one device."""
    results, images = _paint("schedule", "adam", "3", tmp_path)
    single, mirrored = results["single-adam-3"], results["mirrored-adam-3"]
    assert mirrored["replicas"] == 2 and single["steps"] == mirrored["steps"] == 6
    assert single["optimizer"] == mirrored["optimizer"] == "RestartedAdam"
    assert images["mirrored-adam-3"].shape == (3, 24, 32, 3)
    np.testing.assert_array_equal(images["mirrored-adam-3"], images["single-adam-3"])
    np.testing.assert_allclose(mirrored["loss"], single["loss"], rtol=1e-5)
    events = read_events(tmp_path / "logs-mirrored-adam-3")
    assert [float(tensor_value(e)) for e in events.Tensors("size")] == [24.0] * 3 + [32.0] * 3


def test_a_clip_paints_the_same_under_mirrored(tmp_path):
    """Frame after frame under MirroredStrategy (each later frame assigns the targets, image,
    average and Adam's moments in place for the compiled step): what one device paints."""
    results, frames = _paint("video", "adam", 1, tmp_path)
    single, mirrored = results["single-adam-1"], results["mirrored-adam-1"]
    assert mirrored["replicas"] == 2 and frames["mirrored-adam-1"].shape[0] == 3
    assert single["losses"][2]["temporal_loss"] > 0
    np.testing.assert_array_equal(frames["mirrored-adam-1"], frames["single-adam-1"])
    for one, two in zip(single["losses"], mirrored["losses"], strict=True):
        assert one.keys() == two.keys()
        np.testing.assert_allclose([two[k] for k in one], [one[k] for k in one], rtol=1e-5)


def test_replicas_share_the_tiles_of_one_large_image(tmp_path):
    """A tiled painting under MirroredStrategy: each replica takes every other tile of the
    image (one image gets both replicas' work), and they paint what one device paints."""
    results, images = _paint("tiled", "adam", "1", tmp_path)
    for num_variants in (1,):
        single, mirrored = (
            results[f"single-adam-{num_variants}"],
            results[f"mirrored-adam-{num_variants}"],
        )
        tiles = single["tiles"]
        assert tiles > 2 and mirrored["tiles"] == tiles
        # 6 steps of two passes each (and the last variant_losses' one): one device went through
        # every tile (the last one once per step: its forward pass serves both), each replica
        # through half of them.
        assert single["tiles_seen"] == {"0": 6 * (2 * tiles - 1) + tiles}
        assert mirrored["tiles_seen"] == {
            "0": 6 * 2 * -(-tiles // 2) + tiles,
            "1": 6 * 2 * (tiles // 2),
        }
        # The tiles' statistics are summed in another order: equal to float rounding, which
        # Adam's division by small gradients magnifies in a few pixels (as tiled vs untiled).
        a, b = images[f"mirrored-adam-{num_variants}"], images[f"single-adam-{num_variants}"]
        np.testing.assert_allclose(a, b, atol=0.5)
        assert np.mean(np.abs(a - b)) < 1e-3
        np.testing.assert_allclose(mirrored["loss"], single["loss"], rtol=1e-4)
        np.testing.assert_allclose(mirrored["variant_loss"], single["variant_loss"], rtol=1e-4)


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_multi_worker_matches_one_device(tmp_path):
    results, images = _paint("compare", "adam", 3, tmp_path)
    single, single_image = results["single-adam-3"], images["single-adam-3"]
    cluster = {"worker": [f"127.0.0.1:{_free_port()}", f"127.0.0.1:{_free_port()}"]}
    workers = []
    for index in range(2):
        config = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
        output = tmp_path / f"worker{index}.npz"
        workers.append(
            (
                subprocess.Popen(
                    [sys.executable, str(SCRIPT), "multiworker", "adam", "3", str(output)],
                    env=_env(TF_CONFIG=config),
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                ),
                output,
            )
        )
    try:
        outs = [process.communicate(timeout=240) for process, _ in workers]
    finally:
        for process, _ in workers:
            process.kill()
    for (process, output), (stdout, stderr) in zip(workers, outs):
        assert process.returncode == 0, stderr[-3000:]
        result = json.loads(stdout.strip().splitlines()[-1])["multiworker-adam-3"]
        assert result["replicas"] == 2
        np.testing.assert_array_equal(np.load(output)["multiworker-adam-3"], single_image)
        np.testing.assert_allclose(result["loss"], single["loss"], rtol=1e-5)


def test_a_step_knows_how_many_rows_it_paints_when_traced():
    # A batch size TensorFlow cannot see made the untiled step hold a quarter more memory.
    import tensorflow as tf

    from keras_nst import distribute

    def traced(num_rows, num_replicas, dealt):
        function = tf.function(lambda data: distribute.local_rows(data, num_rows, num_replicas))
        spec = tf.TensorSpec((dealt,), tf.int32)
        return function.get_concrete_function(spec).structured_outputs.shape.as_list(), function

    shape, _ = traced(3, 1, 3)
    assert shape == [3]
    # Replica 0 of 2 was dealt rows 0 and 2 of 3; replica 1 would get 1 and the padding.
    shape, function = traced(3, 2, 2)
    assert shape == [2]
    np.testing.assert_array_equal(function(tf.constant([0, 2])), [0, 2])
    shape, function = traced(1, 2, 1)
    assert shape == [1]
