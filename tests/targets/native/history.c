/* The stop history's program (tests/runner/test_snapshots.py): a loop that passes its
   breakpoint five times, then a frame with a very large array and string. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct inner { int depth; double ratio; };
struct point { int x; int y; const char *label; struct inner detail; };

static void big(void) {
    int numbers[10000];
    for (int k = 0; k < 10000; k++) {
        numbers[k] = k;
    }
    size_t size = 10 * 1024 * 1024;
    char *text = malloc(size + 1);
    memset(text, 'x', size);
    text[size] = 0;
    printf("%d %zu\n", numbers[9999], strlen(text));  /* BIG-STOP */
    free(text);
}

int main(void) {
    struct point p = {3, 4, "origin", {2, 0.5}};
    int total = 0;
    for (int i = 0; i < 5; i++) {
        total += i * 10;  /* HISTORY-LOOP */
    }
    printf("total %d %s\n", total, p.label);
    big();
    return 0;
}
