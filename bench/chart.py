# swapdrum
# Copyright (C) 2026 the swapdrum authors
# SPDX-License-Identifier: BSD-3-Clause

"""The chart of the ratios: one group of bars per (cell, row, mode),
swapdrum's median IOPS over each other server's, with the targets
(0.95 against nbdkit file, 1.0 against the others) drawn across.
gnuplot draws it from a data file and a script the report leaves
beside the PNG, so the chart can be redrawn by hand."""

import os
import subprocess

SCRIPT = """\
set terminal pngcairo size {width},640 font "sans,9" noenhanced
set output '{png}'
set title "swapdrum / other server: median IOPS ratio ({title})"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set datafile missing "?"
set yrange [0:{ymax}]
set ylabel "ratio (> 1: swapdrum faster)"
set xtics rotate by -50 scale 0 nomirror
set grid ytics
set key outside top center horizontal
set rmargin 10
set arrow from graph 0, first 0.95 to graph 1, first 0.95 nohead dt 2 lw 1.5 lc rgb "#c00000"
set arrow from graph 0, first 1.0 to graph 1, first 1.0 nohead lw 1 lc rgb "black"
plot '{dat}' using 2:xtic(1) title "vs nbdkit file (same mode)" lc rgb "#4878a8", \\
     '' using 3 title "vs qemu-nbd" lc rgb "#e0a030", \\
     '' using 4 title "vs nbd-server" lc rgb "#60a060", \
     NaN with lines dt 2 lw 1.5 lc rgb "#c00000" title "0.95: target vs nbdkit file"
"""


def draw(groups, outdir, title, name="ratios"):
    """groups: [(label, vs_file, vs_qemu, vs_nbd_server)], None where
    missing.  Writes NAME.dat, NAME.gp and NAME.png in outdir; returns
    the PNG's path, or None if gnuplot failed."""
    dat = os.path.join(outdir, name + ".dat")
    png = os.path.join(outdir, name + ".png")
    with open(dat, "w") as f:
        f.write("# label vs_file vs_qemu-nbd vs_nbd-server\n")
        for g in groups:
            f.write('"%s" %s\n' % (g[0], " ".join(
                "?" if v is None else "%.4f" % v for v in g[1:])))
    vals = [v for g in groups for v in g[1:] if v is not None]
    ymax = max([1.2] + [v * 1.1 for v in vals])
    gp = os.path.join(outdir, name + ".gp")
    with open(gp, "w") as f:
        f.write(SCRIPT.format(width=max(900, 60 * len(groups) + 200),
                              png=os.path.basename(png), title=title,
                              ymax="%.2f" % ymax,
                              dat=os.path.basename(dat)))
    r = subprocess.run(["gnuplot", os.path.basename(gp)], cwd=outdir,
                       capture_output=True, text=True)
    if r.returncode != 0:
        print("bench: gnuplot: %s" % r.stderr.strip())
        return None
    return png
