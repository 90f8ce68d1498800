# ws2/native: the port's own socket, ssl and tls modules, also after ws2.compat.install().
# MIT licence; part of ws2 for MicroPython.
#
# install() puts drop-ins under those names in sys.modules, so a provider's
# plain `import socket` would get the drop-in and route back into itself.
# Providers import them from here instead (`from ws2.native import socket`):
# install() keeps the port's modules in `saved` before it patches anything.
import sys

saved = {}  # name -> the port's module, kept by ws2.compat.install()


def __getattr__(name):
    m = saved.get(name)
    if m is not None:
        return m
    m = sys.modules.get(name)
    if m is not None and getattr(m, "_WS2_DROPIN", False):
        raise ImportError("the port's %s module was not kept by ws2.compat.install()" % name)
    try:
        return __import__(name)
    except ImportError:
        raise AttributeError(name)  # `from ws2.native import tls` fails as an ImportError
