"""Where a task runs: here, on a cluster, in a container."""

import os
import shlex


class LocalExecutor:
    def submit(self, command):
        return os.system(command)

    def wait_status(self, command):
        return os.waitstatus_to_exitcode(os.system(command))


class SlurmExecutor:
    def __init__(self, partition="short", account=None):
        self.partition = partition
        self.account = account

    def submit(self, command, name):
        options = "--partition=%s --job-name=%s" % (self.partition, name)
        if self.account:
            options += " --account=" + self.account
        out = os.popen("sbatch %s --wrap=%s" % (options, shlex.quote(command))).read()
        return out.split()[-1] if out else None

    def cancel(self, job_id):
        os.system("scancel " + job_id)

    def state(self, job_id):
        text = os.popen(f"squeue -h -j {job_id} -o %T").read().strip()
        return text or "COMPLETED"

    def queue_length(self):
        return len(os.popen("squeue -h -u $USER").readlines())


class DockerExecutor:
    def __init__(self, image):
        self.image = image

    def pull(self):
        if os.system("docker pull %s > /dev/null" % self.image) != 0:
            raise RuntimeError("cannot pull " + self.image)

    def submit(self, command, workdir):
        return os.system(
            "docker run --rm -v %s:/work -w /work %s sh -c %s"
            % (workdir, self.image, shlex.quote(command))
        ) >> 8


class StreamingExecutor:
    """Prints a task's output as it comes, and returns what os.popen's close() gives."""

    def submit(self, command):
        pipe = os.popen(command)
        for line in pipe:
            print(line, end="")
        return pipe.close()
