"""Run a patch right after a module is first imported, so nothing is imported early for us."""

from __future__ import annotations

import sys


class PatchOnImport:
    """A meta-path finder that lets the real finders load a module, then patches it."""

    def __init__(self, patches: dict) -> None:
        self.patches = dict(patches)  # module name -> function(module)

    def install(self) -> None:
        for name in list(self.patches):
            module = sys.modules.get(name)
            if module is not None:
                self.patches.pop(name)(module)
        sys.meta_path.insert(0, self)

    def find_spec(self, name, path=None, target=None):
        patch = self.patches.get(name)
        if patch is None:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None:
                break
        else:
            return None
        loader = spec.loader
        if loader is None or not hasattr(loader, "exec_module"):
            return spec
        load = loader.exec_module

        def exec_module(module):
            load(module)
            self.patches.pop(name, None)
            patch(module)

        loader.exec_module = exec_module  # this loader instance serves this import only
        return spec
