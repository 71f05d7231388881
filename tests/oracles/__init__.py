"""Slow, plain reference implementations that tests check the fast code against.

Each oracle computes, one document at a time and with simple loops or ``np.unique``, what a fast
batch function of ``dedupe`` computes for a whole batch. They were the package's per-document
implementations; ``dedupe`` never imports them.
"""
