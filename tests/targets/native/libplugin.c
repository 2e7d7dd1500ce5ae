int plugin_compute(int n) {
    int doubled = n * 2;  /* PLUGIN-BODY */
    return doubled + 2;
}
