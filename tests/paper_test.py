#!/usr/bin/env python3
"""The paper and the committed results agree.

  paper_test.py            (run by CTest as `paper`)

1. paper/gen/*.tex and results/README.md are what `scripts/results numbers`
   generates from results/*/summary.csv now (regenerated into a temporary
   directory and compared file by file), and every statement the paper makes
   unconditionally still holds (`scripts/results check`).
2. Every \\input and \\includegraphics of paper/ names a file that exists
   (\\resdir expanded from paper/gen/numbers.tex).
3. scripts/results takes --tag before or after its command, prints usage
   errors in one line, and names macros of any valid experiment name (s2 ->
   \\repsSTwo), refusing a name clash before it copies anything.
4. When latexmk is installed: the paper builds (in a temporary copy, so the
   source tree gets no build products) with no undefined reference or
   citation. Without latexmk, checks 1 to 3 still run and the test exits 77,
   which CTest reports as skipped (SKIP_RETURN_CODE).
"""
import filecmp
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PAPER = os.path.join(ROOT, "paper")
RESULTS_SCRIPT = os.path.join(ROOT, "scripts", "results")
SKIP = 77

failures = []


def check(cond, msg):
    if not cond:
        failures.append(msg)
        print(f"FAIL: {msg}", file=sys.stderr)


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=kw.pop("timeout", 120), **kw)


def test_numbers_in_sync():
    with tempfile.TemporaryDirectory(prefix="paper_test.") as tmp:
        gen, readme = os.path.join(tmp, "gen"), os.path.join(tmp, "README.md")
        p = run([sys.executable, RESULTS_SCRIPT, "--gen", gen, "--readme", readme, "numbers"])
        check(p.returncode == 0, f"scripts/results numbers failed: {p.stderr.strip()}")
        if p.returncode != 0:
            return
        made = sorted(os.listdir(gen))
        have = sorted(os.path.basename(f) for f in glob.glob(os.path.join(PAPER, "gen", "*.tex")))
        check(made == have, f"paper/gen/ holds {have}, scripts/results makes {made}")
        for f in made:
            committed = os.path.join(PAPER, "gen", f)
            check(os.path.exists(committed) and filecmp.cmp(os.path.join(gen, f), committed,
                                                            shallow=False),
                  f"paper/gen/{f} is not what scripts/results numbers generates now "
                  "(run scripts/results numbers and commit)")
        check(filecmp.cmp(readme, os.path.join(ROOT, "results", "README.md"), shallow=False),
              "results/README.md is stale (run scripts/results numbers)")
    p = run([sys.executable, RESULTS_SCRIPT, "check"])
    for line in p.stdout.splitlines():
        if line.startswith("claim FAILED") or "stale" in line:
            print(line, file=sys.stderr)
    check(p.returncode == 0, "scripts/results check failed (a stale file or a claim the "
          "paper states no longer holds of the committed results)")
    # the numbers the paper uses are all defined, and the paper types none by hand
    numbers = open(os.path.join(PAPER, "gen", "numbers.tex"), encoding="utf-8").read()
    defined = set(re.findall(r"\\newcommand\{\\(\w+)\}", numbers))
    defined |= {m for f in re.findall(r"\\newif\\if(\w+)", numbers) for m in (f, "if" + f)}
    for path in tex_sources():
        text = strip_comments(open(path, encoding="utf-8").read())
        for name in set(re.findall(r"\\((?:res|reps|warmup|micro|scaling|lat|mem|sky|hog)[A-Za-z]+)",
                                   text)):
            check(name in defined, f"{os.path.relpath(path, ROOT)} uses \\{name}, "
                  "which paper/gen/numbers.tex does not define")


def tex_sources():
    return [os.path.join(PAPER, "paper.tex")] + sorted(glob.glob(os.path.join(PAPER, "sec", "*.tex")))


def strip_comments(text):
    return re.sub(r"(?<!\\)%.*", "", text)


def test_files_exist():
    numbers = open(os.path.join(PAPER, "gen", "numbers.tex"), encoding="utf-8").read()
    m = re.search(r"\\newcommand\{\\resdir\}\{([^}]*)\}", numbers)
    check(m is not None, "paper/gen/numbers.tex defines no \\resdir")
    resdir = m.group(1) if m else ""
    n = 0
    for path in tex_sources():
        text = strip_comments(open(path, encoding="utf-8").read())
        for g in re.findall(r"\\includegraphics(?:\[[^\]]*\])?\{([^}]*)\}", text):
            n += 1
            f = os.path.join(PAPER, g.replace("\\resdir", resdir))
            cands = [f] if os.path.splitext(f)[1] else [f + e for e in (".pdf", ".png", ".jpg")]
            check(any(os.path.isfile(c) for c in cands),
                  f"{os.path.relpath(path, ROOT)}: \\includegraphics{{{g}}}: "
                  f"{os.path.relpath(cands[0], ROOT)} does not exist")
        for i in re.findall(r"\\(?:input|include)\{([^}]*)\}", text):
            f = os.path.join(PAPER, i if i.endswith(".tex") else i + ".tex")
            check(os.path.isfile(f), f"{os.path.relpath(path, ROOT)}: \\input{{{i}}} does not exist")
    check(n >= 6, f"the paper includes only {n} figures")


def results(*args):
    return run([sys.executable, RESULTS_SCRIPT, *args])


def test_results_cli():
    with open(os.path.join(ROOT, "results", "PAPER")) as f:
        tag = f.read().strip()
    with tempfile.TemporaryDirectory(prefix="paper_test.") as tmp:
        made = []
        for i, order in enumerate((["--tag", tag, "numbers"], ["numbers", "--tag", tag])):
            gen, readme = os.path.join(tmp, f"gen{i}"), os.path.join(tmp, f"README{i}.md")
            p = results("--gen", gen, "--readme", readme, *order)
            check(p.returncode == 0, f"scripts/results {' '.join(order)}: {p.stderr.strip()}")
            made.append(open(os.path.join(gen, "numbers.tex"), encoding="utf-8").read()
                        if p.returncode == 0 else None)
        check(made[0] == made[1], "scripts/results: --tag before and after the command differ")
        for args in (["chek"], ["publish"], ["numbers", "--bogus"]):
            p = results(*args)
            check(p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1
                  and "results" in p.stderr and "error:" in p.stderr,
                  f"scripts/results {' '.join(args)}: not a one-line usage error, exit 2: "
                  f"{p.returncode} {p.stderr!r}")
        # a sweep named s2 publishes as \repsSTwo; then s-2 (\repsSTwo too) is refused first
        sweeps, res = os.path.join(tmp, "sweeps"), os.path.join(tmp, "results")
        out = ["--results", res, "--gen", os.path.join(tmp, "gen"),
               "--readme", os.path.join(tmp, "README.md")]
        for name in ("s2", "s-2"):
            fake_sweep(os.path.join(ROOT, "results", tag, "micro"), os.path.join(sweeps, name), name)
        p = results(*out, "publish", sweeps, "--only", "s2")
        check(p.returncode == 0, f"scripts/results publish of a sweep named s2: {p.stderr.strip()}")
        numbers = os.path.join(tmp, "gen", "numbers.tex")
        check(os.path.exists(numbers) and "\\repsSTwo}" in open(numbers, encoding="utf-8").read(),
              "scripts/results publish s2: numbers.tex defines no \\repsSTwo")
        p = results(*out, "publish", sweeps, "--only", "s-2")
        check(p.returncode == 2 and "rename one" in p.stderr,
              f"scripts/results publish of s-2 beside s2: {p.returncode} {p.stderr.strip()}")
        check(sorted(os.listdir(os.path.join(res, tag))) == ["s2"],
              "scripts/results publish copied a sweep it then refused")


def fake_sweep(src, dst, name):
    """A finished, plotted sweep named `name` made of a published one's files."""
    os.makedirs(dst)
    for f in ("records.jsonl", "machine.json", "summary.csv"):
        shutil.copy(os.path.join(src, f), dst)
    with open(os.path.join(src, "run.json"), encoding="utf-8") as f:
        run_json = json.load(f)
    run_json["experiment"] = name
    with open(os.path.join(dst, "run.json"), "w", encoding="utf-8") as f:
        json.dump(run_json, f)
    os.utime(os.path.join(dst, "summary.csv"))  # newer than records.jsonl: not replotted


def test_build():
    latexmk = shutil.which("latexmk")
    if not latexmk:
        print("latexmk not found: the paper build is skipped (scripts/setup --paper installs it)")
        return False
    with tempfile.TemporaryDirectory(prefix="paper_test.") as tmp:
        shutil.copytree(PAPER, os.path.join(tmp, "paper"),
                        ignore=shutil.ignore_patterns("*.pdf", "*.aux", "*.log", "*.bbl", "*.blg",
                                                      "*.fls", "*.fdb_latexmk", "*.out"))
        os.symlink(os.path.join(ROOT, "results"), os.path.join(tmp, "results"))
        p = run(["make", "-C", os.path.join(tmp, "paper")], timeout=600)
        pdf = os.path.join(tmp, "paper", "paper.pdf")
        check(p.returncode == 0 and os.path.exists(pdf),
              "make -C paper failed:\n" + "\n".join((p.stdout + p.stderr).splitlines()[-30:]))
        log = os.path.join(tmp, "paper", "paper.log")
        if os.path.exists(log):
            text = open(log, encoding="latin-1").read()
            for pat in (r"Reference `[^']*' on page \d+ undefined", r"Citation `[^']*' on page \d+ undefined",
                        r"There were undefined references"):
                for hit in re.findall(pat, text):
                    check(False, f"paper.log: {hit}")
            pages = re.search(r"Output written on paper\.pdf \((\d+) pages", text)
            check(pages and int(pages.group(1)) >= 5, "the PDF has fewer than 5 pages")
            if pages:
                print(f"paper.pdf: {pages.group(1)} pages")
    return True


def main():
    test_numbers_in_sync()
    test_files_exist()
    test_results_cli()
    built = test_build()
    if failures:
        print(f"{len(failures)} failure(s)", file=sys.stderr)
        return 1
    print("ok" + ("" if built else " (build skipped)"))
    return 0 if built else SKIP


if __name__ == "__main__":
    sys.exit(main())
