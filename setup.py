"""Install the start-up hook (``shim.pth``, and ``shim.start`` for PEP 829) beside the package.

Both files must land at the root of site-packages, for ``pip install .``
and for ``pip install -e .`` alike.  A regular wheel takes them from the
build directory, where ``build_py`` puts them; an editable wheel (PEP 660)
is assembled by a setuptools "strategy" that only knows about packages, so
the hooks are added to that wheel explicitly.
"""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.editable_wheel import editable_wheel

HERE = Path(__file__).parent
HOOKS = ("shim.pth", "shim.start")


class BuildPyWithStartupHook(build_py):
    def run(self) -> None:
        super().run()
        for name in HOOKS:
            self.copy_file(str(HERE / name), str(Path(self.build_lib) / name), preserve_mode=0)

    def get_outputs(self, include_bytecode: bool = True) -> list:
        return [*super().get_outputs(include_bytecode), *(str(Path(self.build_lib) / n) for n in HOOKS)]


class _StrategyWithStartupHook:
    def __init__(self, inner: object) -> None:
        self.inner = inner

    def __enter__(self) -> "_StrategyWithStartupHook":
        self.inner.__enter__()
        return self

    def __exit__(self, *exc: object) -> object:
        return self.inner.__exit__(*exc)

    def __call__(self, wheel, files, mapping) -> None:
        self.inner(wheel, files, mapping)
        for name in HOOKS:
            wheel.writestr(name, (HERE / name).read_bytes())


class EditableWheelWithStartupHook(editable_wheel):
    def _select_strategy(self, *args, **kwargs):
        return _StrategyWithStartupHook(super()._select_strategy(*args, **kwargs))


setup(cmdclass={"build_py": BuildPyWithStartupHook, "editable_wheel": EditableWheelWithStartupHook})
