"""Every way a legacy module reaches ``os.system`` and ``os.popen``.

For the ``shim scan`` tests.  Each ``case_*`` function (and method) makes at
most one call; a line ending in ``# finds: os.system`` (or ``os.popen``) is
one the scanner must report, and no other line may be reported.  The tests
also run every case with an audit hook that stops the command before it
starts, to check that the marked lines are exactly where the real calls are.
"""

# Written the way old code is, on purpose: modern lint rules do not apply.
# ruff: noqa: B009, PLC3002

import os
import os as o
import posix
from os import popen, system
from os import system as run

launch = os.system


class FakeOs:
    """Not the os module: something else with ``system`` and ``popen`` methods."""

    def system(self, command):
        return 0

    def popen(self, command):
        return command


def fake_system(command):
    return 0


def case_module():
    os.system("true")  # finds: os.system


def case_module_alias():
    o.system("true")  # finds: os.system


def case_from_import():
    system("true")  # finds: os.system


def case_from_import_as():
    run("true")  # finds: os.system


def case_posix():
    posix.system("true")  # finds: os.system


def case_getattr():
    getattr(os, "system")("true")  # finds: os.system


def case_getattr_with_default():
    getattr(o, "popen", None)("true").close()  # finds: os.popen


def case_popen():
    popen("true").close()  # finds: os.popen


def case_os_popen_keywords():
    os.popen(cmd="true", mode="r").close()  # finds: os.popen


def case_assigned_alias():
    launch("true")  # finds: os.system


def case_dunder_import():
    __import__("os").system("true")  # finds: os.system


def case_import_inside_function():
    import os as inner

    inner.system("true")  # finds: os.system


def case_from_import_inside_function():
    from posix import system as call

    call("true")  # finds: os.system


def case_nested_function():
    def inner():
        return o.system("true")  # finds: os.system

    return inner()


def case_nested_function_sees_enclosing_import():
    from os import popen as pipe

    def inner():
        return pipe("true").close()  # finds: os.popen

    return inner()


def case_lambda():
    return (lambda: system("true"))()  # finds: os.system


def case_comprehension():
    return [run(command) for command in ["true"]]  # finds: os.system


def case_status_compared():
    return os.system(command="true") == 0  # finds: os.system


class Runner:
    # A class attribute is not visible inside the methods...
    os = FakeOs()
    # ...but it is in the class body itself: this one is not os.system.
    status = os.system("true")

    def case_method(self):
        return os.system("true")  # finds: os.system


def case_parameter_shadows(system=fake_system):
    return system("true")


def case_local_variable_shadows():
    os = FakeOs()
    return os.system("true")


def case_local_function_shadows():
    def run(command):
        return 0

    return run("true")


def case_other_object():
    return FakeOs().popen("true")


def case_text_only():
    return "os.system('true')"


def case_reference_without_call():
    return [os.system, system]
