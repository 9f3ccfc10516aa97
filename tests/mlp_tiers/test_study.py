"""The study page: every concept with its formula and three code columns quoted from the real
source, parity figures, the terminal view, and the page in a real browser."""

import base64
import html
import json
import re
import shutil

import pytest

from mlp_tiers import concepts, study
from mlp_tiers.cli import main as mlp_tiers
from mlp_tiers.concepts import CONCEPTS, MissingDefinition

PARITY = study.Parity(
    levels={"tf-nn": {"forward": 1e-16, "loss": 0.0, "gradients": 2e-16, "update": 3e-16,
                      "steps": 4e-16}},
    reference_losses=[2.3, 2.1, 1.9],
    losses={"tf-nn": [2.3, 2.1, 1.9]},
    errors={"tf-nn": [0.0, 2e-16, 4e-16]},
    source="given by the test",
)  # fmt: skip


def text_of(page):
    """The page's visible text, tags removed."""
    return html.unescape(re.sub(r"<[^>]+>", "", page))


@pytest.fixture(scope="module")
def page():
    return study.render(study.sections(PARITY), "made by the test", PARITY)


def test_every_concept_has_a_section_with_a_formula_and_three_code_columns(page):
    found = re.findall(r'<section id="([a-z_]+)" class="concept">', page)
    assert found == [c.key for c in CONCEPTS]
    for chunk in page.split('<section id="')[1 : 1 + len(CONCEPTS)]:
        assert "<math" in chunk, chunk[:40]
        columns = re.findall(r'<div class="column" data-column="(\w+)">', chunk)
        assert columns == ["numpy", "tf", "keras"], chunk[:40]
        assert 'class="parity"' in chunk


def test_the_code_shown_is_the_source_itself(page):
    import inspect

    from lowlevel_numpy.tier import NumpyTier

    source = inspect.getsource(NumpyTier.train_step)
    for line in source.splitlines():
        if line.strip():
            assert line.strip() in text_of(page), line
    assert "grads = tape.gradient(loss, self.model.parameters)" in text_of(page)  # TensorFlow


def test_the_optimizer_section_offers_every_optimizer(page):
    chunk = page.split('<section id="apply_update"')[1].split("</section>")[0]
    assert re.findall(r'<button type="button" data-optimizer="(\w+)"', chunk) == ["sgd", "momentum", "nesterov", "adam",
                                                         "rmsprop"]  # fmt: skip
    for name in ("SGD", "Momentum", "Nesterov", "Adam", "RMSprop"):
        assert f"lowlevel_numpy.optimizers:{name}</code>" in chunk
        assert f"midlevel_tf.optimizers:{name}</code>" in chunk


def test_parity_figures_are_shown_at_each_concept_s_level(page):
    forward = page.split('<section id="forward"')[1].split("</section>")[0]
    assert "Parity at the <b>forward</b> level" in forward and "tf-nn 1.0e-16" in forward
    update = page.split('<section id="apply_update"')[1].split("</section>")[0]
    assert "<b>update</b>" in update and "tf-nn 3.0e-16" in update


def test_the_page_draws_the_losses_and_differences_per_step(page):
    chart = page.split('<section id="parity"')[1].split("</section>")[0]
    assert "<svg" in chart and "given by the test" in chart
    assert "Loss of each step" in chart and "difference from the NumPy tier" in chart


def test_renaming_a_quoted_function_fails_and_names_it(tmp_path, monkeypatch):
    original = concepts.module_path("lowlevel_numpy.model")
    renamed = tmp_path / "model.py"
    renamed.write_text(original.read_text().replace("def forward(", "def forward_pass("))
    real = concepts.module_path
    monkeypatch.setattr(
        concepts, "module_path",
        lambda module: renamed if module == "lowlevel_numpy.model" else real(module),
    )  # fmt: skip
    with pytest.raises(MissingDefinition, match=r"model.py defines no 'MLP.forward'"):
        study.sections()


def test_lines_count_code_not_docstrings_comments_or_blank_lines():
    code = '''def f(x):
    """A docstring
    of two lines."""
    # a comment
    y = x + 1  # counted

    return (y,
            y)
'''
    assert study.count_code_lines(code) == 4  # def, y =, and the two lines of the return


def test_study_writes_one_self_contained_page_from_a_parity_report(tmp_path, capsys):
    report = tmp_path / "parity.json"
    steps = [
        {"step": 1, "loss": 2.0, "reference_loss": 2.0, "error": 1e-16},
        {"step": 2, "loss": 1.5, "reference_loss": 1.5, "error": 3e-16},
    ]
    report.write_text(json.dumps({"tiers": {"keras": {"steps": steps, "levels": {
        level: {"error": 5e-16} for level in ("forward", "loss", "gradients", "update", "steps")
    }}}}))  # fmt: skip
    assert mlp_tiers(["study", "--out", str(tmp_path / "page"), "--parity", str(report)]) == 0
    page = (tmp_path / "page" / "index.html").read_text()
    assert "keras 5.0e-16" in page and f"read from {report}" in page
    assert '<section id="parity"' in page and "<svg" in page
    assert not re.search(r'(src|href)="(https?:)?//', page)  # nothing from the network
    assert "study page:" in capsys.readouterr().out


def section_of(page, key):
    return page.split(f'<section id="{key}"')[1].split("</section>")[0]


def test_pictures_sit_in_the_sections_they_illustrate(page):
    pictures = study.Pictures(
        {"learning_curves.png": b"curves", "boundaries.png": b"regions", "confusion.png": b"cm"},
        "numpy on spirals",
    )
    shown = study.render(study.sections(PARITY), "made by the test", PARITY, pictures)
    images = re.findall(r'<section id="(\w+)"|<img alt="([\w.]+)" src="data:image/png;base64,'
                        r'([^"]+)"', shown)  # fmt: skip
    where, section = [], None
    for key, name, data in images:
        section = key or section
        if name:
            where.append((section, name, base64.b64decode(data)))
    assert where == [
        ("fit", "learning_curves.png", b"curves"),
        ("predict_proba", "boundaries.png", b"regions"),
        ("predict_proba", "confusion.png", b"cm"),
    ]
    assert "Trained side by side: numpy on spirals." in text_of(section_of(shown, "fit"))
    assert "<img" not in page  # no pictures given, none shown


@pytest.fixture(scope="module")
def compare_run(tmp_path_factory):
    """A real run folder of mlp-tiers compare: the NumPy tier on spirals for two epochs."""
    out = tmp_path_factory.mktemp("compare")
    argv = ["compare", "--tiers", "numpy", "--dataset", "spirals", "--epochs", "2", "--out"]
    assert mlp_tiers([*argv, str(out)]) == 0
    (folder,) = list(out.iterdir())
    return folder


def test_study_shows_the_pictures_of_a_compare_run(compare_run, tmp_path, capsys):
    report = tmp_path / "parity.json"
    report.write_text(json.dumps({"tiers": {}}))
    argv = ["study", "--out", str(tmp_path / "page"), "--parity", str(report),
            "--pictures", str(compare_run)]  # fmt: skip
    assert mlp_tiers(argv) == 0
    page = (tmp_path / "page" / "index.html").read_text()
    for key, name in (("fit", "learning_curves.png"), ("predict_proba", "boundaries.png"),
                      ("predict_proba", "confusion.png")):  # fmt: skip
        data = re.search(f'<img alt="{re.escape(name)}" src="data:image/png;base64,([^"]+)"',
                         section_of(page, key))  # fmt: skip
        assert data, (key, name)
        assert base64.b64decode(data.group(1)) == (compare_run / name).read_bytes()
    caption = text_of(section_of(page, "fit"))
    run = "numpy on spirals: 2-128-64-3 relu, adam lr 0.001, batch 32, 2 epochs, float32"
    assert run in caption
    assert not (tmp_path / "page" / "compare-spirals").exists()  # nothing trained


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--concept", "backprop"], "--concept must be one of parameters, forward, loss"),
        (["--parity", "missing.json"], "cannot read --parity missing.json: not found"),
        (["--out", "a-file"], "is a file; give a folder for the study page"),
        (
            ["--pictures", "nowhere"],
            "--pictures nowhere: not found; give a run folder of mlp-tiers",
        ),
        (
            ["--pictures", "empty"],
            "--pictures empty is not a run folder of mlp-tiers compare (it holds no compare.json)",
        ),
    ],
)
def test_study_refuses_bad_flags_in_one_line(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a-file").write_text("")
    (tmp_path / "empty").mkdir()
    assert mlp_tiers(["study", "--out", str(tmp_path), *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


def test_one_concept_in_the_terminal(tmp_path, capsys):
    report = tmp_path / "parity.json"
    report.write_text(json.dumps({"tiers": {}}))
    assert mlp_tiers(["study", "--concept", "forward", "--parity", str(report)]) == 0
    out = capsys.readouterr().out
    assert "Forward pass" in out and "NumPy" in out and "TensorFlow" in out and "Keras" in out
    assert "def forward(self, x" in out


def chromium_path():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.mark.slow
@pytest.mark.skipif(chromium_path() is None, reason="needs Chromium (apt-get install chromium)")
def test_the_page_in_a_real_browser(tmp_path):
    """The page ``mlp-tiers study`` writes as a fresh clone runs it: the parity figures measured
    and the tiers trained for the pictures at generation time."""
    playwright = pytest.importorskip("playwright.sync_api", reason="needs playwright (dev extra)")
    assert mlp_tiers(["study", "--out", str(tmp_path)]) == 0
    path = tmp_path / "index.html"
    report = json.loads((tmp_path / "compare-spirals" / "compare.json").read_text())
    # The command the page's caption names is the run the pictures come from.
    words = study.PICTURE_FLAGS.split()
    flags = dict(zip(words[::2], words[1::2], strict=True))
    assert flags["--dataset"] == report["dataset"]["name"] == "spirals"
    assert [int(n) for n in flags["--hidden"].split(",")] == report["model"]["hidden"]
    assert float(flags["--lr"]) == report["train"]["lr"]
    assert int(flags["--epochs"]) == report["train"]["epochs"]
    errors, requests = [], []
    with playwright.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("request", lambda r: requests.append(r.url))
        page.goto(path.as_uri())
        page.wait_for_load_state("load")
        for concept in CONCEPTS:
            section = page.locator(f"section#{concept.key}")
            assert section.locator("math").first.is_visible(), concept.key
            assert section.locator(".column").count() == 3, concept.key
            assert section.locator(".parity").is_visible(), concept.key
        # The toggles: one optimizer at a time, tf-layers one click away.
        update = page.locator("section#apply_update")
        assert update.locator('.formula[data-optimizer="sgd"]').is_visible()
        assert not update.locator('.formula[data-optimizer="adam"]').is_visible()
        update.locator('button[data-optimizer="adam"]').click()
        assert update.locator('.formula[data-optimizer="adam"]').is_visible()
        assert update.locator('button[data-optimizer="adam"]').get_attribute("class") == "on"
        assert update.locator('button[data-optimizer="sgd"]').get_attribute("class") == ""
        assert update.locator('figure[data-optimizer="adam"]').first.is_visible()
        assert not update.locator('.formula[data-optimizer="sgd"]').is_visible()
        # The loss, its gradient and prediction: a classifier's formula, a regressor's a click
        # away.
        loss = page.locator("section#loss")
        assert loss.locator('.formula[data-task="classification"]').is_visible()
        assert not loss.locator('.formula[data-task="regression"]').is_visible()
        loss.locator('button[data-task="regression"]').click()
        assert loss.locator('.formula[data-task="regression"]').is_visible()
        assert not loss.locator('.formula[data-task="classification"]').is_visible()
        # The pictures of the tiers trained side by side, decoded and shown where they belong:
        # the classifier's, then the regressor's.
        for key, names in (("fit", ["learning_curves.png"] * 2),
                           ("predict_proba", ["boundaries.png", "confusion.png", "fit.png",
                                              "predicted.png", "residuals.png"])):  # fmt: skip
            for index, name in enumerate(names):
                image = page.locator(f'section#{key} img[alt="{name}"]').nth(
                    index if names.count(name) > 1 else 0
                )
                image.scroll_into_view_if_needed()
                assert image.is_visible(), name
                assert image.evaluate("img => img.complete && img.naturalWidth > 300"), name
        for index, kind in enumerate(("pictures", "regression")):
            page.locator("section#predict_proba .pictures").nth(index).screenshot(
                path=str(tmp_path / f"{kind}.png")
            )
        page.locator("section#forward").scroll_into_view_if_needed()
        forward = page.locator("section#forward")
        count = 'h3 .lines[data-flavour="{}"]'
        assert not forward.locator('.flavour[data-flavour="tf-layers"]').is_visible()
        assert not forward.locator(count.format("tf-layers")).is_visible()
        forward.locator('button[data-flavour="tf-layers"]').click()
        assert forward.locator('.flavour[data-flavour="tf-layers"]').is_visible()
        # The column's line count is the flavour's shown.
        assert forward.locator(count.format("tf-layers")).is_visible()
        assert not forward.locator(count.format("tf-nn")).is_visible()
        page.screenshot(path=str(tmp_path / "study.png"), full_page=False)
        # No sideways scrolling at a laptop's width or a desktop's: the navigation wraps.
        for width in (1024, 1400):
            page.set_viewport_size({"width": width, "height": 900})
            wide = page.evaluate("document.documentElement.scrollWidth")
            assert wide <= width, (width, wide)
            links = page.locator("nav a")
            last = links.nth(links.count() - 1).bounding_box()
            assert last["x"] + last["width"] <= width, width  # every link on screen
        browser.close()
    assert errors == []
    assert all(url.startswith("file://") for url in requests), requests
    assert (tmp_path / "study.png").stat().st_size > 10_000
    assert (tmp_path / "pictures.png").stat().st_size > 10_000
    assert (tmp_path / "regression.png").stat().st_size > 10_000


def test_every_formula_renders_without_latex_left_over():
    """latex2mathml passes a command it does not know through as text (``\\arg`` once showed as
    "\\arg max"): no rendered formula may hold a backslash, or an unmatched brace, as text."""
    import re

    for key, formulas in study.FORMULAS.items():
        for name, latex in formulas.items():
            texts = re.findall(r">([^<]+)<", study.mathml(latex))
            assert not [t for t in texts if "\\" in t or t.strip() in ("{", "}")], (key, name)


def test_open_without_a_browser_says_where_the_page_is(tmp_path, monkeypatch, capsys):
    import webbrowser

    def page(out, *args, **kwargs):
        out.mkdir(parents=True, exist_ok=True)
        (out / "index.html").write_text("<html></html>")
        return out / "index.html"

    monkeypatch.setattr(study, "make_page", page)
    monkeypatch.setattr(webbrowser, "open", lambda url: False)  # what no browser returns
    assert mlp_tiers(["study", "--out", str(tmp_path), "--open"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert f"--open: no web browser found here; open {tmp_path / 'index.html'}" in out


def _section_html(page, key):
    return page.split(f'<section id="{key}"')[1].split("</section>")[0]


def test_code_is_shown_once_and_pointed_to_from_a_later_concept(page):
    """The Keras column once repeated the whole build_model under parameters and forward."""
    import inspect

    from highlevel_keras.tier import build_model

    line = inspect.getsource(build_model).splitlines()[0].strip()
    assert text_of(page).count(line) == 1
    forward = _section_html(page, "forward")
    keras = forward.split('data-column="keras"')[1]
    assert ("highlevel_keras.tier:build_model</code>, shown under "
            '<a href="#parameters">Parameters and initialization</a>') in keras  # fmt: skip
    assert '<span class="lines">0 lines</span>' in keras
    # the first concept that shows it keeps the code and counts its lines
    parameters = _section_html(page, "parameters").split('data-column="keras"')[1]
    assert line in html.unescape(re.sub(r"<[^>]+>", "", parameters))


def test_the_measured_parity_chart_shows_a_network_that_learns():
    """The default chart once showed SGD at lr 0.001 on digits: a loss that wandered above
    chance for all 20 steps."""
    import math

    losses = study.measure_parity([]).reference_losses
    chance = math.log(10)  # ten classes, uniform predictions
    assert len(losses) == 20 and losses[0] > chance
    assert max(losses[-5:]) < chance - 0.5 and losses[-1] < 0.6 * losses[0]


def test_the_optimizer_line_counts_compare_the_same_rules(page):
    """The NumPy column once counted an in-place speed form of the rules (67 lines against
    TensorFlow's 14): both columns now show the base class's loop and the five rules, written
    as their formulas, so the counts differ by a few lines, not a factor."""
    counts = {}
    for column in ("numpy", "tf-nn"):
        snippets = study.section(concepts.concept("apply_update")).code[column]
        assert [s.ref.rpartition(":")[2] for s in snippets] == [
            "Optimizer.apply_update", "SGD", "Momentum", "Nesterov", "Adam", "RMSprop"]  # fmt: skip
        counts[column] = sum(s.lines for s in snippets)
    assert 0.8 < counts["numpy"] / counts["tf-nn"] < 1.25, counts
