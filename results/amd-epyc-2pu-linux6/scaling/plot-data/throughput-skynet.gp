# throughput-skynet: redraw from the sweep directory with
#   gnuplot -e 'set terminal svg; set output "throughput-skynet.svg"' plot-data/throughput-skynet.gp
set encoding utf8
set datafile missing "?"
set border 3 lw 1 lc rgb "#555555"
set tics nomirror
set grid ytics lc rgb "#dddddd" lw 1 dt 1
set key outside right top vertical Left reverse samplen 2 spacing 1.2
set title "Scaling: throughput against cores: skynet\namd-epyc-2pu-linux6, full profile, median, 95% CI\nop = one task of the tree (leaves and inner nodes)"
set xlabel "procs (cores the run may use)"
set ylabel "throughput (Mops/s, log scale)"
set xrange [0.5:2.5]
set xtics 1
set logscale y
set bmargin 5
set label 100 "✗ pthreads skynet: EAGAIN creating task 36,436 of 111,111 (warm-up)" at screen 0.01, screen 0.012 left font ",10" tc rgb "#B00000"
plot 'plot-data/throughput-skynet.dat' index 0 using 1:2:3:4 with yerrorlines title "pthreads" lc rgb "#0072B2" lw 2 dt 1 pt 7 ps 1.3, \
     'plot-data/throughput-skynet.dat' index 1 using 1:2:3:4 with yerrorlines title "coro" lc rgb "#E69F00" lw 2 dt 1 pt 7 ps 1.3, \
     'plot-data/throughput-skynet.dat' index 2 using 1:2:3:4 with yerrorlines title "mn" lc rgb "#009E73" lw 2 dt 1 pt 7 ps 1.3, \
     'plot-data/throughput-skynet.dat' index 3 using 1:2:3:4 with yerrorlines title "goroutine" lc rgb "#D55E00" lw 2 dt 1 pt 7 ps 1.3, \
     'plot-data/throughput-skynet.dat' index 4 using 1:2:3:4 with yerrorlines title "go" lc rgb "#CC79A7" lw 2 dt 1 pt 7 ps 1.3, \
     'plot-data/throughput-skynet.dat' index 5 using 1:2 with lines title "linear from best 1-core" lc rgb "#888888" lw 1.5 dt 3
