"""Training settings live in one place, TrainConfig: the CLI and the training loop take their defaults from it."""

import dataclasses
import inspect

import pytest

from numsnn.cli import build_parser
from numsnn.lab.train import TrainConfig, evaluate, fit, train_epoch


def test_cli_defaults_and_choices_come_from_train_config(capsys):
    # Left out, a setting stays None, so that --resume can tell what was given; TrainConfig fills it in.
    args = vars(build_parser().parse_args(["train"]))
    assert all(args[field.name] is None for field in dataclasses.fields(TrainConfig))
    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "--help"])
    shown = " ".join(capsys.readouterr().out.split())  # argparse wraps lines
    for field in dataclasses.fields(TrainConfig):
        if field.name != "data_dir":
            assert f"default: {getattr(TrainConfig(), field.name)}" in shown, field.name
    for name, choices in TrainConfig.CHOICES.items():
        option = "--" + name.replace("_", "-")
        for choice in choices:
            assert getattr(build_parser().parse_args(["train", option, choice]), name) == choice
        with pytest.raises(SystemExit):
            build_parser().parse_args(["train", option, "nonsense"])
        listed = ", ".join(repr(choice) for choice in choices)
        assert f"invalid choice: 'nonsense' (choose from {listed})" in capsys.readouterr().err


@pytest.mark.parametrize("function", [fit, train_epoch, evaluate])
def test_training_loop_defaults_come_from_train_config(function):
    parameters = inspect.signature(function).parameters
    for name in ("encoder", "loss", "batch_size", "seed"):
        if name in parameters and not (function is evaluate and name == "batch_size"):
            assert parameters[name].default == getattr(TrainConfig(), name), (function.__name__, name)


@pytest.mark.parametrize(
    "change, error, match",
    [({"encoder": "morse"}, ValueError, "encoder must be one of direct, poisson, latency, got 'morse'"),
     ({"dataset": "evil"}, ValueError, "dataset must be one of bundled, full, got 'evil'"),
     ({"T": 0}, ValueError, "T must be in \\[1, 10000\\], got 0"),
     ({"T": 10_000_000}, ValueError, "T must be in \\[1, 10000\\], got 10000000"),
     ({"hidden": 10**9}, ValueError, "hidden must be in \\[1, 100000\\]"),
     ({"lr": -1.0}, ValueError, "lr must be >= 0.0"),
     ({"batch_size": 2.5}, TypeError, "batch_size must be an integer"),
     ({"data_dir": 3}, TypeError, "data_dir must be a path string or None")],
)  # fmt: skip
def test_train_config_checks_every_field(change, error, match):
    with pytest.raises(error, match=match):
        TrainConfig(**change)


def test_from_dict_names_the_source_and_the_problem():
    good = TrainConfig().as_dict()
    assert TrainConfig.from_dict(good, "ckpt.npz") == TrainConfig()
    with pytest.raises(ValueError, match="ckpt.npz: the stored config lacks T; has unknown keys extra"):
        TrainConfig.from_dict({k: v for k, v in good.items() if k != "T"} | {"extra": 1}, "ckpt.npz")
    with pytest.raises(ValueError, match="ckpt.npz: the stored config is invalid: dataset must be one of"):
        TrainConfig.from_dict(good | {"dataset": "evil"}, "ckpt.npz")
    with pytest.raises(ValueError, match="should be a JSON object, got list"):
        TrainConfig.from_dict([], "ckpt.npz")
