# Tachyon runs on oslo.service's threading backend: select it before any
# module (Watcher's, imported by the plugin tests) selects eventlet's.
import tachyon.cmd  # noqa: F401
