"""An import-linter contract type of our own: no import cycle between the modules of an app.

import-linter's ``acyclic_siblings`` looks at packages squashed whole (``tickets.email`` as one node), so a
Django app whose ``models`` registers its sub-packages' models (``tickets.models`` imports
``tickets.chat.models``, which names ``tickets.models``' classes) always "cycles" there. This contract looks
at modules: a cycle is a module that imports itself back through others, with imports inside functions
counted (grimp reads them too). Tooling, so it lives in ``devtools`` (no product app imports it).
"""

from __future__ import annotations

import grimp
from importlinter.application import output
from importlinter.domain import fields
from importlinter.domain.contract import Contract, ContractCheck


def _cycles(graph: grimp.ImportGraph, modules: set[str]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root) & modules)))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.find_modules_directly_imported_by(child) & modules))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


class AcyclicModulesContract(Contract):
    """``packages``: the apps whose modules must not import each other in a circle."""

    packages = fields.ListField(subfield=fields.StringField())

    def check(self, graph: grimp.ImportGraph, verbose: bool) -> ContractCheck:
        cycles = []
        for package in self.packages:  # type: ignore[attr-defined]
            modules = graph.find_descendants(package) | {package}
            cycles += _cycles(graph, modules)
        return ContractCheck(kept=not cycles, metadata={"cycles": cycles})

    def render_broken_contract(self, check: ContractCheck) -> None:
        for cycle in check.metadata["cycles"]:
            output.print("These modules import each other in a circle:")
            output.new_line()
            for module in cycle:
                output.print(f"- {module}")
            output.new_line()
