set terminal svg size 1000,420 dynamic font 'sans,11'
set output '/work/main/docs/tune-classic/tune.svg'
set multiplot layout 1,2 title 'pool size vs load (64-byte lines, loopback)'
unset logscale
set logscale x 2
set grid
set key left top
set xlabel 'workers'
set ylabel 'round trips/s'
set format y '%.0s%c'
plot '/work/main/docs/tune-classic/tune_c1.dat' using 1:2 with linespoints lw 2 title '1 connections', '/work/main/docs/tune-classic/tune_c16.dat' using 1:2 with linespoints lw 2 title '16 connections', '/work/main/docs/tune-classic/tune_c256.dat' using 1:2 with linespoints lw 2 title '256 connections'
set ylabel 'p99 latency (us)'
set logscale y 10
set format y '%g'
plot '/work/main/docs/tune-classic/tune_c1.dat' using 1:3 with linespoints lw 2 title '1 connections', '/work/main/docs/tune-classic/tune_c16.dat' using 1:3 with linespoints lw 2 title '16 connections', '/work/main/docs/tune-classic/tune_c256.dat' using 1:3 with linespoints lw 2 title '256 connections'
unset multiplot
set terminal pngcairo size 1000,420 font 'sans,10'
set output '/work/main/docs/tune-classic/tune.png'
set multiplot layout 1,2 title 'pool size vs load (64-byte lines, loopback)'
unset logscale
set logscale x 2
set grid
set key left top
set xlabel 'workers'
set ylabel 'round trips/s'
set format y '%.0s%c'
plot '/work/main/docs/tune-classic/tune_c1.dat' using 1:2 with linespoints lw 2 title '1 connections', '/work/main/docs/tune-classic/tune_c16.dat' using 1:2 with linespoints lw 2 title '16 connections', '/work/main/docs/tune-classic/tune_c256.dat' using 1:2 with linespoints lw 2 title '256 connections'
set ylabel 'p99 latency (us)'
set logscale y 10
set format y '%g'
plot '/work/main/docs/tune-classic/tune_c1.dat' using 1:3 with linespoints lw 2 title '1 connections', '/work/main/docs/tune-classic/tune_c16.dat' using 1:3 with linespoints lw 2 title '16 connections', '/work/main/docs/tune-classic/tune_c256.dat' using 1:3 with linespoints lw 2 title '256 connections'
unset multiplot
