"""Keystroke to markers in the studio: how long after a key is typed the linter's marker shows
on the page, in headless Chromium against a real ``pipeline-rules studio`` process.

    python benchmarks/bench_studio.py [--edits 20] [--stages 2000] [--transitions 10000]

For each ruleset (the reference regulation, and a seeded one of ``--stages`` stages made as
``bench_lint.py`` makes it), the page is opened and ``--edits`` times a typo is typed into a key
(``stage`` → ``stagex``; in the generated one ``title`` → ``titlex``) as one keystroke: the time
runs from the keystroke to the marker drawn on that line. Each typo is then undone and its
marker's going awaited, unmeasured. The time includes the editor's pause after typing (150 ms:
it lints when typing stops, not on every key), the request, the lint and the drawing. Prints the
median and the spread of the measured edits; the target on the reference is 300 ms.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_lint import generate  # noqa: E402

from tests.studio_browser import (  # noqa: E402
    browser,
    chromium_path,
    open_studio,
    running_studio,
)

#: Types one character into the editor at ``at`` as a keystroke does, and resolves with the
#: milliseconds until a lint marker is drawn on that line.
TYPE_AND_WAIT = """async ([at, insert, timeout]) => {
    const view = window.studio.view;
    const root = document.querySelector('#editor').shadowRoot;
    view.dispatch({selection: {anchor: at}, scrollIntoView: true});
    await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
    const line = view.state.doc.lineAt(at).number;
    const marked = () => Array.from(root.querySelectorAll('.cm-lintRange-error')).some(r => {
        const el = r.closest('.cm-line');
        return el && view.state.doc.lineAt(view.posAtDOM(el)).number === line; });
    const started = performance.now();
    view.dispatch({changes: {from: at, insert}, selection: {anchor: at + insert.length},
                   userEvent: 'input.type'});
    return await new Promise((resolve, reject) => {
        const tick = () => {
            if (marked()) resolve(performance.now() - started);
            else if (performance.now() - started > timeout) reject(new Error('no marker'));
            else requestAnimationFrame(tick);
        };
        requestAnimationFrame(tick);
    });
}"""

UNDO_AND_WAIT = """async ([at, length, timeout]) => {
    const view = window.studio.view;
    const root = document.querySelector('#editor').shadowRoot;
    view.dispatch({changes: {from: at, to: at + length}, userEvent: 'delete'});
    const started = performance.now();
    const before = Number(document.body.dataset.checked || 0);
    return await new Promise((resolve, reject) => {
        const tick = () => {
            const done = Number(document.body.dataset.checked || 0) > before
                && root.querySelectorAll('.cm-lintRange-error').length === 0;
            if (done) resolve(performance.now() - started);
            else if (performance.now() - started > timeout) reject(new Error('marker stays'));
            else requestAnimationFrame(tick);
        };
        requestAnimationFrame(tick);
    });
}"""


def measure(launched: Any, folder: Path, name: str, key: str, edits: int) -> list[float]:
    """Milliseconds from each typo to its marker, ``edits`` times."""
    with running_studio(folder) as studio:
        page, seen = open_studio(launched, studio, query=f"?file={name}")
        page.wait_for_function(f"() => window.studio.state.file === {name!r}")
        text: str = page.evaluate("window.studio.view.state.doc.toString()")
        spots = [i for i in range(len(text)) if text.startswith(key, i)
                 and text[i - 1] in " {"]
        step = max(1, len(spots) // edits)
        times = []
        for n in range(edits):
            at = spots[(n * step) % len(spots)] + len(key)
            times.append(page.evaluate(TYPE_AND_WAIT, [at, "x", 60_000]))
            page.evaluate(UNDO_AND_WAIT, [at, 1, 60_000])
        assert not seen.errors and not seen.console, (seen.errors, seen.console)
        page.context.close()
    return times


def report(label: str, times: list[float]) -> None:
    ordered = sorted(times)
    print(f"{label}: median {statistics.median(times):.0f} ms over {len(times)} edits "
          f"(min {ordered[0]:.0f}, p90 {ordered[int(len(ordered) * 0.9) - 1]:.0f}, "
          f"max {ordered[-1]:.0f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edits", type=int, default=20)
    parser.add_argument("--stages", type=int, default=2000)
    parser.add_argument("--transitions", type=int, default=10_000)
    args = parser.parse_args()
    if chromium_path() is None:
        sys.exit("needs the chromium binary (apt-get install chromium)")
    with tempfile.TemporaryDirectory() as scratch, browser() as launched:
        folder = Path(scratch) / "rulesets"
        folder.mkdir()
        shutil.copy(ROOT / "rulesets" / "b2b_sales.yaml", folder / "b2b_sales.yaml")
        generated = generate(args.stages, args.transitions)
        (folder / "generated.yaml").write_text(generated, "utf-8")
        size = len((folder / "b2b_sales.yaml").read_bytes())
        print(f"reference: rulesets/b2b_sales.yaml ({size:,} bytes); generated: "
              f"{args.stages:,} stages, "
              f"{args.transitions:,} transitions ({len(generated.encode()):,} bytes)")
        reference = measure(launched, folder, "b2b_sales.yaml", "stage", args.edits)
        report("keystroke to markers, reference regulation", reference)
        big = measure(launched, folder, "generated.yaml", "title", args.edits)
        report(f"keystroke to markers, {args.stages:,}-stage ruleset", big)
        print(f"ratio generated / reference (medians, this run): "
              f"{statistics.median(big) / statistics.median(reference):.1f}")


if __name__ == "__main__":
    main()
