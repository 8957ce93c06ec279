"""install(), uninstall(), installed(), is_installed(): patching that is idempotent and reversible."""

import os
import posix
import subprocess
import sys
import types
from typing import Any, List

import pytest
import shim
import wrapt
from shim._runtime import lifecycle

# Not kept in a module global: install() rebinds every module global that
# holds the original function (that is the `from os import system` feature).
ORIGINAL_NAME = "system"


def original() -> Any:
    return getattr(posix, ORIGINAL_NAME)


def test_install_puts_a_wrapt_proxy_on_os_system() -> None:
    """After install, os.system is a wrapt FunctionWrapper around the C function."""
    shim.install()
    assert isinstance(os.system, wrapt.FunctionWrapper)
    assert os.system.__wrapped__ is original()
    assert shim.is_installed()


def test_uninstall_restores_the_c_function() -> None:
    """After uninstall, os.system is posix.system again."""
    shim.install()
    shim.uninstall()
    assert os.system is original()
    assert not shim.is_installed()


def test_uninstall_without_install_is_a_no_op() -> None:
    """uninstall() when nothing is installed changes nothing."""
    shim.uninstall()
    assert os.system is original()


def test_install_twice_wraps_once_and_updates_settings() -> None:
    """A second install() changes the settings and does not add a second layer."""
    shim.install()
    first = os.system
    shim.install(shell="auto")
    assert os.system is first
    assert os.system.__wrapped__ is original()
    settings = lifecycle.settings()
    assert settings is not None and settings.shell == "auto"


def test_shimmed_call_goes_through_popen(popen_events: List[Any]) -> None:
    """With the shim, os.system starts /bin/sh through subprocess.Popen and returns its wait status."""
    shim.install()
    status = os.system("exit 3")
    assert status == original()("exit 3") == 3 << 8
    assert popen_events and popen_events[-1][0] == b"/bin/sh"


def test_uninstalled_call_does_not_use_popen(popen_events: List[Any]) -> None:
    """After uninstall, calls no longer go through Popen."""
    shim.install()
    shim.uninstall()
    os.system("true")
    assert popen_events == []


def test_installed_context_manager() -> None:
    """installed() installs for the block and uninstalls afterwards."""
    with shim.installed(shell="auto"):
        assert shim.is_installed()
    assert os.system is original()


def test_installed_restores_previous_settings() -> None:
    """installed() inside an installation restores the previous settings, not uninstalls."""
    shim.install(shell="always")
    with shim.installed(shell="auto"):
        assert lifecycle.settings().shell == "auto"  # type: ignore[union-attr]
    assert shim.is_installed()
    assert lifecycle.settings().shell == "always"  # type: ignore[union-attr]


def test_from_os_import_system_before_install_is_rebound() -> None:
    """A module global made by `from os import system as run` before install goes through the shim, and back."""
    module = types.ModuleType("legacy_for_test")
    module.run = os.system  # type: ignore[attr-defined]
    module.system = os.system  # type: ignore[attr-defined]
    sys.modules[module.__name__] = module
    try:
        shim.install()
        assert module.run is os.system  # type: ignore[attr-defined]
        assert module.system is os.system  # type: ignore[attr-defined]
        assert isinstance(module.run, wrapt.FunctionWrapper)  # type: ignore[attr-defined]
        shim.uninstall()
        assert module.run is original()  # type: ignore[attr-defined]
        assert module.system is original()  # type: ignore[attr-defined]
    finally:
        del sys.modules[module.__name__]


def test_import_after_install_gets_the_shim() -> None:
    """Code that does `from os import system` after install gets the shimmed function."""
    shim.install()
    namespace: dict = {}
    exec("from os import system", namespace)
    assert namespace["system"] is os.system
    assert isinstance(namespace["system"], wrapt.FunctionWrapper)


def test_rebinding_leaves_globals_that_changed_meanwhile() -> None:
    """uninstall() restores a global only if it still holds the shim."""
    module = types.ModuleType("legacy_for_test2")
    module.run = os.system  # type: ignore[attr-defined]
    sys.modules[module.__name__] = module
    try:
        shim.install()

        def replacement(command: str) -> int:
            return 0

        module.run = replacement  # type: ignore[attr-defined]
        shim.uninstall()
        assert module.run is replacement  # type: ignore[attr-defined]
    finally:
        del sys.modules[module.__name__]


def test_wrapt_wrapper_installed_before_stays_working(popen_events: List[Any]) -> None:
    """Another tool's wrapt wrapper put on before the shim keeps running, in front of the shim."""
    seen: List[Any] = []

    def theirs(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        seen.append(args)
        return wrapped(*args, **kwargs)

    wrapt.wrap_function_wrapper(os, "system", theirs)
    their_proxy = os.system
    try:
        shim.install()
        assert os.system is their_proxy
        assert os.system("exit 4") == 4 << 8
        assert seen == [("exit 4",)]
        assert popen_events, "the shim ran the command"
        shim.uninstall()
        assert os.system is their_proxy
        assert their_proxy.__wrapped__ is original()
        assert os.system("exit 5") == 5 << 8
        assert seen[-1] == ("exit 5",)
    finally:
        os.system = original()


def test_wrapt_wrapper_installed_after_stays_working(popen_events: List[Any]) -> None:
    """A wrapt wrapper put on after the shim wraps it; uninstall unlinks the shim and keeps that wrapper."""
    seen: List[Any] = []

    def theirs(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        seen.append(args)
        return wrapped(*args, **kwargs)

    shim.install()
    wrapt.wrap_function_wrapper(os, "system", theirs)
    their_proxy = os.system
    try:
        assert os.system("exit 6") == 6 << 8
        assert popen_events
        shim.uninstall()
        assert os.system is their_proxy
        assert their_proxy.__wrapped__ is original()
        count = len(popen_events)
        assert os.system("exit 7") == 7 << 8
        assert len(popen_events) == count, "no longer through the shim"
        assert seen == [("exit 6",), ("exit 7",)]
    finally:
        os.system = original()


def test_opaque_replacement_is_kept_in_charge() -> None:
    """A plain function already on os.system (a mock, say) keeps receiving the calls, with one warning."""
    calls: List[Any] = []

    def fake(command: Any) -> int:
        calls.append(command)
        return 0

    module = types.ModuleType("legacy_for_test3")
    module.run = original()  # type: ignore[attr-defined]
    sys.modules[module.__name__] = module
    os.system = fake
    try:
        with pytest.warns(shim.ShimWarning, match="not the original function"):
            shim.install()
        assert os.system("exit 9") == 0
        assert calls == ["exit 9"]
        # A global bound to the C function before the replacement keeps
        # running real commands, now through the shim.
        assert module.run("exit 3") == 3 << 8  # type: ignore[attr-defined]
        assert calls == ["exit 9"]
        shim.uninstall()
        assert os.system is fake
        assert module.run is original()  # type: ignore[attr-defined]
    finally:
        os.system = original()
        sys.modules.pop(module.__name__, None)


@pytest.mark.parametrize(
    ("option", "value"),
    [("capture", "sometimes"), ("shell", "maybe"), ("capture_limit", -1), ("capture_limit", "lots"),
     ("log", "LOUD"), ("audit", 42), ("redact", 7)],
)
def test_bad_keyword_raises_value_error_naming_it(option: str, value: Any) -> None:
    """A bad keyword value raises ValueError naming the option and what it accepts."""
    with pytest.raises(ValueError, match=option) as info:
        shim.install(**{option: value})
    assert "accepted" in str(info.value)
    assert isinstance(info.value, shim.ConfigError)
    assert os.system is original()


def test_unknown_keyword_raises_value_error() -> None:
    """An unknown option raises ValueError naming it."""
    with pytest.raises(ValueError, match="'colour'"):
        shim.install(colour="blue")


def test_bad_environment_value_leaves_os_system_alone(capfd: pytest.CaptureFixture[str]) -> None:
    """install() with a bad SHIM_* variable prints one line naming it and installs nothing."""
    os.environ["SHIM_SHELL"] = "sometimes"
    shim.install()
    assert os.system is original()
    err = capfd.readouterr().err
    assert err.count("\n") == 1
    assert "SHIM_SHELL" in err and "always|auto|never" in err


def test_keyword_wins_over_environment() -> None:
    """A keyword argument overrides the variable, even a bad one."""
    os.environ["SHIM_SHELL"] = "sometimes"
    os.environ["SHIM_CAPTURE_LIMIT"] = "123"
    shim.install(shell="auto")
    settings = lifecycle.settings()
    assert settings is not None
    assert (settings.shell, settings.capture_limit) == ("auto", 123)


def test_wrong_argument_types_raise_like_os_system() -> None:
    """Wrong argument types and values give exactly the exceptions of plain os.system, in-process."""
    shim.install()
    for args, kwargs in [((1,), {}), ((None,), {}), ((), {}), (("a", "b"), {}), ((), {"cmd": "x"}),
                         (("a\0",), {}), ((b"a\0",), {}), (("\ud800",), {})]:
        with pytest.raises(Exception) as shimmed:
            os.system(*args, **kwargs)
        with pytest.raises(Exception) as plain:
            original()(*args, **kwargs)
        assert type(shimmed.value) is type(plain.value)
        assert str(shimmed.value) == str(plain.value)


def test_exit_status_not_started_shell(monkeypatch: pytest.MonkeyPatch) -> None:
    """When /bin/sh cannot be started, the status is 127 << 8, as system(3) gives."""
    from shim._common import platform as _env

    monkeypatch.setattr(_env, "SHELL_PATH", b"/no/such/shell")
    shim.install()
    assert os.system("true") == 127 << 8


def test_child_python_sees_shim_via_environment() -> None:
    """SHIM_* variables are only read at install time; a child interpreter is not affected by install()."""
    shim.install()
    out = subprocess.run(
        [sys.executable, "-c", "import os, posix; print(os.system is posix.system)"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, check=True,
    ).stdout
    assert out.strip() == "True"
