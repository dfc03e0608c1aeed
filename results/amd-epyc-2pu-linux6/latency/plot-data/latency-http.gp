# latency-http: redraw from the sweep directory with
#   gnuplot -e 'set terminal svg; set output "latency-http.svg"' plot-data/latency-http.gp
set encoding utf8
set datafile missing "?"
set border 3 lw 1 lc rgb "#555555"
set tics nomirror
set grid ytics lc rgb "#dddddd" lw 1 dt 1
set key outside right top vertical Left reverse samplen 2 spacing 1.2
set title "Latency against offered load (open loop): http\namd-epyc-2pu-linux6, full profile, median, 95% CI"
set xlabel "offered load (requests/s, open loop, log scale)"
set ylabel "latency (µs, log scale)"
set logscale xy
set yrange [34.3033:5824.51]
set xrange [769.231:65000]
set xtics ("1k" 1000, "2k" 2000, "5k" 5000, "10k" 10000, "20k" 20000, "50k" 50000)
set format y '%.0s%c'

plot 'plot-data/latency-http.dat' index 0 using 1:2:3:4 with yerrorlines title "pthreads (p=2) p50" lc rgb "#0072B2" lw 2 dt 1 pt 7 ps 1.2, \
     'plot-data/latency-http.dat' index 5 using 1:2:3:4 with yerrorlines title "pthreads (p=2) p99" lc rgb "#0072B2" lw 2 dt 2 pt 6 ps 1.2, \
     'plot-data/latency-http.dat' index 1 using 1:2:3:4 with yerrorlines title "coro (p=1) p50" lc rgb "#E69F00" lw 2 dt 1 pt 7 ps 1.2, \
     'plot-data/latency-http.dat' index 6 using 1:2:3:4 with yerrorlines title "coro (p=1) p99" lc rgb "#E69F00" lw 2 dt 2 pt 6 ps 1.2, \
     'plot-data/latency-http.dat' index 2 using 1:2:3:4 with yerrorlines title "mn (p=2) p50" lc rgb "#009E73" lw 2 dt 1 pt 7 ps 1.2, \
     'plot-data/latency-http.dat' index 7 using 1:2:3:4 with yerrorlines title "mn (p=2) p99" lc rgb "#009E73" lw 2 dt 2 pt 6 ps 1.2, \
     'plot-data/latency-http.dat' index 3 using 1:2:3:4 with yerrorlines title "goroutine (p=2) p50" lc rgb "#D55E00" lw 2 dt 1 pt 7 ps 1.2, \
     'plot-data/latency-http.dat' index 8 using 1:2:3:4 with yerrorlines title "goroutine (p=2) p99" lc rgb "#D55E00" lw 2 dt 2 pt 6 ps 1.2, \
     'plot-data/latency-http.dat' index 4 using 1:2:3:4 with yerrorlines title "go (p=2) p50" lc rgb "#CC79A7" lw 2 dt 1 pt 7 ps 1.2, \
     'plot-data/latency-http.dat' index 9 using 1:2:3:4 with yerrorlines title "go (p=2) p99" lc rgb "#CC79A7" lw 2 dt 2 pt 6 ps 1.2
