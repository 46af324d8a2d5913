"""`azr validate FILE...`: run task files (AZR seed format or CRUXEval) through validation and verification.

Every record is validated exactly as a proposal would be (program checks, sandboxed execution twice, output
checks, duplicates within the file); for each valid record the recorded output(s) are verified against the
executed ones with the deduction equality. Prints a table of rejection reasons and ends with exactly one line
`validate: valid=<n> invalid=<m> agree=<k>/<n>`.
"""

from __future__ import annotations

import argparse
from collections import Counter


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "files",
        nargs="+",
        metavar="FILE",
        help="task files (*.jsonl): AZR seed or CRUXEval format; `key=value` items are config overrides",
    )
    parser.add_argument("--config", default=None, help="config preset or YAML file (executor and selfplay sections)")
    parser.add_argument("--limit", type=int, default=0, help="only the first N records of each file (0 = all)")
    parser.add_argument("--examples", type=int, default=1, help="example record ids shown per rejection reason")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from rich.console import Console
    from rich.table import Table

    from azr.cli import UserError
    from azr.config import load_config, resolve_preset
    from azr.executor import Executor
    from azr.tasks.parse import Answer
    from azr.tasks.records import TaskFileError, read_task_file
    from azr.tasks.types import Task, TaskType
    from azr.validate import validate_tasks
    from azr.verify import verify_answers

    overrides = [f for f in args.files if "=" in f and not Path(f).exists()]
    files = [f for f in args.files if f not in overrides]
    if not files:
        raise UserError("no task file given")
    cfg = load_config(resolve_preset(args.config) if args.config else None, overrides)
    records = []
    for f in files:
        try:
            recs = read_task_file(f)
        except TaskFileError as e:
            raise UserError(str(e)) from e
        records += recs[: args.limit] if args.limit > 0 else recs
    console = Console(stderr=False)
    with Executor(cfg.executor) as ex:
        validations = validate_tasks([r.task for r in records], ex, None, 0, cfg)
        # Agreement: each recorded output, taken as a deduction answer, against the executed output.
        checks, answers, owner = [], [], []
        for k, (rec, v) in enumerate(zip(records, validations)):
            if v.task is None:
                continue
            for inp, executed, recorded in zip(v.task.inputs, v.task.outputs, rec.task.outputs):
                checks.append(Task(TaskType.DEDUCTION, v.task.program, (inp,), (executed,)))
                answers.append(Answer(recorded))
                owner.append(k)
        verdicts = verify_answers(checks, answers, ex)
    disagree = {owner[i] for i, v in enumerate(verdicts) if not v.correct}
    valid = [k for k, v in enumerate(validations) if v.task is not None]
    agree = sum(1 for k in valid if k not in disagree and len(records[k].task.outputs) == len(records[k].task.inputs))

    reasons = Counter(v.reason for v in validations if v.reason)
    table = Table(title=f"rejection reasons ({len(records)} records)")
    table.add_column("reason")
    table.add_column("count", justify="right")
    table.add_column("example (file:line  detail)")
    for reason, count in reasons.most_common():
        ex_ids = [
            f"{records[k].task.source.removeprefix('seed:')}:{records[k].line}  {validations[k].detail[:60]}"
            for k, v in enumerate(validations)
            if v.reason == reason
        ][: max(args.examples, 0)]
        table.add_row(reason, str(count), "\n".join(ex_ids))
    if reasons:
        console.print(table)
    console.print(f"disagreeing recorded outputs among valid records: {len([k for k in valid if k in disagree])}")
    print(f"validate: valid={len(valid)} invalid={len(records) - len(valid)} agree={agree}/{len(valid)}")
    return 0
