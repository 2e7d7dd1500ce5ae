#include <cstdio>
#include <stdexcept>

static int risky(int n) {
    if (n > 2) {
        throw std::runtime_error("too big");  /* THROW-LINE */
    }
    return n;
}

int main() {
    int sum = 0;
    for (int i = 0; i < 5; i++) {
        try {
            sum += risky(i);
        } catch (const std::exception &e) {
            std::printf("caught %s\n", e.what());
        }
    }
    return sum;
}
