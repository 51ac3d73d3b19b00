"""``regcompare translate`` on the command line: option order, what it says for every framework, real keywords,
refused values (exit 2) and a reader that goes away (``| head -1``)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from regcompare.cli import EXIT_OK, EXIT_USAGE, main
from tests.conftest import ROOT


def translate(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["translate", *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("args", [
    ["keras.regularizers.L2", "--optimizer", "adam", "l2=0.25"],
    ["keras.regularizers.L2", "l2=0.25", "--optimizer", "adam"],
    ["keras.regularizers.L2", "l2=0.25", "--optimizer=adam"],
    ["--optimizer", "adam", "keras.regularizers.L2", "l2=0.25"],
])
def test_options_in_any_order(capsys: pytest.CaptureFixture[str], args: list[str]) -> None:
    code, out, err = translate(capsys, *args)
    assert code == EXIT_OK, err
    # L2(0.25) is canonical l2 = 0.5 (no ½), met by Adam: torch's coupled Adam with weight_decay=0.5
    assert "adam with lr=0.001" in out
    assert "= torch.optim.Adam(weight_decay=0.5, lr=0.001" in out


def test_unknown_option_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = translate(capsys, "torch.optim.SGD", "weight_decay=0.1", "--bogus")
    assert code == EXIT_USAGE
    assert "unknown option --bogus" in err


def test_source_framework_lists_the_source(capsys: pytest.CaptureFixture[str]) -> None:
    """SGD with dampening has no other torch setting: torch's block names the source itself, not "nothing"."""
    code, out, _ = translate(capsys, "torch.optim.SGD", "weight_decay=0.1", "momentum=0.9", "dampening=0.5",
                             "lr=0.1")
    assert code == EXIT_OK
    torch_block = out.split("torch:\n", 1)[1].split("\ntensorflow:", 1)[0]
    assert torch_block.startswith("  = torch.optim.SGD(weight_decay=0.1, lr=0.1, momentum=0.9, dampening=0.5")
    assert "[the source itself]" in torch_block
    assert "no setting reproduces it" not in out


def test_none_with_the_nearest_option_for_dampening(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = translate(capsys, "torch.optim.SGD", "weight_decay=0.1", "momentum=0.9", "dampening=0.5", "lr=0.1")
    # Keras and paddle SGD implement dampening=0 only: the nearest setting, with how far it is (translate, zoo A)
    for fw, call in (("tensorflow", "keras.optimizers.SGD(learning_rate=0.1, momentum=0.9, nesterov=False)"),
                     ("paddle", "momentum=0.9, use_nesterov=False)")):
        block = out.split(f"{fw}:\n", 1)[1]
        assert block.startswith("  none: ") and "≈ " in block and call in block, fw
        assert "nearest: dampening=0 (source: 0.5); its update differs from the source's by" in block


def test_none_with_the_loss_term_for_l1_in_torch(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = translate(capsys, "paddle.regularizer.L1Decay", "coeff=0.1", "learning_rate=0.1")
    assert code == EXIT_OK
    # torch has no L1 in an optimizer: the penalty in the loss with the same optimizer (torch.handwritten.update)
    assert "torch:\n  = loss += l1·Σ|w| + lambd·Σw²/2 by hand (l1=0.1, lambd=0), with torch.optim.SGD(lr=0.1" in out
    assert "paddle:\n  = paddle.optimizer.SGD(weight_decay=paddle.regularizer.L1Decay(coeff=0.1)" in out


@pytest.mark.parametrize(("args", "expected"), [
    (["torch.optim.Adam", "weight_decay=0.1", "amsgrad=false"], "torch.optim.Adam(weight_decay=0.1, lr=0.001"),
    (["torch.optim.Adam", "weight_decay=0.1", "amsgrad=true"],
     "= paddle.optimizer.Adam(weight_decay=0.1, learning_rate=0.001, beta1=0.9, beta2=0.999, epsilon=1e-08, "
     "amsgrad=True)"),
    (["torch.optim.Adam", "decoupled_weight_decay=True", "weight_decay=0.1"],
     "torch.optim.Adam(weight_decay=0.1, decoupled_weight_decay=True, lr=0.001"),
    (["torch.optim.Adam", "decoupled_weight_decay=false", "weight_decay=0.1"], "coupled (gradient += weight_decay·w"),
    (["torch.optim.Adam", "betas=0.9,0.99", "weight_decay=0.1"], "betas=(0.9, 0.99)"),
    (["torch.optim.Adam", "betas=(0.8,0.9)", "weight_decay=0.1"], "beta1=0.8, beta2=0.9"),
])
def test_real_keywords(capsys: pytest.CaptureFixture[str], args: list[str], expected: str) -> None:
    code, out, err = translate(capsys, *args)
    assert code == EXIT_OK, err
    assert expected in out


def test_decoupled_adam_translates_to_adamw(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = translate(capsys, "torch.optim.Adam", "decoupled_weight_decay=True", "weight_decay=0.1")
    assert "decoupled (w ← w − lr·weight_decay·w" in out
    assert "  = torch.optim.AdamW(weight_decay=0.1, lr=0.001" in out


@pytest.mark.parametrize(("args", "message"), [
    (["torch.optim.SGD", "weight_decay=nan"], "nan is not a finite number"),
    (["torch.optim.SGD", "weight_decay=inf"], "inf is not a finite number"),
    (["torch.optim.SGD", "lr=-inf"], "-inf is not a finite number"),
    (["torch.optim.SGD", "weight_decay=-0.1"], "negative decay"),
    (["keras.regularizers.L2", "l2=-1"], "negative decay"),
    (["torch.optim.SGD", "weight_decay=0.1", "momentum=1"], "momentum=1: momentum must be in [0, 1)"),
    (["torch.optim.SGD", "weight_decay=0.1", "momentum=1.5"], "momentum must be in [0, 1)"),
    (["torch.optim.SGD", "weight_decay=0.1", "momentum=-0.5"], "momentum must be in [0, 1)"),
    (["torch.optim.SGD", "weight_decay=0.1", "lr=0"], "lr=0: lr must be > 0"),
    (["torch.optim.Adam", "betas=0.9,1.0"], "betas[1]=1: beta2 must be in [0, 1)"),
    (["torch.optim.SGD", "weight_decay="], "is not a number"),
])
def test_impossible_values_are_refused(capsys: pytest.CaptureFixture[str], args: list[str], message: str) -> None:
    code, out, err = translate(capsys, *args)
    assert code == EXIT_USAGE
    assert out == ""
    assert message in err
    assert "Traceback" not in err


def test_closed_pipe_ends_quietly() -> None:
    """A reader that is gone before anything is written (``| head -1`` that already has its line): no
    BrokenPipeError traceback, exit 0."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-m", "regcompare", "translate", "torch.optim.SGD", "weight_decay=0.5", "momentum=0.9"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # the reader leaves at once
    err = process.stderr.read().decode()
    assert process.wait(timeout=300) == 0, err
    assert err == ""


def test_head_gets_the_first_line() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        f"{sys.executable} -m regcompare translate torch.optim.SGD weight_decay=0.5 momentum=0.9 | head -1",
        shell=True, cwd=ROOT, capture_output=True, text=True, timeout=300, env=env,
    )
    assert done.stdout == "torch.optim.SGD(weight_decay=0.5, lr=0.001, momentum=0.9, dampening=0.0, nesterov=False)\n"
    assert done.stderr == ""
