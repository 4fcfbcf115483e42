# swapdrum
# Copyright (C) 2026 the swapdrum authors
# SPDX-License-Identifier: BSD-3-Clause

"""How the reports write a set of repetitions: "median (min-max)"."""

import statistics


def spread(xs, fmt="%.0f", scale=1.0):
    """"median (min-max)" of xs (each divided by scale), leaving out
    None; "-" if nothing is left, the one value alone."""
    xs = [x / scale for x in xs if x is not None]
    if not xs:
        return "-"
    m = statistics.median(xs)
    if len(xs) == 1:
        return fmt % m
    return (fmt + " (" + fmt + "–" + fmt + ")") % (m, min(xs), max(xs))
