# skynet-time: redraw from the sweep directory with
#   gnuplot -e 'set terminal svg; set output "skynet-time.svg"' plot-data/skynet-time.gp
set encoding utf8
set datafile missing "?"
set border 3 lw 1 lc rgb "#555555"
set tics nomirror
set grid ytics lc rgb "#dddddd" lw 1 dt 1
set key outside right top vertical Left reverse samplen 2 spacing 1.2
set title "Skynet: wall time\namd-epyc-2pu-linux6, full profile, median, 95% CI"
set ylabel "wall time (ms), log scale"
set style data histograms
set style histogram errorbars gap 1.5 lw 1.2
set boxwidth 0.9
set xtics scale 0
set logscale y
set yrange [5:*]
set format y '%.0s%c'
set bmargin 5
set label 100 "✗ pthreads skynet at tasks=1000000: EAGAIN creating task 309,748 of 1,111,111" at screen 0.01, screen 0.012 left font ",10" tc rgb "#B00000"
plot 'plot-data/skynet-time.dat' using 2:3:4:xtic(1) title "pthreads (p=2)" lc rgb "#0072B2" fs solid 0.85 border lc rgb "#333333", \
     'plot-data/skynet-time.dat' using 5:6:7 title "coro (p=1)" lc rgb "#E69F00" fs solid 0.85 border lc rgb "#333333", \
     'plot-data/skynet-time.dat' using 8:9:10 title "mn (p=2)" lc rgb "#009E73" fs solid 0.85 border lc rgb "#333333", \
     'plot-data/skynet-time.dat' using 11:12:13 title "goroutine (p=2)" lc rgb "#D55E00" fs solid 0.85 border lc rgb "#333333", \
     'plot-data/skynet-time.dat' using 14:15:16 title "go (p=2)" lc rgb "#CC79A7" fs solid 0.85 border lc rgb "#333333"
