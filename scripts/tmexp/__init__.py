"""tmexp: run tmbench experiment files, summarise and plot the records.

Modules, one job each:
  spec     experiment files: schema, validation, matrix expansion
  bench    talking to tmbench: `list --json`, the probe run, machine.json
  runner   the sweep: order, warm-ups, timeouts, resume, SIGINT, progress
  records  reading records.jsonl, cell keys, the metrics we summarise
  stats    median with an order-statistic CI, Mann-Whitney U
  summary  summary.csv and summary.md
  figures  gnuplot figures, one function per figure
  compare  two sweeps side by side, like Google Benchmark's compare.py
  cli      argparse front end (scripts/experiment)
Standard library only (Python >= 3.11 for tomllib).
"""
