"""The surfaces around training under hostile input: no file read from outside a folder the
command reads, no file written over one the user did not name, nothing unbounded, no markup from
data reaching rich or matplotlib, crafted reports refused, and every process a command starts
stopped on every way out. Each case ends in success or one line on standard error."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlp_tiers.cli import main as mlp_tiers
from tests.helpers import process_running

LINUX = pytest.mark.skipif(sys.platform != "linux", reason="uses /dev/zero, FIFOs and /proc")


def one_line(capsys, fragment, code, expected=2):
    err = capsys.readouterr().err.strip()
    assert code == expected, err
    assert "Traceback" not in err
    (line,) = err.splitlines()
    assert fragment in line, line
    return line


def run(argv):
    try:
        return mlp_tiers(argv)
    except SystemExit as exit:  # argparse's own errors
        return exit.code


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A small NumPy run on digits (float32), and a second run folder beside it."""
    out = tmp_path_factory.mktemp("runs")
    for _ in range(2):
        assert mlp_tiers(["train", "--tier", "numpy", "--epochs", "1", "--hidden", "8",
                          "--quiet", "--out", str(out)]) == 0  # fmt: skip
    first, second = sorted(out.iterdir())
    return first, second


def digits_csv(path, n=10, scale=1.0, header=None, bom=False):
    from sklearn.datasets import load_digits

    x = load_digits().data[:n] * scale
    lines = [",".join(f"{v:.6g}" for v in row) for row in x]
    if header is not None:
        lines.insert(0, header)
    path.write_text(("\ufeff" if bom else "") + "\n".join(lines) + "\n", encoding="utf-8")
    return path


# -- 1. a generated page embeds only the run folder's own PNGs -----------------------------------


@pytest.fixture
def compare_run(tmp_path):
    """A compare run folder of the NumPy tier on a few spirals (its pictures are real PNGs)."""
    out = tmp_path / "cmp"
    assert mlp_tiers(["compare", "--tiers", "numpy", "--dataset", "spirals", "--epochs", "1",
                      "--hidden", "4", "--out", str(out)]) == 0  # fmt: skip
    (folder,) = out.iterdir()
    return folder


@pytest.mark.slow
def test_study_refuses_a_picture_that_links_out_of_the_run_folder(compare_run, tmp_path, capsys):
    secret = tmp_path / "secret.png"
    secret.write_bytes(b"\x89PNG\r\n\x1a\n" + b"private bytes")
    (compare_run / "boundaries.png").unlink()
    (compare_run / "boundaries.png").symlink_to(secret)
    capsys.readouterr()
    code = run(["study", "--pictures", str(compare_run), "--concept", "forward"])
    one_line(capsys, "boundaries.png is a link to", code)
    code = run(["study", "--pictures", str(compare_run), "--out", str(tmp_path / "page"),
                "--parity", str(_parity_report(tmp_path))])  # fmt: skip
    one_line(capsys, "outside the folder", code)
    assert not (tmp_path / "page" / "index.html").exists()


@pytest.mark.slow
def test_study_refuses_a_picture_that_is_not_a_png_or_not_a_file(compare_run, tmp_path, capsys):
    (compare_run / "confusion.png").write_bytes(b"GIF89a not a png")
    capsys.readouterr()
    code = run(["study", "--pictures", str(compare_run), "--concept", "forward"])
    one_line(capsys, "confusion.png is not a PNG image", code)
    (compare_run / "confusion.png").unlink()
    (compare_run / "confusion.png").mkdir()
    code = run(["study", "--pictures", str(compare_run), "--concept", "forward"])
    one_line(capsys, "confusion.png", code)


@pytest.mark.slow
@LINUX
def test_study_refuses_a_compare_json_that_links_out_or_to_a_device(compare_run, capsys):
    (compare_run / "compare.json").unlink()
    (compare_run / "compare.json").symlink_to("/dev/zero")
    capsys.readouterr()
    code = run(["study", "--pictures", str(compare_run), "--concept", "forward"])
    one_line(capsys, "compare.json is a link to /dev/zero, outside the folder", code)


def test_a_folder_read_through_a_link_to_itself_is_still_read(tmp_path):
    from shared.fileio import inside

    real = tmp_path / "real"
    real.mkdir()
    (real / "a.json").write_text("{}")
    (tmp_path / "alias").symlink_to(real)
    assert inside(tmp_path / "alias", "a.json").read_text() == "{}"


# -- 2. nothing written over a file the user did not name ----------------------------------------


@pytest.mark.slow
def test_predict_refuses_to_write_over_its_input(trained, tmp_path, capsys):
    data = digits_csv(tmp_path / "in.csv")
    before = data.read_bytes()
    code = run(["predict", str(trained[0]), "--input", str(data), "--out", str(data)])
    one_line(capsys, "is the input file", code)
    assert data.read_bytes() == before


@pytest.mark.slow
@pytest.mark.parametrize("name", ["checkpoint.npz", "metrics.json", "predictions.csv"])
def test_predict_refuses_to_write_into_the_run_folder_it_reads(trained, tmp_path, capsys, name):
    folder = trained[0]
    before = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    data = digits_csv(tmp_path / "in.csv")
    code = run(["predict", str(folder), "--input", str(data), "--out", str(folder / name)])
    one_line(capsys, "is inside the run folder", code)
    assert {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()} == before


@pytest.mark.slow
def test_predict_refuses_to_replace_a_file_of_another_run_folder(trained, tmp_path, capsys):
    other = trained[1] / "checkpoint.npz"
    before = other.read_bytes()
    data = digits_csv(tmp_path / "in.csv")
    code = run(["predict", str(trained[0]), "--input", str(data), "--out", str(other)])
    one_line(capsys, "would replace checkpoint.npz of the run folder", code)
    assert other.read_bytes() == before


def test_study_replaces_only_an_index_html_it_wrote(tmp_path):
    from mlp_tiers.study import GENERATOR, check_out_folder
    from shared.errors import SpecError

    (tmp_path / "index.html").write_text("<html>my own homepage</html>")
    with pytest.raises(SpecError, match="holds an index.html that mlp-tiers study did not write"):
        check_out_folder(tmp_path, train_pictures=False)
    (tmp_path / "index.html").write_text(f"<!DOCTYPE html><html><head>{GENERATOR}</head></html>")
    check_out_folder(tmp_path, train_pictures=False)  # its own page: replaced
    (tmp_path / "compare-spirals").mkdir()
    (tmp_path / "compare-spirals" / "notes.txt").write_text("mine")
    with pytest.raises(SpecError, match="compare-spirals/ holds files that mlp-tiers study did"):
        check_out_folder(tmp_path, train_pictures=True)


@pytest.mark.slow
def test_study_leaves_a_foreign_index_html_alone(compare_run, tmp_path, capsys):
    page = tmp_path / "site"
    page.mkdir()
    (page / "index.html").write_text("<html>my own homepage</html>")
    capsys.readouterr()
    code = run(["study", "--out", str(page), "--pictures", str(compare_run),
                "--parity", str(_parity_report(tmp_path))])  # fmt: skip
    one_line(capsys, "did not write; give another folder, or remove that file", code)
    assert (page / "index.html").read_text() == "<html>my own homepage</html>"
    # with the file gone, the page is written, and a second run replaces its own page
    (page / "index.html").unlink()
    for _ in range(2):
        assert run(["study", "--out", str(page), "--pictures", str(compare_run),
                    "--parity", str(_parity_report(tmp_path))]) == 0  # fmt: skip
    assert "mlp-tiers study" in (page / "index.html").read_text()


# -- 3. bounded load and threads; every started process stopped ----------------------------------


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["threads", "--busy", "1000"], "--busy must be a whole number from 0 to"),
        (
            ["bench", "--busy", "1000", "--tiers", "numpy"],
            "--busy must be a whole number from 0 to",
        ),
        (["train", "--threads", "1000000"], "--threads must be a whole number from 1 to"),
        (["threads", "--counts", "1,1000"], "--counts must list whole numbers from 1 to"),
    ],
)
def test_loads_and_thread_counts_are_bounded_by_the_machine(argv, fragment, capsys):
    one_line(capsys, fragment, run(argv))


def _children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as handle:
            return [int(child) for child in handle.read().split()]
    except OSError:
        return []


@pytest.mark.slow
@LINUX
@pytest.mark.parametrize(("number", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_stops_the_load_generator_with_the_command(number, code):
    process = subprocess.Popen(
        [sys.executable, "-m", "mlp_tiers.cli", "threads", "--busy", "1", "--rounds", "200"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "OPENBLAS_NUM_THREADS": "1"},
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while not _children(process.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    spinners = _children(process.pid)
    assert spinners, "the load process never started"
    time.sleep(0.3)
    process.send_signal(number)
    _, err = process.communicate(timeout=60)
    assert process.returncode == code, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    time.sleep(0.2)
    assert not any(process_running(pid) for pid in spinners)


@pytest.mark.slow
@LINUX
def test_sigterm_stops_a_child_process_running_a_tier(tmp_path):
    """``run_in_new_process`` (compare and parity's other Keras backends) stops its child when a
    signal interrupts the wait."""
    root = str(Path(__file__).parents[3])
    code = (
        f"import sys, time; sys.path.insert(0, {root!r})\n"
        "from mlp_tiers.cli.app import guard\n"
        "from mlp_tiers.registry import run_in_new_process\n"
        "from tests.mlp_tiers.cli.test_hostile import _sleep\n"
        "if __name__ == '__main__':\n"
        "    sys.exit(guard(lambda: run_in_new_process(_sleep), 'x', command_line=True))\n"
    )
    script = tmp_path / "wait.py"
    script.write_text(code)
    process = subprocess.Popen([sys.executable, str(script)], stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not _children(process.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1.0)  # the spawned child imports, then sleeps
    children = _children(process.pid)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 143, err
    assert "x: interrupted by SIGTERM" in err and "Traceback" not in err
    time.sleep(0.2)
    assert children and not any(process_running(pid) for pid in children)


def _sleep():
    time.sleep(120)


# -- 4. reads that end -------------------------------------------------------------------------


def _limited_memory():
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (4 * 2**30, 4 * 2**30))


@LINUX
def test_study_parity_on_a_device_or_a_fifo_is_refused_at_once(tmp_path, capsys):
    """In a process of its own, with a time and memory limit: a reader that does not check
    would block on the FIFO, or read /dev/zero until memory runs out."""
    fifo = tmp_path / "parity.json"
    os.mkfifo(fifo)
    for path in ("/dev/zero", str(fifo)):
        done = subprocess.run(
            [sys.executable, "-m", "mlp_tiers.cli", "study", "--concept", "forward",
             "--parity", path],
            capture_output=True, text=True, timeout=60, preexec_fn=_limited_memory,
        )  # fmt: skip
        assert done.returncode == 2, done.stderr
        (line,) = done.stderr.strip().splitlines()
        assert "is not a regular file (a pipe or a device)" in line
    (tmp_path / "big.json").write_bytes(b" " * (64 * 2**20 + 1))
    code = run(["study", "--concept", "forward", "--parity", str(tmp_path / "big.json")])
    one_line(capsys, "it is larger than 64.0 MiB", code)


@pytest.mark.slow
@LINUX
def test_predict_and_train_on_a_fifo_or_a_device_say_what_it_is(trained, tmp_path, capsys):
    fifo = tmp_path / "data.csv"
    os.mkfifo(fifo)
    (tmp_path / "zero.csv").symlink_to("/dev/zero")
    for path in (fifo, tmp_path / "zero.csv"):
        code = run(["predict", str(trained[0]), "--input", str(path)])
        one_line(capsys, "not a regular file (a pipe or a device)", code)
        code = run(["train", "--dataset", str(path), "--quiet", "--no-save"])
        one_line(capsys, "not a regular file (a pipe or a device)", code)
    os.mkfifo(tmp_path / "config.toml")
    code = run(["train", "--config", str(tmp_path / "config.toml"), "--no-save"])
    one_line(capsys, "not a regular file (a pipe or a device)", code)


def test_read_bounded_reads_no_more_than_its_limit(tmp_path):
    from shared.fileio import Unreadable, read_bounded

    (tmp_path / "f").write_bytes(b"x" * 11)
    assert read_bounded(tmp_path / "f", 11) == b"x" * 11
    with pytest.raises(Unreadable, match="larger than"):
        read_bounded(tmp_path / "f", 10)
    with pytest.raises(Unreadable, match="^it is a folder$"):
        read_bounded(tmp_path, 10)
    with pytest.raises(Unreadable, match="^not found$"):
        read_bounded(tmp_path / "none", 10)


# -- 5. no silent wrong result -----------------------------------------------------------------


@pytest.mark.slow
def test_features_that_overflow_a_float32_model_are_refused(trained, tmp_path, capsys):
    data = digits_csv(tmp_path / "huge.csv", scale=1e100)
    out = tmp_path / "p.csv"
    code = run(["predict", str(trained[0]), "--input", str(data), "--out", str(out)])
    one_line(capsys, "beyond the ±1e+18 a float32 model computes with", code)
    assert not out.exists()
    labelled = tmp_path / "labelled.csv"
    rows = [line + ",0" for line in data.read_text().splitlines()]
    labelled.write_text("\n".join(rows) + "\n")
    code = run(["evaluate", str(trained[0]), "--dataset", str(labelled)])
    one_line(capsys, "a float32 model computes with", code)


def test_outputs_that_are_not_finite_are_refused():
    from mlp_tiers.inference import model_outputs
    from shared.errors import DataError

    class Overflowing:
        dtype = "float32"

        def predict_proba(self, x):
            return np.array([[0.5, 0.5], [np.nan, np.nan]])

    with pytest.raises(DataError, match="outputs for row 1 are not finite"):
        model_outputs(Overflowing(), np.zeros((2, 3)), "data.csv")


@pytest.mark.slow
def test_a_numbered_csv_header_is_not_a_sample(trained, tmp_path, capsys):
    data = digits_csv(tmp_path / "pandas.csv", n=7, header=",".join(map(str, range(64))))
    assert run(["predict", str(trained[0]), "--input", str(data)]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 + 7  # the CSV header and one row per sample


@pytest.mark.slow
def test_a_run_folder_path_with_brackets_is_printed_as_it_is(tmp_path, capsys):
    out = tmp_path / "exp [final]"
    assert run(["train", "--epochs", "1", "--hidden", "4", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    line = next(line for line in printed.splitlines() if line.startswith("run folder: "))
    assert Path(line.removeprefix("run folder: ")).is_dir()


# -- 6. markup in data ---------------------------------------------------------------------------


def _named_csv(path, names):
    """A 2-feature CSV whose labels are ``names`` (two classes, separable)."""
    import csv

    rng = np.random.default_rng(0)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["a", "b", "label"])
        for i in range(60):
            x = rng.normal(size=2) + 3 * (i % 2)
            writer.writerow([f"{x[0]:.4f}", f"{x[1]:.4f}", names[i % 2]])
    return path


@pytest.mark.slow
def test_markup_and_dollars_in_names_are_shown_as_text(tmp_path, capsys):
    names = ["[/x]", "$\\frac{a"]
    data = _named_csv(tmp_path / "d [bold]$x$.csv", names)
    out = tmp_path / "runs [/y]"
    assert run(["train", "--dataset", str(data), "--epochs", "1", "--hidden", "4",
                "--out", str(out)]) == 0  # fmt: skip
    printed = capsys.readouterr().out
    assert "[/x]" in printed and "$\\frac{a" in printed and "d [bold]$x$.csv" in printed
    (folder,) = out.iterdir()
    assert {"learning_curves.png", "confusion.png", "boundaries.png"} <= {
        p.name for p in folder.iterdir()
    }
    assert run(["evaluate", str(folder), "--dataset", str(data)]) == 0
    assert "[/x]" in capsys.readouterr().out
    predictions = tmp_path / "p [/z].csv"
    assert run(["predict", str(folder), "--input", str(data), "--label-column", "label",
                "--out", str(predictions)]) == 0  # fmt: skip
    assert "[/x]" in capsys.readouterr().out and predictions.is_file()


def test_the_console_prints_control_characters_as_escapes():
    import io

    from mlp_tiers.console import TextConsole

    buffer = io.StringIO()
    TextConsole(file=buffer, width=200, color_system=None).print("a\x1b[31mred\x07 [bold]b[/bold]")
    assert buffer.getvalue() == "a\\x1b[31mred\\x07 [bold]b[/bold]\n"


def test_one_line_errors_whatever_the_message_quotes(capsys):
    from mlp_tiers.cli.app import guard
    from shared.errors import DataError

    def body():
        raise DataError("cannot read bad\nname\x1b.csv")

    assert guard(body, "prog") == 2
    assert capsys.readouterr().err == "prog: error: cannot read bad\\nname\\x1b.csv\n"


# -- 7. crafted reports --------------------------------------------------------------------------


def _parity_report(tmp_path, steps=(3, 3), loss=2.3, levels=None):
    report = {"tiers": {}}
    for tier, n in zip(("tf-nn", "keras"), steps, strict=True):
        report["tiers"][tier] = {
            "levels": levels or {"forward": {"error": 1e-16}},
            "steps": [{"loss": loss, "reference_loss": 2.3, "error": 1e-16}] * n,
        }
    path = tmp_path / f"parity-{len(list(tmp_path.glob('parity-*')))}.json"
    path.write_text(json.dumps(report))
    return path


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"steps": (3, 5)}, "its tiers have different numbers of steps (tf-nn 3, keras 5)"),
        ({"loss": 1e308}, "tf-nn's loss at step 1 is 1e+308, outside"),
        ({"loss": None}, "tf-nn's loss at step 1 is None, not a number"),
        ({"levels": {"forward": {"error": -1.0}}}, "tf-nn's forward difference is -1"),
        ({"levels": {"forward": []}}, "is not a parity.json written by mlp-tiers parity"),
    ],
)
def test_a_crafted_parity_report_is_refused_in_one_line(kwargs, fragment, tmp_path, capsys):
    path = _parity_report(tmp_path, **kwargs)
    one_line(capsys, fragment, run(["study", "--concept", "forward", "--parity", str(path)]))


def test_a_report_nested_too_deep_is_refused(tmp_path, capsys):
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    code = run(["study", "--concept", "forward", "--parity", str(path)])
    one_line(capsys, "nested too deep", code)


def test_a_good_report_draws(tmp_path):
    from mlp_tiers.study import parity_chart, parity_from_report

    found = parity_from_report(_parity_report(tmp_path))
    assert found.losses == {"tf-nn": [2.3] * 3, "keras": [2.3] * 3}
    assert parity_chart(found).startswith("<svg")


# -- 8. smaller ----------------------------------------------------------------------------------


def test_a_csv_with_a_byte_order_mark_reads_its_header(tmp_path):
    from shared.data.files import read_table

    path = tmp_path / "excel.csv"
    path.write_bytes("\ufeffa,b,label\n1,2,x\n3,4,y\n".encode())
    table = read_table(path)
    assert table.feature_names == ("a", "b") and table.class_names == ("x", "y")


# -- 9. Ctrl-C while the modules load ------------------------------------------------------------

_INTERRUPT_IMPORT = """
import sys
class Interrupting:
    def find_spec(self, name, path=None, target=None):
        if name == {module!r}:
            raise KeyboardInterrupt
sys.meta_path.insert(0, Interrupting())
sys.argv = {argv!r}
{start}
"""


@pytest.mark.parametrize(
    ("module", "start", "prog"),
    [
        ("mlp_tiers.cli.app", "import runpy; runpy.run_module('lowlevel_numpy.train', "
         "run_name='__main__')", "python -m lowlevel_numpy.train"),
        ("rich", "import runpy; runpy.run_module('lowlevel_numpy.train', run_name='__main__')",
         "python -m lowlevel_numpy.train"),
        ("mlp_tiers.cli.app", "from mlp_tiers.cli import main; sys.exit(main())", "mlp-tiers"),
        ("numpy", "from mlp_tiers.cli import main; sys.exit(main())", "mlp-tiers"),
    ],
)  # fmt: skip
def test_ctrl_c_while_a_module_loads_is_one_quiet_line(module, start, prog):
    argv = ["prog"] if "lowlevel" in start else ["mlp-tiers", "datasets"]
    code = _INTERRUPT_IMPORT.format(module=module, start=start, argv=argv)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 130, done.stderr
    assert done.stderr == f"{prog}: interrupted by Ctrl-C\n"


# -- 10. promises kept ---------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["bench", "compare", "parity"])
def test_an_empty_tiers_list_is_refused(command, capsys):
    one_line(capsys, "--tiers names no", run([command, "--tiers", ""]))


# -- any string as a name: one line or success ---------------------------------------------------


# Names as hostile users write them: markup, mathtext, control characters, very long.
NASTY = st.one_of(
    st.sampled_from(
        [
            "[/x]",
            "[bold]",
            "$",
            "$$",
            "$\\frac{",
            "\\",
            ":bug:",
            "\x1b[31m",
            "a\rb",
            "%s",
            "{0}",
            "é€😀",
            "x" * 300,
            " ",
            "-",
            "--epochs",
        ]
    ),
    st.text(min_size=1, max_size=40),
)


def _file_name(text):
    """``text`` as one path component (no slash or NUL, which no file name holds), within the
    255 bytes a name may have."""
    name = text.replace("/", "_").replace("\x00", "_").encode("utf-8", "surrogatepass")
    return name[:200].decode("utf-8", "ignore") or "_"


def _assert_clean(code, capsys):
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    if code != 0:
        assert code in (1, 2), captured.err
        assert len(captured.err.strip().splitlines()) == 1, captured.err
    return captured


@pytest.mark.slow
@settings(max_examples=8, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(first=NASTY, second=NASTY, file=NASTY, tier=NASTY)
def test_any_string_as_a_class_file_or_tier_name_is_success_or_one_line(
    first, second, file, tier, tmp_path_factory, capsys
):
    folder = tmp_path_factory.mktemp("names")
    names = [first, second if second.strip() != first.strip() else second + "2"]
    data = folder / f"{_file_name(file)}.csv"
    try:
        _named_csv(data, names)
    except (OSError, UnicodeEncodeError):  # a name this file system cannot hold
        return
    out = folder / "runs"
    code = run(["train", "--dataset", str(data), "--epochs", "1", "--hidden", "4",
                "--out", str(out)])  # fmt: skip
    _assert_clean(code, capsys)
    _assert_clean(run(["train", "--tier", tier, "--epochs", "1", "--no-save"]), capsys)
    _assert_clean(run(["study", "--concept", "forward", "--parity", str(data)]), capsys)
    _assert_clean(run(["study", "--concept", tier]), capsys)
    if code != 0:
        return
    (run_folder,) = out.iterdir()
    _assert_clean(run(["evaluate", str(run_folder), "--dataset", str(data)]), capsys)
    _assert_clean(run(["evaluate", str(run_folder), "--tier", tier]), capsys)
    predictions = folder / f"{_file_name(file)}-predicted.csv"
    code = run(["predict", str(run_folder), "--input", str(data), "--label-column", "label",
                "--out", str(predictions)])  # fmt: skip
    _assert_clean(code, capsys)
    _assert_clean(run(["study", "--concept", "forward", "--pictures", str(run_folder)]), capsys)
