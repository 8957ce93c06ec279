"""Run the tasks of a pipeline, in order, skipping the ones that are up to date."""

import os
import sys
import time


class Task:
    def __init__(self, name, command, inputs=(), outputs=()):
        self.name = name
        self.command = command
        self.inputs = list(inputs)
        self.outputs = list(outputs)

    def up_to_date(self):
        if not self.outputs:
            return False
        newest_input = max((os.path.getmtime(p) for p in self.inputs), default=0)
        return all(os.path.exists(p) and os.path.getmtime(p) >= newest_input for p in self.outputs)

    def run(self, dry_run=False):
        if dry_run:
            print(self.command)
            return 0
        started = time.time()
        status = os.system(self.command)
        print("%s: %.1fs, exit %d" % (self.name, time.time() - started, status >> 8))
        return status


def run_pipeline(tasks, keep_going=False):
    failed = []
    for task in tasks:
        if task.up_to_date():
            continue
        if task.run() != 0:
            failed.append(task.name)
            if not keep_going:
                break
    return failed


def touch_outputs(task):
    for path in task.outputs:
        os.system("touch " + path)


def clean(tasks):
    for task in tasks:
        for path in task.outputs:
            os.system(f"rm -f {path}")


def notify(message):
    os.system('notify-send "pipeline" "%s"' % message)


def main():
    tasks = [
        Task("fetch", "curl -sSfo data.csv https://example.org/data.csv", outputs=["data.csv"]),
        Task("clean", "python3 clean.py data.csv > clean.csv", ["data.csv"], ["clean.csv"]),
        Task("plot", "python3 plot.py clean.csv plot.png", ["clean.csv"], ["plot.png"]),
    ]
    failed = run_pipeline(tasks)
    if failed:
        notify("failed: " + ", ".join(failed))
    sys.exit(os.system("test -f plot.png"))
