# lateness-cdf: redraw from the sweep directory with
#   gnuplot -e 'set terminal svg; set output "lateness-cdf.svg"' plot-data/lateness-cdf.gp
set encoding utf8
set datafile missing "?"
set border 3 lw 1 lc rgb "#555555"
set tics nomirror
set grid ytics lc rgb "#dddddd" lw 1 dt 1
set key outside right top vertical Left reverse samplen 2 spacing 1.2
set title "CPU hogs: probe wake-up lateness (2 hogs, 1 ms probe sleeps)\namd-epyc-2pu-linux6, full profile, median over repetitions of each recorded percentile"
set xlabel "probe wake-up lateness (µs, log scale; 1 µs or less drawn at 1)"
set ylabel "fraction of wake-ups at most this late"
set logscale x
set xrange [1:*]
set ytics ("0%%" 0, "50%%" 0.30103, "90%%" 1, "99%%" 2, "99.9%%" 3, "max" 3.6)
set yrange [-0.1:3.8]
set grid xtics ytics lc rgb '#dddddd'
set format x '%.0s%c'

plot 'plot-data/lateness-cdf.dat' index 0 using 1:2 with linespoints title "pthreads" lc rgb "#0072B2" lw 2 dt 1 pt 7 ps 1.2, \
     'plot-data/lateness-cdf.dat' index 1 using 1:2 with linespoints title "coro" lc rgb "#E69F00" lw 2 dt 1 pt 7 ps 1.2, \
     'plot-data/lateness-cdf.dat' index 2 using 1:2 with linespoints title "mn slice=200µs" lc rgb "#009E73" lw 2 dt 1 pt 7 ps 1.2, \
     'plot-data/lateness-cdf.dat' index 3 using 1:2 with linespoints title "mn slice=1000µs" lc rgb "#009E73" lw 2 dt 2 pt 5 ps 1.2, \
     'plot-data/lateness-cdf.dat' index 4 using 1:2 with linespoints title "mn slice=10000µs" lc rgb "#009E73" lw 2 dt 3 pt 9 ps 1.2, \
     'plot-data/lateness-cdf.dat' index 5 using 1:2 with linespoints title "goroutine slice=200µs" lc rgb "#D55E00" lw 2 dt 1 pt 7 ps 1.2, \
     'plot-data/lateness-cdf.dat' index 6 using 1:2 with linespoints title "goroutine slice=1000µs" lc rgb "#D55E00" lw 2 dt 2 pt 5 ps 1.2, \
     'plot-data/lateness-cdf.dat' index 7 using 1:2 with linespoints title "goroutine slice=10000µs" lc rgb "#D55E00" lw 2 dt 3 pt 9 ps 1.2, \
     'plot-data/lateness-cdf.dat' index 8 using 1:2 with linespoints title "go" lc rgb "#CC79A7" lw 2 dt 1 pt 7 ps 1.2
