# firmware/manifest: evaluate a MicroPython freeze manifest the way tools/manifestfile.py does.
# MIT licence; part of ws2 for MicroPython.
#
# MicroPython's tools/manifestfile.py is not installed here (it lives in the
# MicroPython source tree), so this is a small stand-in with the same
# semantics in freeze mode: the manifest runs as Python with the functions
# include/require/add_library/package/module/c_module/metadata/options and the
# legacy freeze/freeze_as_str/freeze_as_mpy/freeze_mpy; relative paths are
# relative to the manifest being run; an include of a directory means its
# manifest.py; a manifest is run once however often it is included; metadata()
# at most once per package level. Paths that start with $(MPY_DIR),
# $(MPY_LIB_DIR), $(PORT_DIR) or $(BOARD_DIR) belong to the MicroPython tree:
# without values for those variables they are recorded as external, not read.
#
# Where the real tool is lenient this reader is strict, because a manifest
# that freezes nothing by mistake builds a firmware without ws2: a package()
# that matches no .py file, and two files frozen under one module name, are
# errors here.
import os
import re

from firmware import FirmwareError

KIND_MPY = "mpy"  # compiled with mpy-cross, then frozen
KIND_STR = "str"  # frozen as source text
KIND_FROZEN_MPY = "frozen_mpy"  # a ready .mpy
PATH_VARS = ("MPY_DIR", "MPY_LIB_DIR", "PORT_DIR", "BOARD_DIR")
_VAR = re.compile(r"\$\((\w+)\)")
_METADATA_KEYS = ("description", "version", "license", "author", "stdlib", "pypi", "pypi_publish")


class ManifestError(FirmwareError):
    """A manifest that MicroPython's build would reject, or that names a file that is not there."""


class FrozenFile:
    """One file the firmware would freeze: where it is, its module path, how, at which -O level."""

    def __init__(self, full_path, target_path, kind, opt):
        self.full_path = full_path
        self.target_path = target_path
        self.kind = kind
        self.opt = opt

    def __repr__(self):
        return "FrozenFile(%r, %r, %r, opt=%r)" % (self.full_path, self.target_path, self.kind, self.opt)


class External:
    """A call that names the MicroPython tree (or micropython-lib), recorded instead of followed."""

    def __init__(self, func, what, manifest):
        self.func = func
        self.what = what
        self.manifest = manifest

    def __repr__(self):
        return "%s(%r)" % (self.func, self.what)


class _Options:
    # The `options` global of an included manifest: include()'s keyword arguments.
    def __init__(self, **kwargs):
        self._kwargs = kwargs
        self._defaults = {}

    def defaults(self, **kwargs):
        self._defaults = kwargs

    def __getattr__(self, name):
        return self._kwargs.get(name, self._defaults.get(name, None))


class Manifest:
    """Run manifests; afterwards .files, .external, .c_modules and .metadata say what the build would use."""

    def __init__(self, path_vars=None):
        self.path_vars = dict(path_vars or {})
        self.files = []
        self.external = []
        self.c_modules = []
        self.metadata = {}
        self._metadata_set = [False]
        self._visited = set()
        self._libraries = {}
        self._current = None

    # -- paths ---------------------------------------------------------------------

    def _resolve(self, path):
        # -> (absolute path, None) or (None, the unresolved path) for the MicroPython tree.
        for name in _VAR.findall(path):
            value = self.path_vars.get(name)
            if value is None:
                if name not in PATH_VARS:
                    raise ManifestError("unknown path variable $(%s) in %r" % (name, path))
                return None, path
            path = path.replace("$(%s)" % name, value)
        return os.path.abspath(os.path.join(self._dir(), path)), None

    def _dir(self):
        return os.path.dirname(self._current) if self._current else os.getcwd()

    def _add(self, full_path, target_path, kind, opt):
        if not os.path.isfile(full_path):
            raise ManifestError("Cannot stat %s" % full_path)
        target_path = target_path.replace(os.sep, "/")
        for f in self.files:
            if f.target_path == target_path:
                raise ManifestError("%s and %s are both frozen as %s" % (f.full_path, full_path, target_path))
        self.files.append(FrozenFile(full_path, target_path, kind, opt))

    def _search(self, base, package_path, files, exts, kind, opt, what):
        if files is not None:
            for f in files:
                if package_path:
                    f = os.path.join(package_path, f)
                self._add(os.path.join(base, f), f, _kind(f, kind), opt)
            return
        top = os.path.join(base, package_path) if package_path else base
        found = 0
        for d, dirs, names in os.walk(top, followlinks=True):
            dirs.sort()
            for n in sorted(names):
                if os.path.splitext(n)[1].lower() in exts:
                    full = os.path.join(d, n)
                    self._add(full, os.path.relpath(full, base), _kind(n, kind), opt)
                    found += 1
        if not found:
            raise ManifestError("%s matched no %s file under %s" % (what, "/".join(exts), top))

    # -- the manifest API --------------------------------------------------------------

    def _globals(self, kwargs):
        return {"metadata": self.metadata_call, "include": self.include, "require": self.require,
                "add_library": self.add_library, "package": self.package, "module": self.module,
                "c_module": self.c_module, "options": _Options(**kwargs), "freeze": self.freeze,
                "freeze_as_str": self.freeze_as_str, "freeze_as_mpy": self.freeze_as_mpy,
                "freeze_mpy": self.freeze_mpy}

    def execute(self, manifest_path):
        """Run a manifest file (the top-level one, as FROZEN_MANIFEST)."""
        self.include(os.path.abspath(manifest_path))

    def metadata_call(self, **kwargs):
        """metadata(description=, version=, license=, author=, stdlib=, pypi=, pypi_publish=)."""
        for k in kwargs:
            if k not in _METADATA_KEYS:
                raise TypeError("metadata() got an unexpected keyword argument %r" % k)
        if kwargs:
            if self._metadata_set[-1]:
                raise ManifestError("Duplicate call to metadata().")
            self._metadata_set[-1] = True
            if len(self._metadata_set) == 1:
                self.metadata = dict(kwargs)

    def include(self, manifest_path, is_require=False, **kwargs):
        """include(path or list of paths, **options): run another manifest (a directory means its manifest.py)."""
        if not isinstance(manifest_path, str):
            for m in manifest_path:
                self.include(m, **kwargs)
            return
        path, unresolved = self._resolve(manifest_path)
        if unresolved:
            self.external.append(External("include", unresolved, self._current))
            return
        if os.path.isdir(path):
            path = os.path.join(path, "manifest.py")
        if path in self._visited:
            return
        self._visited.add(path)
        try:
            with open(path) as f:
                code = f.read()
        except OSError as e:
            raise ManifestError("Error in manifest file: %s: %s" % (path, e.strerror))
        outer = self._current
        self._current = path
        if is_require:
            self._metadata_set.append(False)
        # MicroPython's tool runs a manifest from its own folder; a manifest may rely on that.
        cwd = os.getcwd()
        os.chdir(os.path.dirname(path))
        try:
            exec(compile(code, path, "exec"), self._globals(kwargs))
        except ManifestError as e:
            raise ManifestError(str(e) if str(e).startswith("Error in manifest file") else
                                "Error in manifest file: %s: %s" % (path, e))
        except Exception as e:
            raise ManifestError("Error in manifest file: %s: %s" % (path, e))
        finally:
            os.chdir(cwd)
            self._current = outer
            if is_require:
                self._metadata_set.pop()

    def require(self, name, version=None, pypi=None, library=None, **kwargs):
        """require(name, version=None, pypi=None, library=None): a micropython-lib (or add_library) package."""
        if library is not None:
            if library not in self._libraries:
                raise ValueError("Unknown library '{}' for require('{}').".format(library, name))
            root = self._libraries[library]
            if root is not None:
                for d, _, names in os.walk(root):
                    if os.path.basename(d) == name and "manifest.py" in names:
                        self.include(d, is_require=True, **kwargs)
                        return
                raise ValueError("Package '{}' not found in external library '{}' ({}).".format(name, library, root))
        self.external.append(External("require", name, self._current))

    def add_library(self, library, library_path, prepend=False):
        """add_library(name, path, prepend=False): register a library root for require()."""
        path, _ = self._resolve(library_path)
        self._libraries[library] = path

    def package(self, package_path, files=None, base_path=".", opt=None):
        """package(name, files=None, base_path=".", opt=None): freeze base_path/name/**.py as name/**.py."""
        base, unresolved = self._resolve(base_path)
        if unresolved:
            self.external.append(External("package", os.path.join(unresolved, package_path), self._current))
            return
        self._search(base, package_path, files, (".py",), KIND_MPY, opt, "package(%r)" % package_path)

    def module(self, module_path, base_path=".", opt=None):
        """module(file.py, base_path=".", opt=None): freeze one module."""
        base, unresolved = self._resolve(base_path)
        if os.path.splitext(module_path)[1].lower() != ".py":
            raise ManifestError("module must be .py file")
        if unresolved:
            self.external.append(External("module", os.path.join(unresolved, module_path), self._current))
            return
        self._add(os.path.join(base, module_path), module_path, KIND_MPY, opt)

    def c_module(self, module_path):
        """c_module(dir): a user C module (needs micropython.mk or micropython.cmake)."""
        path, unresolved = self._resolve(module_path)
        if unresolved:
            self.external.append(External("c_module", unresolved, self._current))
            return
        if not os.path.isdir(path):
            raise ManifestError("C module path does not exist or is not a directory: {}".format(path))
        if not any(os.path.isfile(os.path.join(path, n)) for n in ("micropython.mk", "micropython.cmake")):
            raise ManifestError("C module directory must contain micropython.mk or micropython.cmake: %s" % path)
        self.c_modules.append(path)

    def _freeze(self, path, script, exts, kind, opt, func):
        base, unresolved = self._resolve(path)
        if unresolved:
            self.external.append(External(func, unresolved, self._current))
            return
        what = "%s(%r)" % (func, path)
        if script is None:
            self._search(base, None, None, exts, kind, opt, what)
        elif isinstance(script, str) and os.path.isdir(os.path.join(base, script)):
            self._search(base, script, None, exts, kind, opt, what)
        elif not isinstance(script, str):
            self._search(base, None, script, exts, kind, opt, what)
        else:
            self._search(base, None, (script,), exts, kind, opt, what)

    def freeze(self, path, script=None, opt=None):
        """freeze(dir, script=None, opt=None): .py compiled and .mpy frozen as is, names relative to dir."""
        self._freeze(path, script, (".py", ".mpy"), None, opt, "freeze")

    def freeze_as_str(self, path):
        """freeze_as_str(dir): .py frozen as source text."""
        self._freeze(path, None, (".py",), KIND_STR, None, "freeze_as_str")

    def freeze_as_mpy(self, path, script=None, opt=None):
        """freeze_as_mpy(dir, script=None, opt=None): .py compiled, then frozen."""
        self._freeze(path, script, (".py",), KIND_MPY, opt, "freeze_as_mpy")

    def freeze_mpy(self, path, script=None, opt=None):
        """freeze_mpy(dir, script=None, opt=None): ready .mpy files frozen as they are."""
        self._freeze(path, script, (".mpy",), KIND_FROZEN_MPY, opt, "freeze_mpy")


def _kind(name, kind):
    if kind is not None:
        return kind
    return KIND_FROZEN_MPY if name.lower().endswith(".mpy") else KIND_MPY


def read(manifest_path, path_vars=None):
    """Run a manifest and return the Manifest with what it freezes; ManifestError when it is not valid."""
    m = Manifest(path_vars)
    m.execute(manifest_path)
    return m
