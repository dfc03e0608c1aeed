# ns-per-op: redraw from the sweep directory with
#   gnuplot -e 'set terminal svg; set output "ns-per-op.svg"' plot-data/ns-per-op.gp
set encoding utf8
set datafile missing "?"
set border 3 lw 1 lc rgb "#555555"
set tics nomirror
set grid ytics lc rgb "#dddddd" lw 1 dt 1
set key outside right top vertical Left reverse samplen 2 spacing 1.2
set title "Micro-benchmarks: time per operation on one core\namd-epyc-2pu-linux6, full profile, median, 95% CI"
set ylabel "time per operation (ns), log scale"
set style data histograms
set style histogram errorbars gap 1.5 lw 1.2
set boxwidth 0.9
set xtics scale 0
set logscale y
set yrange [1:*]
set format y '%.0s%c'

plot 'plot-data/ns-per-op.dat' using 2:3:4:xtic(1) title "pthreads" lc rgb "#0072B2" fs solid 0.85 border lc rgb "#333333", \
     'plot-data/ns-per-op.dat' using 5:6:7 title "coro" lc rgb "#E69F00" fs solid 0.85 border lc rgb "#333333", \
     'plot-data/ns-per-op.dat' using 8:9:10 title "mn" lc rgb "#009E73" fs solid 0.85 border lc rgb "#333333", \
     'plot-data/ns-per-op.dat' using 11:12:13 title "goroutine" lc rgb "#D55E00" fs solid 0.85 border lc rgb "#333333", \
     'plot-data/ns-per-op.dat' using 14:15:16 title "go" lc rgb "#CC79A7" fs solid 0.85 border lc rgb "#333333", \
     'plot-data/ns-per-op.dat' using 17:18:19 title "boost" lc rgb "#56B4E9" fs solid 0.85 border lc rgb "#333333"
