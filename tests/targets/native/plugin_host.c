#include <dlfcn.h>
#include <stdio.h>

int main(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : "./libplugin.so";
    void *handle = dlopen(path, RTLD_NOW);  /* HOST-DLOPEN */
    if (!handle) {
        fprintf(stderr, "dlopen: %s\n", dlerror());
        return 2;
    }
    int (*compute)(int) = (int (*)(int))dlsym(handle, "plugin_compute");
    int value = compute(20);
    printf("plugin says %d\n", value);
    return 0;
}
