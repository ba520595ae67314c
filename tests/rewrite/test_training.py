"""The shared training loop: digits data, user data specs, determinism, cached trained seeds."""

from __future__ import annotations

import textwrap
import time
from pathlib import Path

import pytest
import torch
from torch import nn

from modelprof.errors import ModelLoadError, ModelprofError, ShapeError
from modelprof.frontends import zoo
from modelprof.rewrite import training

pytest.importorskip("sklearn")  # digits come from scikit-learn (the prune extra)


@pytest.fixture(scope="module")
def digits28() -> training.DataSplit:
    return training.load_digits_split((1, 1, 28, 28))


def _tiny_model() -> nn.Module:
    """A linear classifier on 8x8 digits: trains in milliseconds."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(1)
        return nn.Sequential(nn.Flatten(), nn.Linear(64, 10))


# -- digits ----------------------------------------------------------------------------------


def test_digits_split_sizes_and_stratification(digits28: training.DataSplit) -> None:
    d = digits28
    # 1,797 samples; test_size=0.2 -> ceil(359.4) = 360 test, 1,437 train.
    assert len(d.y_train) == 1437
    assert len(d.y_test) == 360
    assert d.num_classes == 10
    # Stratified: every class's test share is its overall share, within one sample.
    train_counts = torch.bincount(d.y_train, minlength=10)
    test_counts = torch.bincount(d.y_test, minlength=10)
    totals = train_counts + test_counts
    assert int(totals.sum()) == 1797
    assert torch.all((test_counts - totals * 0.2).abs() <= 1)
    assert d.y_train.dtype == torch.int64


def test_digits_upsampled_and_normalised(digits28: training.DataSplit) -> None:
    d = digits28
    assert tuple(d.x_train.shape) == (1437, 1, 28, 28)
    assert tuple(d.x_test.shape) == (360, 1, 28, 28)
    assert d.input_shape == (1, 28, 28)
    assert d.x_train.dtype == torch.float32
    # Normalised with the train split's own statistics.
    assert abs(float(d.x_train.mean())) < 1e-4
    assert float(d.x_train.std()) == pytest.approx(1.0, abs=1e-4)
    # Raw pixels are in [0, 1]; the stored statistics undo the normalisation.
    raw = d.x_train * d.std + d.mean
    assert float(raw.min()) >= -1e-5
    assert float(raw.max()) <= 1 + 1e-5


def test_digits_channels_and_native_size() -> None:
    rgb = training.load_digits_split((3, 32, 32))  # batch dimension optional
    assert tuple(rgb.x_train.shape) == (1437, 3, 32, 32)
    assert torch.equal(rgb.x_train[:, 0], rgb.x_train[:, 2])  # gray repeated
    native = training.load_digits_split((1, 1, 8, 8))
    assert tuple(native.x_test.shape) == (360, 1, 8, 8)
    with pytest.raises(ShapeError, match="image input"):
        training.load_digits_split((1, 128))


# -- training --------------------------------------------------------------------------------


def test_same_seed_gives_identical_weights() -> None:
    data = training.load_digits_split((1, 1, 8, 8))
    threads = torch.get_num_threads()
    deterministic_before = torch.are_deterministic_algorithms_enabled()
    runs = []
    for seed in (7, 7, 8):
        model = _tiny_model()
        result = training.train(model, data, epochs=2, lr=0.01, batch_size=32, seed=seed)
        runs.append((result, model.state_dict()))
    (r1, s1), (r2, s2), (_, s3) = runs
    assert s1.keys() == s2.keys()
    assert all(torch.equal(s1[k], s2[k]) for k in s1)
    assert r1 == r2  # histories equal (timing is not compared)
    assert not all(torch.equal(s1[k], s3[k]) for k in s1)  # the seed matters
    # Global settings are restored.
    assert torch.get_num_threads() == threads
    assert torch.are_deterministic_algorithms_enabled() == deterministic_before


def test_weights_do_not_depend_on_the_callers_thread_count(
    digits28: training.DataSplit,
) -> None:
    # With two intra-op threads the float reductions split differently (weights then differ
    # in the last bit); train() pins one thread by default, so the caller's setting is moot.
    threads = torch.get_num_threads()
    states = []
    try:
        for caller_threads in (2, 1):
            torch.set_num_threads(caller_threads)
            model = zoo.get("seed-cnn").build()
            training.train(model, digits28, epochs=1, seed=3)
            states.append(model.state_dict())
    finally:
        torch.set_num_threads(threads)
    assert all(torch.equal(states[0][k], states[1][k]) for k in states[0])


def test_same_seed_identical_with_sgd_and_callback() -> None:
    data = training.load_digits_split((1, 8, 8))
    seen: list[training.EpochStats] = []
    states = []
    for _ in range(2):
        model = _tiny_model()
        result = training.train(
            model,
            data,
            epochs=3,
            lr=0.05,
            batch_size=64,
            seed=0,
            optimizer="sgd",
            weight_decay=1e-4,
            progress=seen.append,
        )
        states.append(model.state_dict())
    assert all(torch.equal(states[0][k], states[1][k]) for k in states[0])
    assert [s.epoch for s in seen] == [1, 2, 3, 1, 2, 3]
    assert result.epochs == 3
    assert len(result.loss_history) == len(result.test_accuracy_history) == 3
    assert result.final_loss == result.loss_history[-1]
    assert result.test_accuracy == seen[-1].test_accuracy
    assert 0.8 < result.test_accuracy <= 1.0  # a linear model on 8x8 digits learns fast
    assert result.test_accuracy == training.evaluate(model, data)


def test_train_leaves_caller_rng_untouched() -> None:
    data = training.load_digits_split((1, 8, 8))
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    training.train(_tiny_model(), data, epochs=1)
    assert torch.equal(torch.rand(3), expected)


def test_train_argument_errors() -> None:
    data = training.load_digits_split((1, 8, 8))
    with pytest.raises(ModelprofError, match="unknown optimizer 'rmsprop'"):
        training.train(_tiny_model(), data, optimizer="rmsprop")  # type: ignore[arg-type]
    with pytest.raises(ModelprofError, match="learning rate"):
        training.train(_tiny_model(), data, lr=0)
    five_classes = nn.Sequential(nn.Flatten(), nn.Linear(64, 5))
    with pytest.raises(ModelprofError, match="scores 5 classes"):
        training.train(five_classes, data, epochs=1)


def test_trained_seed_cnn_accuracy_and_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODELPROF_CACHE", str(tmp_path))
    epochs: list[int] = []
    start = time.perf_counter()
    model = training.trained_seed("seed-cnn", progress=lambda s: epochs.append(s.epoch))
    first_s = time.perf_counter() - start
    assert epochs == list(range(1, training.SEED_RECIPE.epochs + 1))
    assert not model.training

    data = training.load_digits_split(zoo.get("seed-cnn").input_shapes["input"])
    accuracy = training.evaluate(model, data)
    assert accuracy >= 0.94

    cached = list(tmp_path.glob("seed-cnn-*.pt"))
    assert cached == [training.seed_cache_path("seed-cnn")]
    assert not list(tmp_path.glob("*.tmp"))  # the temporary file was renamed away

    start = time.perf_counter()
    again = training.trained_seed("seed-cnn", progress=lambda s: epochs.append(-1))
    second_s = time.perf_counter() - start
    assert -1 not in epochs  # loaded, not trained
    assert second_s < first_s
    state, state_again = model.state_dict(), again.state_dict()
    assert all(torch.equal(state[k], state_again[k]) for k in state)
    assert training.evaluate(again, data) == accuracy


def test_trained_seed_retrains_on_corrupt_cache(tmp_path: Path) -> None:
    path = training.seed_cache_path("seed-cnn", cache_dir=tmp_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"not a checkpoint")
    # A recipe change moves the file: the hash is part of the name.
    changed = training.Recipe(**{**training.SEED_RECIPE.__dict__, "epochs": 1})
    assert training.seed_cache_path("seed-cnn", cache_dir=tmp_path, recipe=changed) != path
    calls: list[int] = []
    training.trained_seed("seed-cnn", cache_dir=tmp_path, progress=lambda s: calls.append(1))
    assert calls  # the corrupt file was not used
    assert torch.load(path, weights_only=True).keys() >= {"conv1.weight", "fc2.weight"}


def test_trained_seed_unknown_name(tmp_path: Path) -> None:
    with pytest.raises(ModelprofError, match="trained seeds are seed-cnn, seed-separable"):
        training.trained_seed("resnet18", cache_dir=tmp_path)


def test_default_cache_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MODELPROF_CACHE", str(tmp_path / "explicit"))
    assert training.default_cache_dir() == tmp_path / "explicit"
    monkeypatch.delenv("MODELPROF_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert training.default_cache_dir() == tmp_path / "xdg" / "modelprof"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert training.default_cache_dir() == tmp_path / "home" / ".cache" / "modelprof"


# -- user data specs -------------------------------------------------------------------------


def _write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "mydata.py"
    path.write_text(textwrap.dedent(body))
    return path


_LOADERS = """
    import torch

    def _batches(n, seed):
        g = torch.Generator().manual_seed(seed)
        y = torch.randint(0, 2, (n,), generator=g)
        # Learnable: class 1 images are brighter on average.
        x = torch.randn(n, 1, 8, 8, generator=g) + 2.0 * y.view(n, 1, 1, 1)
        return [(x[i : i + 16], y[i : i + 16]) for i in range(0, n, 16)]

    def loaders():
        return _batches(320, 0), _batches(64, 1)

    def generator_loaders():
        return (b for b in _batches(16, 0)), _batches(16, 1)

    def one_thing():
        return _batches(16, 0)

    def bad_batches():
        return [torch.zeros(4, 1, 8, 8)], _batches(16, 1)

    def float_labels():
        return [(torch.zeros(4, 1, 8, 8), torch.zeros(4))], _batches(16, 1)

    def raises():
        raise RuntimeError("disk on fire")

    NOT_CALLABLE = 3
"""


def test_user_data_happy_path(tmp_path: Path) -> None:
    path = _write(tmp_path, _LOADERS)
    data = training.load_user_data(f"{path}:loaders", (1, 1, 8, 8))
    assert isinstance(data, training.UserData)
    assert isinstance(training.load_data(f"{path}:loaders", (1, 1, 8, 8)), training.UserData)
    model = _tiny_model()
    before = training.evaluate(model, data)
    result = training.train(model, data, epochs=5, lr=0.01, seed=0, optimizer="sgd")
    assert result.test_accuracy == training.evaluate(model, data)
    assert result.test_accuracy > max(before, 0.9)


@pytest.mark.parametrize(
    ("attr", "message"),
    [
        ("generator_loaders", "can be walked only once"),
        ("one_thing", r"returned list; expected a \(train, test\) pair"),
        ("bad_batches", r"each batch must be an \(x, y\) pair"),
        ("float_labels", "labels y must be integer class indices"),
        ("raises", "calling .* failed: RuntimeError: disk on fire"),
        ("NOT_CALLABLE", "is a int, not a function"),
        ("missing", "has no 'missing'"),
    ],
)
def test_user_data_errors(tmp_path: Path, attr: str, message: str) -> None:
    path = _write(tmp_path, _LOADERS)
    with pytest.raises(ModelprofError, match=message):
        training.load_user_data(f"{path}:{attr}")


def test_user_data_spec_errors(tmp_path: Path) -> None:
    path = _write(tmp_path, _LOADERS)
    with pytest.raises(ShapeError, match=r"samples have shape \(1, 8, 8\) but the model takes"):
        training.load_user_data(f"{path}:loaders", (1, 1, 28, 28))
    with pytest.raises(ModelLoadError, match="no such Python file"):
        training.load_user_data(f"{tmp_path / 'absent.py'}:loaders")
    broken = tmp_path / "broken.py"
    broken.write_text("import not_a_real_module_xyz\n")
    with pytest.raises(ModelLoadError, match=r"importing .* failed: ModuleNotFoundError"):
        training.load_user_data(f"{broken}:loaders")
    with pytest.raises(ModelprofError, match="not a data spec"):
        training.load_user_data("loaders")
    with pytest.raises(ModelprofError, match="unknown data 'mnist'"):
        training.load_data("mnist", (1, 1, 28, 28))


def test_training_says_what_it_does_epoch_by_epoch(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    env = {**os.environ, "MODELPROF_CACHE": str(tmp_path)}
    args = [sys.executable, "-m", "modelprof.cli.main", "prune", "seed-cnn", "--amount", "0.5"]
    args += ["--finetune", "digits", "--epochs", "1", "--format", "json"]
    first = subprocess.run(args, capture_output=True, text=True, env=env, check=False)
    assert first.returncode == 0, first.stderr
    lines = first.stderr.splitlines()
    # the seed network's first training (8 epochs, then cached), then the fine-tuning (1)
    assert lines[0] == "modelprof: training seed-cnn on digits first (once: the weights are cached)"
    assert [line.split(",")[0] for line in lines[1:10]] == [
        *(f"modelprof: training: epoch {i}/8" for i in range(1, 9)),
        "modelprof: fine-tuning: epoch 1/1",
    ]
    again = subprocess.run(args, capture_output=True, text=True, env=env, check=False)
    assert "training seed-cnn" not in again.stderr  # cached: nothing to wait for
    quiet = subprocess.run([*args, "-q"], capture_output=True, text=True, env=env, check=False)
    assert quiet.stderr == ""
