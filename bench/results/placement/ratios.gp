set terminal pngcairo size 2360,640 font "sans,9" noenhanced
set output 'ratios.png'
set title "swapdrum / other server: median IOPS ratio ([par]: parallel=true; else parallel=false (SERIALIZE_REQUESTS))"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set datafile missing "?"
set yrange [0:14.13]
set ylabel "ratio (> 1: swapdrum faster)"
set xtics rotate by -50 scale 0 nomirror
set grid ytics
set key outside top center horizontal
set rmargin 10
set arrow from graph 0, first 0.95 to graph 1, first 0.95 nohead dt 2 lw 1.5 lc rgb "#c00000"
set arrow from graph 0, first 1.0 to graph 1, first 1.0 nohead lw 1 lc rgb "black"
plot 'ratios.dat' using 2:xtic(1) title "vs nbdkit file (same mode)" lc rgb "#4878a8", \
     '' using 3 title "vs qemu-nbd" lc rgb "#e0a030", \
     '' using 4 title "vs nbd-server" lc rgb "#60a060",      NaN with lines dt 2 lw 1.5 lc rgb "#c00000" title "0.95: target vs nbdkit file"
