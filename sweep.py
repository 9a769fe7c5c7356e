"""Many training runs from one command, on Ray Tune: seeds, grids of flags, ensemble members.

    python sweep.py cnn --seed 0 1 2 --data data/fer2013.csv
    python sweep.py cnn --seed 0 1 --weight-decay 0.1 0.3 --data data/fer2013.csv
    python sweep.py dnn --seed 0 1 --epochs 5
    python sweep.py cnn --seed 0 1 2 3 --address auto --gpus-per-trial 1   # on a running Ray cluster

Any flag of train_cnn.py or train_dnn.py may take several values, and the grid
is their product; --teacher's models are one setting, all of them in every
trial. Each point is one trial, and a trial is exactly that
trainer's run (the same function, the same outputs): STORAGE/<name>.keras,
.json, .history.csv, its figures and its TensorBoard logs (logs/<name>/). The
name is the prefix (--name, default cnn or dnn) followed by the values that
vary, e.g. cnn_seed1_weight_decay0.3. The trial's printout goes to
STORAGE/<name>.log.

Ray starts inside this process unless --address names a running cluster. Each
trial gets --cpus-per-trial cores (its TensorFlow threads too) and
--gpus-per-trial GPUs. Nothing is lost. A trial whose worker dies is retried
and resumes from its own resume folder, so at most the epoch in progress is
lost. Run the same command again after the sweep was stopped: finished trials
are read back, not retrained, and half-done ones resume.

At the end, one row per configuration, with its seeds pooled: the mean +- sample
sd of the validation accuracy at the best epoch, of the mirror-TTA accuracy, of
the best epoch and of the wall time. The table is printed and written to
STORAGE/sweep_<prefix>.md and .csv.
"""

import argparse
import itertools
import os
import re
import sys

from ferlib import UserError, cli

ROOT = os.path.dirname(os.path.abspath(__file__))
TRAINERS = {"cnn": "train_cnn", "dnn": "train_dnn"}
OWN_FLAGS = {"--name": "--name (the sweep's prefix)",
             "--restart": "removing MODELS_DIR/<name>.resume of the trial to start over"}
PATH_FLAGS = ("--data", "--teacher", "--figures-dir", "--logs-dir")
LIST_FLAGS = ("--teacher",)   # the trainer takes several values as one setting: every trial gets them all
TABLE_COLUMNS = ("val_accuracy", "val_accuracy_tta", "best_epoch", "wall_seconds")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                allow_abbrev=False, usage="%(prog)s {cnn,dnn} [options] [trainer flags, each "
                                                          "with one or more values]")
    p.add_argument("kind", choices=sorted(TRAINERS), help="which trainer: train_cnn.py or train_dnn.py")
    p.add_argument("--name", default=None, help="prefix of the trials' names (default: the kind)")
    p.add_argument("--models-dir", dest="storage", default="models",
                   help="where the trials' models and records go, as the trainers' --models-dir; on a cluster, a "
                        "folder every node sees at the same path (default: %(default)s)")
    # The older spelling of --models-dir, kept hidden
    p.add_argument("--storage", dest="storage", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    p.add_argument("--address", default=None,
                   help="a running Ray cluster: auto (this node's), HOST:6379 or ray://HOST:10001; default: "
                        "Ray starts inside this process, on this machine's cores and GPUs")
    p.add_argument("--cpus-per-trial", type=float, default=1, help="cores each trial holds (default: %(default)s)")
    p.add_argument("--gpus-per-trial", type=float, default=0,
                   help="GPUs each trial holds; 0.5 puts two trials on one GPU (default: %(default)s)")
    p.add_argument("--max-failures", type=int, default=3,
                   help="times a trial whose worker died is retried (default: %(default)s)")
    args, rest = p.parse_known_args(argv)
    args.name = args.name or args.kind
    if args.cpus_per_trial <= 0 or args.gpus_per_trial < 0 or args.max_failures < 0:
        raise UserError("--cpus-per-trial must be above 0, --gpus-per-trial and --max-failures 0 or more")
    args.storage = os.path.abspath(args.storage)   # Ray's own state goes here; the trials get kit_path(storage)
    args.grid = flag_grid(rest)
    return args


def flag_grid(tokens):
    """Trainer flags -> [(flag, [values])]: each --flag starts a group, the tokens after it are its values.

    `--flag=value` is one value; a flag with no values (--augment) is passed as it is.
    """
    grid = []
    for token in tokens:
        if token.startswith("--"):
            flag, eq, value = token.partition("=")
            if flag in OWN_FLAGS:
                raise UserError(f"{flag} is not a trainer flag in a sweep; use {OWN_FLAGS[flag]}")
            grid.append((flag, [value] if eq else []))
        elif not grid:
            raise UserError(f"{token!r}: a value before any flag; give it after the flag it belongs to")
        else:
            grid[-1][1].append(token)
    for flag, values in grid:
        if flag in PATH_FLAGS:
            values[:] = [v if v == "synthetic" else kit_path(v) for v in values]
    return grid


def kit_path(path):
    """A path as the trials see it: relative to the kit's folder when inside it, else absolute.

    Every trial runs in the kit's folder (run_trial), so a run record's command reads as the user's
    own (--data data/fer2013.csv), with no trace of the machine that ran it.
    """
    path = os.path.abspath(path)
    inside = os.path.commonpath([path, ROOT]) == ROOT
    return os.path.relpath(path, ROOT) if inside else path


def trials(args):
    """[(name, trainer argv, {flag: value} of the flags that vary)], one per point of the grid, in order."""
    def choices(flag, values):   # (flag, its tokens) for each value the flag takes in the grid
        if flag in LIST_FLAGS:
            return [(flag, tuple(values))]
        return [(flag, (v,)) for v in values] or [(flag, ())]
    varying = [flag for flag, values in args.grid if len(values) > 1 and flag not in LIST_FLAGS]
    points = []
    for combo in itertools.product(*[choices(flag, values) for flag, values in args.grid]):
        argv = [t for flag, tokens in combo for t in (flag, *tokens)]
        varied = {flag: tokens[0] for flag, tokens in combo if flag in varying}
        suffix = "".join(f"_{flag.lstrip('-').replace('-', '_')}{name_part(flag, v)}" for flag, v in varied.items())
        name = args.name + suffix
        points.append((name, argv + ["--name", name, "--models-dir", kit_path(args.storage)], varied))
    if len({n for n, _, _ in points}) < len(points):
        raise UserError("the grid names two trials alike (a flag given twice, or two files of one name?); "
                        "give each flag once, and files of different names")
    return points


def name_part(flag, value):
    """A flag's value as a trial's name shows it: a path by its file's name alone (data/a.csv.gz -> a), since a
    name is one file name under the storage folder."""
    if flag in PATH_FLAGS:
        value = os.path.basename(value.rstrip("/")).split(".")[0]
    return re.sub(r"[^\w.+-]", "-", value)


def finished_record(trainer, name, argv, storage):
    """The trial's record when its run has finished with these settings; None when it has yet to run.

    A record of other settings under the same name is refused: rerunning would overwrite that model.
    """
    from ferlib.outputs import load_json
    from ferlib.train import NOT_SETTINGS
    path = os.path.join(storage, f"{name}.json")
    if not os.path.exists(path):
        return None
    record = load_json(path)
    wanted = {k: v for k, v in vars(trainer.parse_args(argv)).items() if k not in NOT_SETTINGS}
    done = record.get("config", {})
    differ = [k for k, v in wanted.items() if done.get(k, None if v else v) != v]   # a newer flag, off: the same
    if differ:
        raise UserError(f"{path} holds a finished run with other settings (" +
                        ", ".join(f"--{k.replace('_', '-')} {done.get(k)} -> {wanted[k]}" for k in differ) +
                        "); give the sweep another --name, or move that run away")
    return record


def run_trial(config):
    """One trial in a Ray worker: the trainer's main with the trial's flags, its printout to STORAGE/<name>.log."""
    from ray import tune
    config = config["trial"]
    os.chdir(ROOT)   # the trials' relative paths are the kit's (kit_path); a cluster's nodes hold it at ROOT
    from ferlib.tf_setup import import_tensorflow
    tf = import_tensorflow()
    threads = max(1, int(config["cpus"]))   # as many compute threads as the trial holds cores
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    trainer = __import__(TRAINERS[config["kind"]])
    log = os.open(os.path.join(config["storage"], f"{config['name']}.log"), os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(log, 1)
    os.dup2(log, 2)
    try:
        record = trainer.main(config["argv"], list(config.get("callbacks", ())))
    except UserError as e:   # the user's to mend, not the machine's: no retry
        print(f"error: {e}", file=sys.stderr)
        tune.report({"error": str(e)})
        return
    val = record["evaluation"].get("val", {})
    tune.report({"val_accuracy": val.get("accuracy"), "val_accuracy_tta": val.get("accuracy_tta"),
                 "best_epoch": record["best_epoch"]})


def make_progress(total, done_before):
    """A Ray Tune callback printing a line as each trial starts, ends or fails: done / running / pending, best so far."""
    from ray import tune

    class Progress(tune.Callback):
        def __init__(self):
            self.running, self.done, self.best = set(), done_before, None

        def _line(self, what):
            pending = total - self.done - len(self.running)
            best = f"; best so far {self.best[1]} {self.best[0]:.4f}" if self.best else ""
            print(f"sweep: {what}; {self.done}/{total} done, {len(self.running)} running, {pending} pending{best}",
                  file=sys.stderr, flush=True)

        def on_trial_start(self, iteration, trials, trial, **info):
            self.running.add(trial.trial_id)
            self._line(f"{trial.config['trial']['name']} started")

        def on_trial_complete(self, iteration, trials, trial, **info):
            self.running.discard(trial.trial_id)
            self.done += 1
            score = (trial.last_result or {}).get("val_accuracy")
            if score is not None and (self.best is None or score > self.best[0]):
                self.best = (score, trial.config["trial"]["name"])
            self._line(f"{trial.config['trial']['name']} finished")

        def on_trial_error(self, iteration, trials, trial, **info):
            self.running.discard(trial.trial_id)
            self._line(f"{trial.config['trial']['name']} failed (see its .log)")

        def on_trial_recover(self, iteration, trials, trial, **info):
            self.running.discard(trial.trial_id)
            self._line(f"{trial.config['trial']['name']}'s worker died; it is retried and resumes")

    return Progress()


def run_sweep(args, todo, done_before, callbacks=()):
    """Run the trials still to do on Ray Tune; returns {name: error} for trials that did not finish."""
    import logging
    import ray
    from ray import tune
    os.environ["RAY_CHDIR_TO_TRIAL_DIR"] = "0"   # run_trial picks the working folder, not Ray
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")   # the progress lines below instead of Ray's tables
    ray.init(address=args.address, logging_level=logging.ERROR, log_to_driver=False, include_dashboard=False,
             runtime_env={"env_vars": {"PYTHONPATH": ROOT, "RAY_CHDIR_TO_TRIAL_DIR": "0"}})
    try:
        space = [{"name": n, "argv": a, "kind": args.kind, "storage": args.storage, "cpus": args.cpus_per_trial,
                  "callbacks": list(callbacks)} for n, a, _ in todo]
        trainable = tune.with_resources(run_trial, {"cpu": args.cpus_per_trial, "gpu": args.gpus_per_trial})
        tuner = tune.Tuner(trainable, param_space={"trial": tune.grid_search(space)},
                           tune_config=tune.TuneConfig(trial_name_creator=lambda t: t.config["trial"]["name"],
                                                       trial_dirname_creator=lambda t: t.config["trial"]["name"]),
                           run_config=tune.RunConfig(
                               name=f"sweep_{args.name}", storage_path=os.path.join(args.storage, ".ray"),
                               failure_config=tune.FailureConfig(max_failures=args.max_failures), verbose=0,
                               callbacks=[make_progress(len(todo) + done_before, done_before)]))
        results = tuner.fit()
    finally:
        ray.shutdown()
    failed = {}
    for result in results:
        name = result.config["trial"]["name"]
        if result.error or (result.metrics or {}).get("error"):
            failed[name] = (result.metrics or {}).get("error") or " ".join(str(result.error).split())[:300]
    return failed


def results_table(points, records):
    """One row per configuration (the varying flags but --seed): trials, seeds, and mean and sd of each column."""
    import numpy as np
    groups = {}
    for name, _, varied in points:
        if name in records:
            label = " ".join(f"{f} {v}" for f, v in varied.items() if f != "--seed") or "all"
            groups.setdefault(label, []).append((name, records[name]))
    rows = []
    for label, members in groups.items():
        row = {"configuration": label, "seeds": len(members), "trials": " ".join(n for n, _ in members)}
        for column in TABLE_COLUMNS:
            values = np.array([trial_value(r, column) for _, r in members], dtype=float)
            row[f"{column}_mean"] = float(np.mean(values))
            row[f"{column}_sd"] = float(np.std(values, ddof=1)) if len(values) > 1 else float("nan")
        rows.append(row)
    return rows


def trial_value(record, column):
    val = record["evaluation"].get("val", {})
    return {"val_accuracy": val.get("accuracy"), "val_accuracy_tta": val.get("accuracy_tta"),
            "best_epoch": record["best_epoch"], "wall_seconds": record["wall_seconds"]}[column]


def split_line(records):
    """Which validation faces the table's accuracies are on: one split for all trials, or each one's."""
    from ferlib.records import describe, split_of
    splits = {}
    for name, record in records.items():
        split = split_of(record) or {}
        splits.setdefault(describe(split_of(record)) + (f" (rows {split['val_hash']})" if split.get("val_hash")
                                                         else ""), []).append(name)
    if len(splits) == 1:
        return f"Validation split, the same in every trial: {next(iter(splits))}."
    return "Validation splits differ, so these rows are not on the same faces: " + "; ".join(
        f"{s}: {', '.join(names)}" for s, names in splits.items()) + "."


def table_markdown(rows, command, split=""):
    """The results table in Markdown, under the command that made it."""
    def cell(row, column, fmt):
        mean, sd = row[f"{column}_mean"], row[f"{column}_sd"]
        return fmt.format(mean) + ("" if sd != sd else " ± " + fmt.format(sd))
    lines = [f"`{command}`", "",
             "Mean ± sample sd over the seeds; accuracies on the validation split at each run's best epoch. "
             + split, "",
             "| configuration | seeds | val accuracy | mirror TTA | best epoch | wall time (s) |",
             "|---|---|---|---|---|---|"]
    for row in rows:
        lines.append(f"| {row['configuration']} | {row['seeds']} | {cell(row, 'val_accuracy', '{:.4f}')} | "
                     f"{cell(row, 'val_accuracy_tta', '{:.4f}')} | {cell(row, 'best_epoch', '{:.1f}')} | "
                     f"{cell(row, 'wall_seconds', '{:.0f}')} |")
    return "\n".join(lines) + "\n"


def write_text(text, dest):
    with open(dest, "w") as f:
        f.write(text)


def main(argv=None, trial_callbacks=()):
    """Parse, run the trials still to do, write the table; returns its rows.

    trial_callbacks: Keras callbacks handed to every trial's fit (the tests use one that kills its trial).
    """
    import shlex
    from functools import partial
    import pandas as pd
    from ferlib.outputs import load_json, write_together
    args = parse_args(argv)
    trainer = __import__(TRAINERS[args.kind])
    points = trials(args)
    for _, trainer_argv, _ in points:   # every trial's flags checked before any trial runs
        trainer.parse_args(trainer_argv)
    os.makedirs(args.storage, exist_ok=True)
    todo = [p for p in points if finished_record(trainer, p[0], p[1], args.storage) is None]
    print(f"sweep: {len(points)} trial{'s' * (len(points) != 1)}; {len(points) - len(todo)} finished before, "
          f"{len(todo)} to run", file=sys.stderr)
    failed = run_sweep(args, todo, len(points) - len(todo), trial_callbacks) if todo else {}
    records = {n: load_json(os.path.join(args.storage, f"{n}.json")) for n, _, _ in points
               if n not in failed and os.path.exists(os.path.join(args.storage, f"{n}.json"))}
    rows = results_table(points, records)
    command = shlex.join(["python", "sweep.py"] + list(sys.argv[1:] if argv is None else argv))
    text = table_markdown(rows, command, split_line(records))
    base = os.path.join(args.storage, f"sweep_{args.name}")
    write_together([(base + ".md", partial(write_text, text)),
                    (base + ".csv", partial(pd.DataFrame(rows).to_csv, index=False))])
    print(text + f"wrote {base}.md and .csv")
    if failed:
        raise UserError(f"{len(failed)} of {len(points)} trials did not finish: " +
                        "; ".join(f"{n}: {e}" for n, e in failed.items()))
    return rows


if __name__ == "__main__":
    sys.exit(cli.run(main))
