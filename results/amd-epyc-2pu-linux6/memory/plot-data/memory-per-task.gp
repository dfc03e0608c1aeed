# memory-per-task: redraw from the sweep directory with
#   gnuplot -e 'set terminal svg; set output "memory-per-task.svg"' plot-data/memory-per-task.gp
set encoding utf8
set datafile missing "?"
set border 3 lw 1 lc rgb "#555555"
set tics nomirror
set grid ytics lc rgb "#dddddd" lw 1 dt 1
set key outside right top vertical Left reverse samplen 2 spacing 1.2
set title "Memory per parked task\namd-epyc-2pu-linux6, full profile, median, 95% CI"
set xlabel "parked tasks (log scale)"
set ylabel "resident bytes per task"
set logscale x
set xrange [500:2e+06]
set format x '%.0s%c'
set yrange [0:*]
set label "EAGAIN creating task 32,449 of 100,000" at 100000, 13600.6 right offset -1.5,-1.2 font ",10" tc rgb "#0072B2"
set bmargin 5
set label 100 "✗ pthreads idle at tasks=100000, tasks=300000, tasks=1000000: EAGAIN creating task 32,449 of 100,000" at screen 0.01, screen 0.012 left font ",10" tc rgb "#B00000"
plot 'plot-data/memory-per-task.dat' index 0 using 1:2:3:4 with yerrorlines title "pthreads (p=2), ✗ at 100k" lc rgb "#0072B2" lw 2 dt 1 pt 7 ps 1.3, \
     'plot-data/memory-per-task.dat' index 1 using 1:2:3:4 with yerrorlines title "coro (p=1)" lc rgb "#E69F00" lw 2 dt 1 pt 7 ps 1.3, \
     'plot-data/memory-per-task.dat' index 2 using 1:2:3:4 with yerrorlines title "mn (p=2)" lc rgb "#009E73" lw 2 dt 1 pt 7 ps 1.3, \
     'plot-data/memory-per-task.dat' index 3 using 1:2:3:4 with yerrorlines title "goroutine (p=2)" lc rgb "#D55E00" lw 2 dt 1 pt 7 ps 1.3, \
     'plot-data/memory-per-task.dat' index 4 using 1:2:3:4 with yerrorlines title "go (p=2)" lc rgb "#CC79A7" lw 2 dt 1 pt 7 ps 1.3, \
     'plot-data/memory-per-task.dat' index 5 using 1:2 with points notitle lc rgb "#0072B2" pt 2 ps 3 lw 3
