/* Benchmark target for bench/gdb_step_latency.py: an endless loop of simple statements.
 *
 * Built with `gcc -g -O0` at run time. Every statement of the body is on its own line and
 * calls nothing, so `next` from any line of the body stops on the following line and every
 * step is the same amount of debugger work. The benchmark sets its breakpoint on the line
 * that carries the marker comment (BENCH and BREAK joined by a hyphen).
 */

int main(void)
{
    volatile unsigned long total = 0;
    unsigned long i = 0;
    for (;;) {
        unsigned long x = i; /* BENCH-BREAK */
        unsigned long y = x + 1;
        unsigned long z = y * 2;
        unsigned long w = z - 3;
        total += w;
        i++;
    }
    return 0;
}
