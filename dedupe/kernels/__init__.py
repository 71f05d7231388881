"""Compiled kernels: the few loops that numpy cannot express without a pass per item.

Each kernel is a numba function compiled on first use (numba installs as wheels, no compiler is
needed) and cached next to this package (``__pycache__``), or in numba's user cache where the
package folder is read-only, so only the first run on a machine pays the compile. Every kernel
has a slow, obviously correct reference in ``tests/`` that it is checked against on random
input.
"""
