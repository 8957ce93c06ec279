"""Which names in a module may be ``os.system`` or ``os.popen``: scopes, bindings, resolution.

The search works on the syntax tree (``ast``), so it sees every spelling a
program can use: ``import os``, ``import os as o``, ``from os import
system``, ``from os import system as run``, ``import posix`` and
``getattr(os, "system")`` with a literal name, in any scope, and it does not
confuse a local variable that happens to be called ``system`` with the real
thing.  Names are resolved the way Python resolves them (local, enclosing
functions, module; class bodies are not seen from their methods), but
without following the flow of the program: a name that is *somewhere* bound
to ``os.system`` in its scope counts, because missing a call is worse than
reporting one that a branch never reaches.
"""

from __future__ import annotations

import ast
from typing import Any, Callable, Dict, List, Optional, Set, Tuple, Union

__all__ = [
    "FUNCTIONS",
    "STATUS_FUNCTIONS",
    "SUBPROCESS",
    "SYS_EXIT",
    "Binder",
    "Resolver",
    "Scope",
    "constant_str",
]

# The modules that are os under another name, the functions looked for,
# and the kinds of value a name can be bound to.
_OS_MODULES = frozenset({"os", "posix", "nt"})
FUNCTIONS = ("system", "popen")
#: Functions of os that a rewrite recognises around os.system's status.
STATUS_FUNCTIONS = ("WEXITSTATUS", "waitstatus_to_exitcode")
_OS_NAMES = frozenset(FUNCTIONS + STATUS_FUNCTIONS)
_OS = "os"
SUBPROCESS = "subprocess"
_SYS = "sys"
SYS_EXIT = "sys.exit"

# A binding is a kind ("os", "system", "popen", "subprocess", or "" for
# anything else) or an alias: the expression assigned to the name and the
# scope it was evaluated in, resolved only when the name is looked up.
_Binding = Union[str, Tuple[ast.expr, "Scope"]]

_FunctionNode = Union[ast.FunctionDef, ast.AsyncFunctionDef]


class Scope:
    """A module, class or function body, and what each name in it may be bound to."""

    __slots__ = (
        "bindings",
        "globals",
        "is_class",
        "is_function",
        "nonlocals",
        "parent",
        "qualname",
    )

    def __init__(self, parent: Optional[Scope], qualname: str, kind: str) -> None:
        self.parent = parent
        self.qualname = qualname
        self.is_class = kind == "class"
        self.is_function = kind == "function"
        self.bindings: Dict[str, List[_Binding]] = {}
        self.globals: Set[str] = set()
        self.nonlocals: Set[str] = set()

    def child_name(self, name: str) -> str:
        return name if self.parent is None else f"{self.qualname}.{name}"


class Binder(ast.NodeVisitor):
    """First pass: every scope, what each name in it may be bound to, and calls."""

    def __init__(self, tree: ast.Module) -> None:
        self.module = Scope(None, "<module>", "module")
        self.scope = self.module
        self.calls: List[Tuple[ast.Call, Scope]] = []
        self._methods: Dict[type, Callable[[Any], None]] = {}
        self.visit(tree)

    # NodeVisitor's own visit() and generic_visit() look the method up and
    # build generators for every node; this pass sees every node of every
    # file that mentions os.system, so it does the same with less.

    def visit(self, node: ast.AST) -> None:
        kind = type(node)
        try:
            method = self._methods[kind]
        except KeyError:
            method = getattr(self, f"visit_{kind.__name__}", self.generic_visit)
            self._methods[kind] = method
        method(node)

    def generic_visit(self, node: ast.AST) -> None:
        for field in node._fields:
            value = getattr(node, field, None)
            if isinstance(value, list):
                for item in value:
                    if isinstance(item, ast.AST):
                        self.visit(item)
            elif isinstance(value, ast.AST):
                self.visit(value)

    # -- binding

    def bind(self, name: str, binding: _Binding) -> None:
        scope = self.scope
        if name in scope.globals:
            scope = self.module
        elif name in scope.nonlocals:
            outer = scope.parent
            while outer is not None and not outer.is_function:
                outer = outer.parent
            scope = outer or self.module
        scope.bindings.setdefault(name, []).append(binding)

    def enter(self, name: str, kind: str) -> Scope:
        scope = Scope(self.scope, self.scope.child_name(name), kind)
        self.scope = scope
        return scope

    def leave(self, scope: Scope) -> None:
        self.scope = scope.parent or self.module

    # -- statements that bind

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            top = alias.name.split(".")[0]
            if alias.asname:
                # "import os.path as p" binds the submodule, not os.
                kind = _module_kind(alias.name)
                self.bind(alias.asname, kind)
            else:
                self.bind(top, _module_kind(top))

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        from_os = node.level == 0 and node.module in _OS_MODULES
        for alias in node.names:
            if alias.name == "*":
                if from_os:
                    for function in FUNCTIONS:
                        self.bind(function, function)
                continue
            if from_os and alias.name in _OS_NAMES:
                kind = alias.name
            elif node.level == 0 and node.module == _SYS and alias.name == "exit":
                kind = SYS_EXIT
            else:
                kind = ""
            self.bind(alias.asname or alias.name, kind)

    def visit_Assign(self, node: ast.Assign) -> None:
        self.visit(node.value)
        for target in node.targets:
            if isinstance(target, ast.Name) and len(node.targets) == 1:
                self.bind(target.id, (node.value, self.scope))
            else:
                self.visit(target)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        self.visit(node.annotation)
        if node.value is not None:
            self.visit(node.value)
        if isinstance(node.target, ast.Name) and node.value is not None:
            self.bind(node.target.id, (node.value, self.scope))
        else:
            self.visit(node.target)

    def visit_Constant(self, node: ast.Constant) -> None:
        # Nothing to bind in a constant; and NodeVisitor's own visit_Constant
        # looks for the deprecated visit_Num & co. on every one of them.
        pass

    def visit_Name(self, node: ast.Name) -> None:
        if not isinstance(node.ctx, ast.Load):
            self.bind(node.id, "")

    def visit_Global(self, node: ast.Global) -> None:
        self.scope.globals.update(node.names)

    def visit_Nonlocal(self, node: ast.Nonlocal) -> None:
        self.scope.nonlocals.update(node.names)

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        if node.name:
            self.bind(node.name, "")
        self.generic_visit(node)

    # Pattern matching (3.10+): the capture names bind like assignments.
    def visit_MatchAs(self, node: ast.AST) -> None:
        self._bind_pattern(node, "name")

    def visit_MatchStar(self, node: ast.AST) -> None:
        self._bind_pattern(node, "name")

    def visit_MatchMapping(self, node: ast.AST) -> None:
        self._bind_pattern(node, "rest")

    def _bind_pattern(self, node: ast.AST, field: str) -> None:
        name = getattr(node, field, None)
        if isinstance(name, str):
            self.bind(name, "")
        self.generic_visit(node)

    # -- scopes

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self._function(node)

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> None:
        self._function(node)

    def _function(self, node: _FunctionNode) -> None:
        # Decorators, defaults and annotations run in the enclosing scope.
        for decorator in node.decorator_list:
            self.visit(decorator)
        self._defaults(node.args)
        if node.returns is not None:
            self.visit(node.returns)
        self.bind(node.name, "")
        scope = self.enter(node.name, "function")
        self._parameters(node.args)
        for statement in node.body:
            self.visit(statement)
        self.leave(scope)

    def visit_Lambda(self, node: ast.Lambda) -> None:
        self._defaults(node.args)
        scope = self.enter("<lambda>", "function")
        self._parameters(node.args)
        self.visit(node.body)
        self.leave(scope)

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for expression in [*node.decorator_list, *node.bases]:
            self.visit(expression)
        for keyword in node.keywords:
            self.visit(keyword.value)
        self.bind(node.name, "")
        scope = self.enter(node.name, "class")
        for statement in node.body:
            self.visit(statement)
        self.leave(scope)

    def _defaults(self, args: ast.arguments) -> None:
        for default in [*args.defaults, *args.kw_defaults]:
            if default is not None:
                self.visit(default)
        for arg in _all_parameters(args):
            if arg.annotation is not None:
                self.visit(arg.annotation)

    def _parameters(self, args: ast.arguments) -> None:
        for arg in _all_parameters(args):
            self.bind(arg.arg, "")

    def visit_Call(self, node: ast.Call) -> None:
        self.calls.append((node, self.scope))
        self.generic_visit(node)


def _all_parameters(args: ast.arguments) -> List[ast.arg]:
    parameters = [*args.posonlyargs, *args.args, *args.kwonlyargs]
    parameters.extend(arg for arg in (args.vararg, args.kwarg) if arg is not None)
    return parameters


def _module_kind(name: str) -> str:
    if name in _OS_MODULES:
        return _OS
    if name == SUBPROCESS:
        return SUBPROCESS
    if name == _SYS:
        return _SYS
    return ""


def _lookup(name: str, scope: Scope, module: Scope) -> Optional[List[_Binding]]:
    """Return the bindings a name read in ``scope`` may refer to; ``None`` when unbound."""
    if name in scope.globals:
        return module.bindings.get(name)
    current: Optional[Scope] = scope
    first = True
    while current is not None:
        # A class body's names are invisible to the functions inside it.
        if not (current.is_class and not first) and name in current.bindings:
            return current.bindings[name]
        current = current.parent
        first = False
    return None


class Resolver:
    """What an expression may evaluate to, as a set of kinds."""

    def __init__(self, module: Scope) -> None:
        self.module = module

    def kinds(self, node: ast.expr, scope: Scope, depth: int = 0) -> Set[str]:
        if depth > 30:  # an alias cycle ("a = b; b = a") resolves to nothing
            return set()
        if isinstance(node, ast.Name):
            return self.name_kinds(node.id, scope, depth) or set()
        if isinstance(node, ast.Attribute):
            if node.attr in _OS_NAMES and _OS in self.kinds(node.value, scope, depth + 1):
                return {node.attr}
            if node.attr == "exit" and _SYS in self.kinds(node.value, scope, depth + 1):
                return {SYS_EXIT}
            return set()
        if isinstance(node, ast.Call):
            return self._call_kinds(node, scope, depth)
        return set()

    def name_kinds(self, name: str, scope: Scope, depth: int = 0) -> Optional[Set[str]]:
        """Return the kinds of a name, or ``None`` when nothing in the file binds it."""
        bindings = _lookup(name, scope, self.module)
        if bindings is None:
            return None
        kinds: Set[str] = set()
        for binding in bindings:
            if isinstance(binding, str):
                kinds.add(binding)
            else:
                kinds |= self.kinds(binding[0], binding[1], depth + 1) or {""}
        return kinds

    def _call_kinds(self, node: ast.Call, scope: Scope, depth: int) -> Set[str]:
        func = node.func
        if not isinstance(func, ast.Name) or node.keywords:
            return set()
        if _lookup(func.id, scope, self.module) is not None:
            return set()  # not the builtin
        args = node.args
        if func.id == "getattr" and len(args) in (2, 3):
            name = constant_str(args[1])
            if name in FUNCTIONS and _OS in self.kinds(args[0], scope, depth + 1):
                return {name}
        if func.id == "__import__" and args and constant_str(args[0]) in _OS_MODULES:
            return {_OS}
        return set()


def constant_str(node: ast.expr) -> Optional[str]:
    """The value of a string literal, ``None`` for anything else."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None
