#include <pthread.h>
#include <stdio.h>

static int counts[2];

static void *work(void *arg) {
    int index = *(int *)arg;
    counts[index] += 1;  /* THREAD-BODY */
    return NULL;
}

int main(void) {
    pthread_t threads[2];
    int ids[2] = {0, 1};
    for (int i = 0; i < 2; i++) {
        pthread_create(&threads[i], NULL, work, &ids[i]);
    }
    for (int i = 0; i < 2; i++) {
        pthread_join(threads[i], NULL);
    }
    printf("counts %d %d\n", counts[0], counts[1]);
    return 0;
}
