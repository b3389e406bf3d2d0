"""The notebooks as a student sees them: JupyterLab in headless Chromium (``make browser-check``).

Starts JupyterLab on the repository (a free port, a random token, autosave off so that the
committed notebooks stay clean), then for each notebook: runs all cells from the menu, checks that
no cell failed, and saves screenshots. Notebook 03: the slider labels are not cut, the readouts are
whole degrees, and moving a slider (keyboard) changes the preview image; in the keyframe editor a
dragged slider changes the preview strip and the 3D path, and Save writes a file that ``render
--trajectory`` accepts. Notebook 06: no broken
image before the first Generate, the button is disabled while it runs, the result rows are
labelled. Notebook 01: the 3D figure uses the camera's axes.

Needs Debian's Chromium (``apt-get install chromium``) and playwright (``pip install -e .[browser]``);
playwright's own browser download is not used. Writes PNGs and ``report.json`` to ``--out``
(default ``outputs/browser_check``) and exits 1 if a check fails. Tool for notebooks 01, 03 and 06.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = {
    "01": "01_scale_ambiguity.ipynb",
    "03": "03_landmark_camera_condition.ipynb",
    "06": "06_model_and_inference.ipynb",
}
# JupyterLab settings for this run only: no autosave (the notebooks are committed without outputs), every
# cell in the DOM (the default windowing detaches cells scrolled out of view), no news pop-up
SETTINGS = {
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false"},
}


class CheckFailed(AssertionError):
    pass


def check(condition: bool, what: str, report: dict) -> None:
    report.setdefault("checks", []).append({"check": what, "ok": bool(condition)})
    print(("  ok    " if condition else "  FAIL  ") + what, flush=True)
    if not condition:
        raise CheckFailed(what)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_lab(settings_dir: Path, port: int, token: str, log) -> subprocess.Popen:
    for name, values in SETTINGS.items():
        path = settings_dir / "user-settings" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    cmd = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        f"--port={port}",
        "--ServerApp.ip=127.0.0.1",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={ROOT}",
        f"--LabApp.user_settings_dir={settings_dir / 'user-settings'}",
        f"--LabApp.workspaces_dir={settings_dir / 'workspaces'}",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + 60
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"JupyterLab exited with code {proc.returncode}; see {log.name}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status?token={token}", timeout=2)
            return proc
        except OSError:
            time.sleep(0.5)
    proc.terminate()
    raise RuntimeError(f"JupyterLab did not answer within 60 s; see {log.name}")


def open_notebook(page, port: int, token: str, name: str) -> None:
    page.goto(f"http://127.0.0.1:{port}/lab/tree/notebooks/{name}?token={token}&reset")  # reset: only this tab
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
    page.wait_for_function(
        "() => /\\| Idle/.test(document.querySelector('.jp-StatusBar-Widget')?.textContent ?? '')", timeout=120_000
    )


def run_menu(page, item: str, timeout_s: float, until: str = "") -> float:
    """Run > ``item``; waits until no cell is running and every code cell (or, with ``until``, the cell
    containing that text) has an execution count. Returns seconds."""
    t0 = time.time()
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(f"^{re.escape(item)}$")).click()
    page.wait_for_function(
        """until => {
            const cells = [...document.querySelectorAll('.jp-CodeCell')];
            const prompt = c => c.querySelector('.jp-InputArea-prompt').textContent;
            if (cells.some(c => prompt(c).includes('*'))) return false;
            const done = c => /\\[\\d+\\]/.test(prompt(c));
            return until ? cells.some(c => c.textContent.includes(until) && done(c)) : cells.every(done);
        }""",
        arg=until,
        timeout=timeout_s * 1000,
    )
    return time.time() - t0


def select_cell(page, text: str) -> None:
    page.locator(".jp-CodeCell", has_text=text).first.locator(".jp-InputPrompt").click()


def failed_cells(page) -> list[str]:
    """Error outputs (tracebacks) of the open notebook, first line of each."""
    texts = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']").all_inner_texts()
    return [t.strip().splitlines()[0] for t in texts if "Traceback" in t or "Error" in t.splitlines()[0]]


def stderr_outputs(page) -> int:
    return page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']").count()


def shot(locator, path: Path, report: dict) -> None:
    locator.scroll_into_view_if_needed()
    locator.screenshot(path=path)
    report.setdefault("screenshots", []).append(str(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path))


def widget_panel(page):
    """The output area of the first cell that displays widgets (the slider panel)."""
    return page.locator(".jp-OutputArea-output", has=page.locator(".widget-slider")).first


def check_sliders(page, report: dict) -> None:
    labels = page.locator(".widget-slider .widget-label")
    cut = labels.evaluate_all("els => els.filter(e => e.scrollWidth > e.clientWidth).map(e => e.textContent)")
    texts = labels.all_inner_texts()
    report["slider_labels"] = texts
    check(len(texts) == 6 and not cut, f"six slider labels, none cut ({texts}; cut: {cut})", report)
    readouts = page.locator(".widget-slider .widget-readout").all_inner_texts()
    report["slider_readouts"] = readouts
    whole = all(re.fullmatch(r"[-\u2212]?\d+", r.strip()) for r in readouts)  # d3 writes minus as U+2212
    check(whole, f"readouts are whole degrees {readouts}", report)


def run_all(page, report: dict, timeout_s: float) -> None:
    report["run_all_seconds"] = round(run_menu(page, "Run All Cells", timeout_s), 1)
    print(f"  ran all cells in {report['run_all_seconds']} s", flush=True)
    no_failures(page, report)


def no_failures(page, report: dict) -> None:
    failed = failed_cells(page)
    report["stderr_outputs"] = stderr_outputs(page)
    check(not failed, f"no cell failed {failed}", report)


def drag(page, slider, key: str, presses: int, preview, src: str) -> None:
    """Move ``slider`` by keyboard (as a drag does, step by step) until ``preview`` shows a new image."""
    handle = slider.locator(".noUi-handle").first
    handle.focus()
    for _ in range(presses):
        handle.press(key)
    page.wait_for_function(
        "([img, src]) => img.src !== src && img.complete && img.naturalWidth > 0",
        arg=[preview.element_handle(), src],
        timeout=30_000,
    )


def check_03(page, out: Path, report: dict, timeout_s: float) -> None:
    run_all(page, report, timeout_s)
    panel = widget_panel(page)
    panel.wait_for(timeout=60_000)
    check_sliders(panel, report)  # the orbit panel's six; the keyframe editor below has its own
    preview = panel.locator("img").first
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=preview.element_handle())
    shot(panel, out / "03_sliders_before.png", report)
    before = preview.get_attribute("src")
    value_before = panel.locator(".widget-slider .widget-readout").first.inner_text()
    drag(page, panel.locator(".widget-slider").first, "ArrowRight", 10, preview, before)
    value_after = panel.locator(".widget-slider .widget-readout").first.inner_text()
    report["slider_move"] = {"azimuth start": [value_before, value_after]}
    check(
        preview.get_attribute("src") != before,
        f"azimuth start {value_before} -> {value_after}: preview changed",
        report,
    )
    shot(panel, out / "03_sliders_after.png", report)
    check_03_editor(page, out, report)


def _path_data(view) -> str:
    """The cameras' coordinates drawn by the editor's 3D view (its plotly traces, as JSON)."""
    return view.locator(".js-plotly-plot").first.evaluate("el => JSON.stringify(el.data.map(t => [t.x, t.y, t.z]))")


def check_03_editor(page, out: Path, report: dict) -> None:
    """The keyframe editor: a slider dragged (keyboard) changes the preview strip and the 3D path;
    Save writes a file that ``render --trajectory`` accepts."""
    editor = page.locator(".jp-OutputArea-output", has=page.locator(".widget-dropdown", has_text="keyframe")).first
    editor.wait_for(timeout=60_000)
    editor.locator(".js-plotly-plot").first.wait_for(timeout=60_000)
    page.wait_for_timeout(1500)  # the 3D view draws after the element exists
    shot(editor, out / "03_editor_before.png", report)
    preview = editor.locator("img").first
    src, path = preview.get_attribute("src"), _path_data(editor)
    slider = editor.locator(".widget-slider", has_text="azimuth").first
    readout = slider.locator(".widget-readout")
    value_before = readout.inner_text()
    drag(page, slider, "ArrowLeft", 15, preview, src)
    page.wait_for_timeout(1500)
    value_after = readout.inner_text()
    moved = _path_data(editor) != path
    report["editor_drag"] = {"azimuth": [value_before, value_after], "path_changed": moved}
    changed = preview.get_attribute("src") != src
    check(changed, f"editor azimuth {value_before} -> {value_after}: preview changed", report)
    check(moved, "editor: the 3D path changed with the slider", report)
    shot(editor, out / "03_editor_after.png", report)
    saved = out / "03_editor_saved.json"
    saved.unlink(missing_ok=True)
    box = editor.locator(".widget-text", has_text="file").locator("input")
    box.fill(str(saved))
    box.press("Enter")
    editor.locator("button", has_text=re.compile("^save$")).click()
    deadline = time.time() + 30
    while not saved.is_file() and time.time() < deadline:
        time.sleep(0.2)
    status = editor.locator(".widget-label", has_text="saved").first.inner_text() if saved.is_file() else ""
    check(saved.is_file() and str(saved) in status, f"Save wrote {saved.name} ({status[:80]})", report)
    with tempfile.TemporaryDirectory() as tmp:  # what render --trajectory makes of it
        cmd = [sys.executable, "-m", "facecam_kit", "render", "--video", str(ROOT / "data_samples/sample_clip.mp4")]
        cmd += ["--trajectory", str(saved), "--out", tmp, "--frames", "9", "--height", "128", "--width", "96"]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=ROOT)
    report["editor_render"] = {"returncode": r.returncode, "stderr_tail": r.stderr.strip().splitlines()[-1:]}
    check(r.returncode == 0, f"render --trajectory {saved.name} accepts it (exit {r.returncode})", report)


def check_01(page, out: Path, report: dict, timeout_s: float) -> None:
    run_all(page, report, timeout_s)
    figure = page.locator(".jp-OutputArea-output.js-plotly-plot").first
    figure.wait_for(timeout=60_000)
    page.wait_for_timeout(1500)  # WebGL draws after the element exists
    scene = figure.evaluate("el => el.layout.scene")
    axes = [scene[f"{a}axis"]["title"]["text"] for a in "xyz"]
    report["figure_01_axes"] = axes
    check(axes == ["x (right)", "y (down)", "z (forward)"], f"3D axes in the camera convention {axes}", report)
    shot(figure, out / "01_scenes_3d.png", report)


def check_06(page, out: Path, report: dict, timeout_s: float) -> None:
    # the cells up to the panel, as a student meets it: the cell after it presses Generate from code
    select_cell(page, "r = on_generate()")
    seconds = run_menu(page, "Run All Above Selected Cell", timeout_s, until="button.on_click")
    report["run_to_panel_seconds"] = round(seconds, 1)
    print(f"  ran the cells up to the panel in {seconds:.1f} s", flush=True)
    no_failures(page, report)
    panel = widget_panel(page)
    check_sliders(panel, report)  # the orbit sliders; the keyframe editor is displayed below the panel
    page.wait_for_timeout(1000)  # the first preview
    broken = panel.locator("img").evaluate_all(
        "els => els.filter(e => e.offsetParent !== null && !(e.complete && e.naturalWidth > 0)).length"
    )
    check(broken == 0, f"no broken image before the first Generate ({broken})", report)
    shot(panel, out / "06_before_generate.png", report)
    button = panel.locator("button", has_text="Generate")
    bar = panel.locator(".widget-hprogress .widget-label").first
    t0 = time.time()
    button.click()
    page.wait_for_function("b => b.disabled", arg=button.element_handle(), timeout=10_000)
    check(True, "Generate is disabled while it runs", report)
    page.wait_for_function(  # the bar moves during the run, not only at its end
        "el => { const m = el.textContent.match(/step (\\d+)\\/(\\d+)/); return m && +m[1] > 0 && +m[1] < +m[2]; }",
        arg=bar.element_handle(),
        timeout=timeout_s * 1000,
    )
    report["progress_seen"] = bar.inner_text()
    check(True, f"progress shown during the run ({report['progress_seen']})", report)
    shot(panel, out / "06_generating.png", report)
    page.wait_for_function("b => !b.disabled", arg=button.element_handle(), timeout=timeout_s * 1000)
    report["generate_seconds"] = round(time.time() - t0, 1)
    report["generate_status"] = panel.locator(".widget-label", has_text="done in").first.inner_text()
    labels = [t.strip() for t in panel.locator(".widget-hbox > .widget-label").all_inner_texts()]
    rows = [t for t in labels if t in ("input", "condition", "truth", "generated")]
    # without weights FaceCam-mini films a held-out studio head, whose truth is shown beside it
    check(rows == ["input", "condition", "truth", "generated"], f"result rows labelled {rows}", report)
    images = panel.locator("img").evaluate_all("els => els.map(e => e.complete && e.naturalWidth > 0)")
    check(all(images) and len(images) == 5, f"the preview and four result rows shown ({images})", report)
    shot(panel, out / "06_after_generate.png", report)
    select_cell(page, "r = on_generate()")
    report["run_rest_seconds"] = round(run_menu(page, "Run Selected Cell and All Below", timeout_s), 1)
    no_failures(page, report)


CHECKS = {"01": check_01, "03": check_03, "06": check_06}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "outputs" / "browser_check", help="screenshots and report")
    parser.add_argument("--notebooks", nargs="+", default=list(NOTEBOOKS), choices=list(NOTEBOOKS))
    parser.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    parser.add_argument("--timeout", type=float, default=900, help="seconds for one notebook's Run All")
    args = parser.parse_args(argv)
    if not Path(args.chromium).exists():
        parser.error(f"--chromium {args.chromium} not found; install Debian's chromium (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        parser.error("playwright is not installed; run: pip install -e '.[browser]'")
    args.out.mkdir(parents=True, exist_ok=True)
    report = {"notebooks": {}}
    port, token = free_port(), secrets.token_hex(16)
    ok = True
    with tempfile.TemporaryDirectory() as tmp, open(args.out / "jupyterlab.log", "w") as log:
        lab = start_lab(Path(tmp), port, token, log)
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=args.chromium, args=["--no-sandbox"])
                for key in args.notebooks:
                    name = NOTEBOOKS[key]
                    print(f"{name}:", flush=True)
                    rep = report["notebooks"][name] = {}
                    page = browser.new_page(viewport={"width": 1400, "height": 1800})
                    try:
                        open_notebook(page, port, token, name)
                        CHECKS[key](page, args.out, rep, args.timeout)
                    except Exception as e:  # one notebook's failure is reported, the others still run
                        ok = False
                        rep["error"] = f"{type(e).__name__}: {e}".splitlines()[0]
                        page.screenshot(path=args.out / f"{key}_failure.png")
                        if not isinstance(e, CheckFailed):
                            print(f"  FAIL  {rep['error']}", flush=True)
                    finally:
                        page.close()
                browser.close()
        finally:
            lab.terminate()
            lab.wait(timeout=30)
    report["ok"] = ok
    (args.out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"{'all checks passed' if ok else 'FAILED'}; screenshots and report.json in {args.out}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
