#include <stdio.h>
#include <unistd.h>

volatile long counter = 0;

static void tick(void) {
    counter += 1;  /* TICK-BODY */
}

int main(void) {
    printf("ready\n");
    fflush(stdout);
    for (;;) {
        tick();
        usleep(1000);
    }
    return 0;
}
