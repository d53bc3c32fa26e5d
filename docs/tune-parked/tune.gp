set terminal svg size 1000,420 dynamic font 'sans,11'
set output '/work/main/docs/tune-parked/tune.svg'
set datafile separator ','
set multiplot layout 1,2 title 'echo server: pool size vs load'
set logscale x 2
set grid
set key left top
set xlabel 'workers'
set ylabel 'round trips/s'
set format y '%.0s%c'
plot '/work/main/docs/tune-parked/tune.csv' using ($2==1?$1:1/0):3 with linespoints title '1 conns', '/work/main/docs/tune-parked/tune.csv' using ($2==16?$1:1/0):3 with linespoints title '16 conns', '/work/main/docs/tune-parked/tune.csv' using ($2==256?$1:1/0):3 with linespoints title '256 conns'
set ylabel 'p99 latency (us)'
set logscale y
set format y '%g'
plot '/work/main/docs/tune-parked/tune.csv' using ($2==1?$1:1/0):5 with linespoints title '1 conns', '/work/main/docs/tune-parked/tune.csv' using ($2==16?$1:1/0):5 with linespoints title '16 conns', '/work/main/docs/tune-parked/tune.csv' using ($2==256?$1:1/0):5 with linespoints title '256 conns'
unset multiplot
