#include <stdio.h>
#include <stdlib.h>

struct inner { int depth; double ratio; };
struct point { int x; int y; const char *label; struct inner detail; };
union number { int i; unsigned char bytes[4]; };

int depth_reached = 0;

static int square(int n) {
    int result = n * n;  /* SQUARE-BODY */
    return result;
}

static int recurse(int n) {
    depth_reached = n;  /* RECURSE-BODY */
    if (n == 0) {
        return 0;
    }
    return 1 + recurse(n - 1);
}

int main(int argc, char **argv) {
    struct point p = {3, 4, "origin", {2, 0.5}};
    struct point *pp = &p;
    union number u = {.i = 7};
    int numbers[300];
    for (int i = 0; i < 300; i++) {
        numbers[i] = i * 2;
    }
    int total = 0;  /* MAIN-START */
    for (int i = 0; i < 5; i++) {
        total += square(numbers[i]);  /* LOOP-BODY */
    }
    for (int i = 1; i < argc; i++) {
        printf("arg[%d]=%s\n", i, argv[i]);
    }
    int levels = recurse(40);
    printf("total %d levels %d x %d\n", total, levels, pp->x);  /* AFTER-RECURSE */
    fprintf(stderr, "label %s\n", p.label);
    return (total + p.x) % 256;
}
