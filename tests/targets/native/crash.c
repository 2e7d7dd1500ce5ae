#include <stdio.h>

int main(void) {
    int *nowhere = (int *)0;
    printf("about to crash\n");
    fflush(stdout);
    *nowhere = 42;  /* CRASH-LINE */
    return 0;
}
