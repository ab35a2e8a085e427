/* Loads configuration files the way the tests do (@CERTS@ replaced) and
 * prints every diagnostic: a quick way to see what the loader says. */
#include "test_util.h"

int main(int argc, char **argv)
{
    int rc = 0;
    for (int i = 1; i < argc; i++) {
        sbc_diag_t d;
        sbc_diag_init(&d);
        sbc_config_t *c = tu_load(argv[i], &d);
        printf("== %s: %s\n", argv[i], c ? "ok" : "FAILED");
        for (size_t k = 0; k < d.n; k++)
            printf("%s\n", d.lines[k]);
        if (!c)
            rc = 1;
        sbc_config_unref(c);
        sbc_diag_clear(&d);
    }
    return rc;
}
