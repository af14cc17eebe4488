"""The ``numsnn`` command: ``numsnn train``, ``numsnn evaluate CHECKPOINT``, ``numsnn show CHECKPOINT``.

The top layer: it uses the lab (data, training, checkpoints) and the pictures. Also runs as
``python -m numsnn``. Options, their defaults and their checks come from
``numsnn.lab.train.TrainConfig``. Bad options and bad input end with a one-line error
(exit status 2 for usage, 1 for data or file problems), not a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import signal
import sys
from pathlib import Path

import numpy as np

from numsnn import __version__
from numsnn.lab.train import TrainConfig

__all__ = ["main", "build_parser", "write_figures"]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (try: {self.prog} --help)\n")


def _number(convert, minimum, what: str):
    """An argparse type: ``convert(text)``, at least ``minimum``, else a one-line error naming ``what``."""

    def parse(text: str):
        try:
            value = convert(text)
        except ValueError:
            value = None
        if value is None or not minimum <= value < float("inf"):
            raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}")
        return value

    return parse


_positive_int = _number(int, 1, "a positive integer")
_non_negative_int = _number(int, 0, "a non-negative integer")
_non_negative_float = _number(float, 0.0, "a non-negative number")
_positive_float = _number(float, 1e-300, "a positive number")


def _add_data_options(p: argparse.ArgumentParser, default_dataset: str | None) -> None:
    p.add_argument(
        "--dataset",
        choices=TrainConfig.CHOICES["dataset"],
        default=default_dataset,
        help="bundled: the 10,000/2,000-image subset inside numsnn (offline); full: all of MNIST "
        + ("(default: %(default)s)" if default_dataset else "(default: the checkpoint's)"),
    )
    p.add_argument(
        "--data-dir",
        metavar="DIR",
        help="folder with the full MNIST IDX files (default: $NUMSNN_DATA, else ~/.cache/numsnn/mnist, "
        "downloading there if absent)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="numsnn", description="Train and inspect spiking neural networks with numsnn.")
    parser.add_argument("--version", action="version", version=f"numsnn {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    d = TrainConfig()
    choices = TrainConfig.CHOICES
    train = commands.add_parser(
        "train",
        help="train a spiking network on MNIST (the reference model, or a convolutional one with --model conv)",
        description="Train a spiking network on MNIST. Writes checkpoint.npz, metrics.csv, metrics.json "
        "and figures (PNG; with --gif, also an animation of one test digit) into the output folder. "
        "With --resume, the run continues with its own settings: "
        "only --epochs, --data-dir and the output options may be given, and any other option that differs "
        "from the checkpoint is an error.",
    )
    # The settings' defaults are None here, so that an option given on the command line can be told apart
    # from one left out (which matters with --resume); TrainConfig fills in the defaults the help shows.
    train.add_argument(
        "--model",
        choices=choices["model"],
        help=f"reference: Linear(784, H) -> IF -> Linear(H, 10) -> IF; conv: two convolutions with IF neurons "
        f"and average pooling, then Linear(1568, H) -> IF -> Linear(H, 10) -> IF (default: {d.model})",
    )
    train.add_argument(
        "--dataset",
        choices=choices["dataset"],
        help=f"bundled: the 10,000/2,000-image subset inside numsnn (offline); full: all of MNIST "
        f"(default: {d.dataset})",
    )
    train.add_argument(
        "--data-dir",
        metavar="DIR",
        help="folder with the full MNIST IDX files, for --dataset full (default: $NUMSNN_DATA, "
        "else ~/.cache/numsnn/mnist, downloading there if absent)",
    )
    train.add_argument(
        "--epochs", type=_positive_int, help=f"total epochs (default: {d.epochs}; with --resume, the checkpoint's)"
    )
    train.add_argument(
        "-T", "--time-steps", dest="T", type=_positive_int, help=f"time steps per image (default: {d.T})"
    )
    train.add_argument("--batch-size", type=_positive_int, help=f"default: {d.batch_size}")
    train.add_argument(
        "--encoder", choices=choices["encoder"], help=f"how pixels become input sequences (default: {d.encoder})"
    )
    train.add_argument(
        "--loss",
        choices=choices["loss"],
        help=f"mse: firing rate vs one-hot label; ce: cross-entropy of spike counts (default: {d.loss})",
    )
    train.add_argument("--optimizer", choices=choices["optimizer"], help=f"default: {d.optimizer}")
    train.add_argument("--lr", type=_non_negative_float, help=f"learning rate (default: {d.lr})")
    train.add_argument("--momentum", type=_non_negative_float, help=f"SGD momentum (default: {d.momentum})")
    train.add_argument("--weight-decay", type=_non_negative_float, help=f"default: {d.weight_decay}")
    train.add_argument(
        "--schedule",
        choices=choices["schedule"],
        help=f"learning rate over epochs: step multiplies it by 0.3 every epochs/3 epochs, cosine "
        f"anneals it to 0 at the last epoch (default: {d.schedule})",
    )
    train.add_argument("--hidden", type=_positive_int, help=f"hidden IF neurons (default: {d.hidden})")
    train.add_argument(
        "--seed", type=_non_negative_int, help=f"seed for weights, shuffling and encoding (default: {d.seed})"
    )
    train.add_argument(
        "--out",
        metavar="DIR",
        help="output folder (default: a new runs/run-NNN; with --resume, the checkpoint's folder)",
    )
    train.add_argument(
        "--overwrite",
        action="store_true",
        help="allow --out to be a folder holding other files or another run; numsnn then writes "
        "over the files of its own names there",
    )
    train.add_argument("--resume", metavar="CHECKPOINT", help="continue a run from its checkpoint")
    train.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bars")
    train.add_argument("--no-plots", dest="plots", action="store_false", help="do not write the figures")
    train.add_argument("--gif", action="store_true", help="also write the step-by-step GIF of the test digit (slower)")
    train.set_defaults(run=_train)

    evaluate = commands.add_parser(
        "evaluate",
        help="report the test accuracy of a checkpoint",
        description="Evaluate a checkpoint on the test set of its dataset.",
    )
    evaluate.add_argument("checkpoint", help="a checkpoint.npz written by numsnn train")
    _add_data_options(evaluate, None)
    evaluate.set_defaults(run=_evaluate)

    show = commands.add_parser(
        "show",
        help="draw one test digit going through a trained model, and its BPTT view",
        description="Print, for one test digit, its label, the prediction, the output spike counts and the loss, "
        "and write its pictures: a step-by-step PNG (input, hidden spikes, output potentials and counts over "
        "every time step) and a BPTT view (dL/ds_t and dL/du_t over time) per neuron layer. Without --index, "
        "the first test digit whose loss is not 0, so that its BPTT pictures are not blank.",
    )
    show.add_argument("checkpoint", help="a checkpoint.npz written by numsnn train")
    pick = show.add_mutually_exclusive_group()
    pick.add_argument(
        "--index",
        type=_non_negative_int,
        help="test image index (default: the first test digit whose loss is not 0: with loss 0 no gradient "
        "flows back, and the BPTT pictures would be blank)",
    )
    pick.add_argument("--wrong", action="store_true", help="show the first test digit the model gets wrong")
    show.add_argument("--gif", action="store_true", help="also write the step-by-step animation as a GIF (slower)")
    show.add_argument("--out", metavar="DIR", default=".", help="output folder (default: the current one)")
    _add_data_options(show, None)
    show.set_defaults(run=_show)

    export = commands.add_parser(
        "export-nir",
        help="export a trained network as a NIR graph, for other SNN frameworks and neuromorphic chips",
        description="Write the network of a checkpoint as a NIR graph (HDF5), which snnTorch, Norse, "
        "SpikingJelly, Sinabs, Rockpool and Lava read. Needs the nir package: pip install 'numsnn[nir]'.",
    )
    export.add_argument("checkpoint", help="a checkpoint.npz written by numsnn train")
    export.add_argument("out", help="the .nir file to write (never over an existing file)")
    export.add_argument("--dt", type=_positive_float, default=1.0,
                        help="the time one numsnn step stands for (default: %(default)s)")  # fmt: skip
    export.set_defaults(run=_export_nir)
    return parser


class Terminated(KeyboardInterrupt):
    """SIGTERM, turned into the same path as Ctrl-C (SIGINT): the last finished epoch's checkpoint is kept."""


def _raise_terminated(signum, frame):
    raise Terminated


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``numsnn`` command; returns the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version or a usage error: argparse has printed its message
        return exc.code
    try:
        previous = signal.signal(signal.SIGTERM, _raise_terminated)
    except ValueError:  # not the main thread (e.g. main() called from a worker thread): leave SIGTERM alone
        previous = None
    try:
        return args.run(args)
    except KeyboardInterrupt as exc:
        print(f"\nnumsnn {args.command}: {_interruption(exc)}", file=sys.stderr)
        return _interrupted_status(exc)
    except MemoryError:
        print(f"numsnn {args.command}: error: out of memory; try a smaller --batch-size, -T or --hidden",
              file=sys.stderr)  # fmt: skip
        return 1
    except (ValueError, TypeError, OSError, OverflowError) as exc:
        print(f"numsnn {args.command}: error: {exc}", file=sys.stderr)
        return 1
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def _interruptions_deferred():
    """Hold Ctrl-C and SIGTERM until the block ends, then act on the first that came.

    Meanwhile their handlers only note them. Python runs signal handlers in the main thread
    whichever thread the signal reaches (numpy's BLAS threads can take it), so this holds where
    blocking the signal in the main thread would not. Outside the main thread it holds nothing.
    """
    try:
        caught = []
        previous = {sig: signal.signal(sig, lambda signum, frame: caught.append(signum))
                    for sig in (signal.SIGINT, signal.SIGTERM)}  # fmt: skip
    except ValueError:  # not the main thread: signals go to the main thread's handlers anyway
        yield
        return
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if caught:
            signal.raise_signal(caught[0])  # now its own handler runs: KeyboardInterrupt or Terminated


def _interruption(exc: KeyboardInterrupt) -> str:
    return "interrupted by SIGTERM" if isinstance(exc, Terminated) else "interrupted"


def _interrupted_status(exc: KeyboardInterrupt) -> int:
    return 128 + (signal.SIGTERM if isinstance(exc, Terminated) else signal.SIGINT)


# --- commands -------------------------------------------------------------------------------

# With --resume these may differ from the checkpoint's settings; any other setting may not.
_RESUME_MAY_CHANGE = ("epochs", "data_dir")


def _given(args) -> dict:
    """The TrainConfig settings given on the command line (argparse leaves the others None)."""
    given = {f.name: getattr(args, f.name) for f in dataclasses.fields(TrainConfig)}
    return {name: value for name, value in given.items() if value is not None}


def _with_data_dir(config: TrainConfig, given_dir: str | None) -> tuple[TrainConfig, str | None]:
    """``config`` with its MNIST folder made absolute, and where the folder came from (None: the default).

    A folder given by --data-dir wins, then $NUMSNN_DATA, then the one stored in a checkpoint.
    """
    if given_dir is not None and config.dataset != "full":
        raise ValueError(f"--data-dir {given_dir} applies only to --dataset full; the {config.dataset} subset ships "
                         "inside numsnn (add --dataset full to train on the files in that folder)")  # fmt: skip
    if config.dataset != "full":
        return config, None
    for folder, origin in ((given_dir, "--data-dir"), (os.environ.get("NUMSNN_DATA"), "$NUMSNN_DATA"),
                           (config.data_dir, "the data_dir stored in the checkpoint")):  # fmt: skip
        if folder:
            return dataclasses.replace(config, data_dir=str(Path(folder).resolve())), origin
    return config, None


def _load_data(config: TrainConfig, split: str, progress: bool = True, origin: str | None = None):
    from numsnn.lab.datasets import MissingFilesError, load_mnist

    if config.dataset == "bundled":
        return load_mnist(split, source="bundled")
    try:
        return load_mnist(split, source="full", root=config.data_dir, progress=progress)
    except MissingFilesError as exc:
        if origin is None:
            raise
        raise FileNotFoundError(exc.came_from(origin)) from None


def _resumed(args):
    """The checkpoint, its config with the allowed changes applied, and its history; refuses any other change."""
    from numsnn.lab.checkpoint import load_checkpoint

    ckpt = load_checkpoint(args.resume)
    config = _train_config(ckpt)
    history = ckpt.metrics.get("history") if isinstance(ckpt.metrics, dict) else None
    if not isinstance(ckpt.epoch, int) or not isinstance(history, list):
        raise ValueError(f"cannot resume from {args.resume}: it records no epoch and metrics history "
                         "(it was not written by numsnn train)")  # fmt: skip
    given = _given(args)
    changed = {name: value for name, value in given.items() if value != getattr(config, name)}
    refused = [name for name in changed if name not in _RESUME_MAY_CHANGE]
    if refused:
        shown = "; ".join(f"{_option(name)} {changed[name]} (the run has {getattr(config, name)})" for name in refused)
        raise ValueError(f"--resume continues {args.resume} with its own settings, so these options cannot change "
                         f"it: {shown}. Leave them out, or start a new run")  # fmt: skip
    if "epochs" in changed and config.schedule != "none":
        raise ValueError(f"cannot change --epochs of a run with a {config.schedule} schedule: "
                         "the schedule was planned for its epochs; start a new run instead")  # fmt: skip
    if "epochs" in changed:
        config = dataclasses.replace(config, epochs=changed["epochs"])
    return ckpt, config, history


def _option(name: str) -> str:
    return "-T" if name == "T" else "--" + name.replace("_", "-")


def _train(args) -> int:
    from numsnn.lab.checkpoint import save_checkpoint
    from numsnn.lab.runs import RunFolder
    from numsnn.lab.train import build, fit, write_history

    if args.resume:
        ckpt, config, history = _resumed(args)
        start_epoch = ckpt.epoch
        if start_epoch >= config.epochs:
            print(f"nothing to do: {args.resume} already has {_plural(start_epoch, 'epoch')} (raise --epochs)")
            return 0
    else:
        given = _given(args)
        ckpt, config, history, start_epoch = None, TrainConfig(**given), [], 0
    config, origin = _with_data_dir(config, args.data_dir)
    model, optimizer, scheduler = build(config)
    if ckpt is not None:
        ckpt.restore(model, optimizer, scheduler)

    # Claimed before the data load, so two runs started together never pick the same folder.
    if args.out:
        resuming = Path(args.resume) if args.resume else None
        folder = RunFolder.claim(Path(args.out), resuming=resuming, overwrite=args.overwrite)
    elif args.resume:
        folder = RunFolder.claim(Path(args.resume).parent, resuming=Path(args.resume))
    else:
        folder = RunFolder.new(Path("runs"))
    for path in folder.remove_stale():
        print(f"removed {path}, left by an interrupted write", file=sys.stderr)
    try:
        train_data = _load_data(config, "train", args.progress, origin)
        test_data = _load_data(config, "test", args.progress, origin)
    except BaseException:
        folder.release_if_unused()  # a data error leaves no empty run folder behind
        raise
    out = folder.path
    print(
        f"numsnn {__version__}: training {model_summary(model)} on {len(train_data[1]):,} "
        f"{config.dataset} MNIST images, T = {config.T}, {config.encoder} encoding, "
        f"{_plural(config.epochs, 'epoch')}; writing to {out}"
    )

    saved = []  # epochs this run has checkpointed

    def save(epoch: int, hist: list[dict]) -> None:
        with _interruptions_deferred():  # so the checkpoint and the metrics files always agree
            save_checkpoint(folder.file("checkpoint.npz"), model, optimizer, scheduler, config=config.as_dict(),
                            metrics={"history": hist}, epoch=epoch)  # fmt: skip
            for name in ("metrics.csv", "metrics.json"):  # the two files write_history writes
                folder.file(name)
            write_history(hist, out)
            saved.append(epoch)

    try:
        history = fit(model, optimizer, train_data, test_data, epochs=config.epochs, T=config.T,
                      encoder=config.encoder, loss=config.loss, batch_size=config.batch_size, scheduler=scheduler,
                      seed=config.seed, start_epoch=start_epoch, history=history, on_epoch_end=save,
                      progress=args.progress)  # fmt: skip
    except KeyboardInterrupt as exc:
        where = (
            f"the checkpoint of epoch {saved[-1]} is {out / 'checkpoint.npz'}" if saved
            else f"{args.resume} still holds epoch {start_epoch}" if args.resume
            else "no epoch had finished"
        )  # fmt: skip
        print(f"\nnumsnn train: {_interruption(exc)}; {where}", file=sys.stderr)
        folder.release_if_unused()
        return _interrupted_status(exc)
    except BaseException:
        folder.release_if_unused()  # e.g. out of memory in the first epoch: no empty run folder behind
        raise

    print(f"wrote {out / 'checkpoint.npz'}, {out / 'metrics.csv'}, {out / 'metrics.json'}")
    if args.plots:
        for path in write_figures(model, history, test_data, config, out, gif=args.gif):
            folder.file(path.name)
            print(f"wrote {path}")
    last = history[-1]
    n_test = len(test_data[1])
    print(
        f"test accuracy: {last['test_accuracy']:.2%} ({round(last['test_accuracy'] * n_test):,}/{n_test:,} "
        f"{config.dataset} test images) after {_plural(last['epoch'], 'epoch')}"
    )
    return 0


def write_figures(
    model, history, test_data, config: TrainConfig, out: Path, index: int | None = None, *, wrong=False, gif=False
) -> list[Path]:
    """Write the pictures of a run into ``out`` and return their paths: the training curves (when there is a
    history) and the pictures of one test digit (see ``_sample_figures``). ``numsnn train`` and ``show`` call it."""
    import matplotlib

    matplotlib.use("Agg")  # files only; never open a window
    import matplotlib.pyplot as plt

    from numsnn import plot

    print("drawing the pictures" + (": training curves, then one test digit" if history else " of one test digit"))
    paths = []
    if history:
        fig = plot.training_curves(history, model=model, loss=config.loss)
        paths.append(plot.save_figure(fig, out / "training_curves.png"))
        plt.close(fig)
    paths += _sample_figures(model, test_data, config, out, index, wrong=wrong, gif=gif)
    return paths


def _encode_digits(images, config: TrainConfig, start: int, stop: int):
    """Test digits ``start..stop-1``, encoded; each digit's randomness (Poisson) has its own seed, so a digit
    looks the same whether it is encoded alone or in a batch."""
    from numsnn.autograd.tensor import Tensor
    from numsnn.lab.train import encode

    return Tensor(
        np.concatenate(
            [
                encode(images[i : i + 1], config.T, config.encoder, np.random.default_rng([config.seed, 0, i])).data
                for i in range(start, stop)
            ]
        )
    )


def _choose_digit(model, test_data, config: TrainConfig, wrong: bool) -> tuple[int, str]:
    """The first test digit whose loss is not 0 (``wrong``: that the model gets wrong), and why it was chosen."""
    from numsnn.autograd.tensor import no_grad
    from numsnn.lab.metrics import predict
    from numsnn.lab.train import LOSSES

    images, labels = test_data
    batch = 100  # the first hundred almost always hold one: stop there
    for start in range(0, len(labels), batch):
        stop = min(start + batch, len(labels))
        with no_grad():
            out = model(_encode_digits(images, config, start, stop))
        if wrong:
            found = np.flatnonzero(predict(out.data) != labels[start:stop])
        else:
            losses = [
                LOSSES[config.loss](out[i : i + 1], labels[start + i : start + i + 1]).item()
                for i in range(stop - start)
            ]
            found = np.flatnonzero(np.array(losses) > 0)
        if found.size:
            index = start + int(found[0])
            if wrong:
                return index, f"test digit {index}, the first the model gets wrong (--wrong)"
            return index, (
                f"test digit {index}, the first whose loss is not 0\n"
                "  (with loss 0 no gradient flows back, and the BPTT pictures would be empty; "
                "pick another with --index or --wrong)"
            )
    n = f"{len(labels):,} {config.dataset} test digits"
    if wrong:
        raise ValueError(f"the model gets all {n} right: there is no wrong one to show; pick one with --index")
    raise ValueError(f"the loss is 0 on all {n}: no gradient flows back on any; pick one with --index")


def _sample_figures(
    model, test_data, config: TrainConfig, out: Path, index: int | None, *, wrong=False, gif=False
) -> list[Path]:
    """Print what the model does with one test digit, and write its step-by-step PNG (and GIF, with ``gif``)
    and the BPTT view of each neuron layer. ``index`` None: ``_choose_digit`` picks one."""
    import time

    import matplotlib.pyplot as plt

    from numsnn import plot
    from numsnn.lab.metrics import predict
    from numsnn.lab.train import LOSSES
    from numsnn.nn import record

    images, labels = test_data
    if index is not None and not 0 <= index < len(labels):
        raise ValueError(f"--index must be in [0, {len(labels)}) for the {config.dataset} test set, got {index}")
    if index is None:
        index, why = _choose_digit(model, test_data, config, wrong)
        print(f"showing {why}")
    x = _encode_digits(images, config, index, index + 1)
    label = int(labels[index])
    with record(model) as traces:  # the per-step gradients of one backward pass
        spikes = model(x)
        value = LOSSES[config.loss](spikes, labels[index : index + 1])
        value.backward()
    model.zero_grad()
    loss, counts, prediction = value.item(), spikes.data[0].sum(axis=0).astype(int), int(predict(spikes.data)[0])
    verdict = "a tie, so wrong" if prediction < 0 else "right" if prediction == label else "wrong"
    print(
        f"test digit {index}: label {label}, prediction {prediction if prediction >= 0 else 'none'} ({verdict}), "
        f"{config.loss} loss {loss:.4g}"
    )
    width = max(len(str(counts.max())), len(str(len(counts) - 1)))
    print(f"  output spikes over T = {config.T} steps, per class:")
    print("    class  " + " ".join(f"{c:>{width}}" for c in range(len(counts))))
    print("    spikes " + " ".join(f"{n:>{width}}" for n in counts))
    if loss == 0:
        print("  loss 0: no gradient flows back, so the BPTT pictures say so instead of showing gradients")

    roles = plot.layer_roles(model)
    stem = out / f"test{index}"
    title = f"test digit {index}"
    fig = plot.step_by_step(model, x, label=label, title=title)
    paths = [plot.save_figure(fig, stem.with_name(stem.name + "_step_by_step.png"))]
    plt.close(fig)
    for name in plot.map_layers(model, x):  # a convolutional network: each layer's feature maps over time
        fig = plot.feature_maps(model, x, layer=name, title=title)
        paths.append(plot.save_figure(fig, stem.with_name(f"{stem.name}_maps_{roles[name].slug}.png")))
        plt.close(fig)
    for name, trace in traces.items():
        decided = "no decision" if prediction < 0 else f"prediction {prediction}"
        fig = plot.bptt_view(
            trace, sample=0, layer=str(roles[name]), title=f"{title}, label {label}, {decided}", loss=loss
        )
        paths.append(plot.save_figure(fig, stem.with_name(f"{stem.name}_bptt_{roles[name].slug}.png")))
        plt.close(fig)
    if gif:
        start = time.perf_counter()
        print(f"writing the step-by-step GIF ({config.T} frames, one figure drawn per frame) ...", flush=True)
        anim = plot.animate(model, x, label=label, title=title)
        paths.append(plot.save_gif(anim, stem.with_name(stem.name + "_step_by_step.gif")))
        plt.close("all")
        print(f"  took {time.perf_counter() - start:.1f} s")
    return paths


def _train_config(ckpt) -> TrainConfig:
    """The settings stored by ``numsnn train`` in ``ckpt``, checked by the CLI's own rules."""
    return TrainConfig.from_dict(ckpt.config, f"checkpoint {ckpt.path}")


def _trained_model(checkpoint, dataset: str | None = None, data_dir: str | None = None):
    """The model saved in ``checkpoint`` and its config, with --dataset and --data-dir applied."""
    from numsnn.lab.checkpoint import load_checkpoint
    from numsnn.lab.train import build

    ckpt = load_checkpoint(checkpoint)
    config = _train_config(ckpt)
    if dataset:
        config = dataclasses.replace(config, dataset=dataset)
    config, _ = _with_data_dir(config, data_dir)
    model, _, _ = build(config)
    ckpt.restore(model)
    return model, config


def _show(args) -> int:
    model, config = _trained_model(args.checkpoint, args.dataset, args.data_dir)
    test_data = _load_data(config, "test")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for path in write_figures(model, [], test_data, config, out, args.index, wrong=args.wrong, gif=args.gif):
        print(f"wrote {path}")
    return 0


def _export_nir(args) -> int:
    from numsnn.lab.interop import write_nir

    out = Path(args.out)
    if out.exists():
        raise FileExistsError(f"{out} already exists; numsnn never writes over a file: choose another name")
    model, _ = _trained_model(args.checkpoint)
    graph = write_nir(model, out, dt=args.dt)
    print(f"wrote {out}: NIR graph " + " -> ".join(f"{name} ({type(node).__name__})" for name, node in
                                                   graph.nodes.items()))  # fmt: skip
    return 0


def _evaluate(args) -> int:
    from numsnn.lab.train import evaluate

    model, config = _trained_model(args.checkpoint, args.dataset, args.data_dir)
    images, labels = _load_data(config, "test")
    result = evaluate(model, images, labels, T=config.T, encoder=config.encoder, loss=config.loss, seed=config.seed)
    print(
        f"{args.checkpoint}: test accuracy {result['accuracy']:.2%} "
        f"({round(result['accuracy'] * len(labels)):,}/{len(labels):,} {config.dataset} test images), "
        f"loss {result['loss']:.4f}"
    )
    return 0


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def model_summary(model) -> str:
    """``Linear(784, 800) -> IF -> Linear(800, 10) -> IF`` for a Sequential (sizes of the weighted layers)."""
    parts = []
    for layer in model:
        name = type(layer).__name__
        if hasattr(layer, "in_features"):
            name += f"({layer.in_features}, {layer.out_features})"
        elif getattr(layer, "out_channels", None):
            name += f"({layer.in_channels}, {layer.out_channels}, {layer.kernel_size[0]})"
        elif hasattr(layer, "kernel_size"):
            name += f"({layer.kernel_size[0]})"
        if name != "Unflatten":  # it only turns the pixels into an image
            parts.append(name)
    return " -> ".join(parts)
