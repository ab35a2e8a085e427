/* libFuzzer target: any bytes as a configuration file. File access is off
 * (includes and certificates become errors), so runs are deterministic and
 * never touch the machine; everything else is exercised, including the
 * lookups and the diff on configurations that load. */
#include "config/config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sbc_diag_t d;
    sbc_diag_init(&d);
    sbc_config_t *c = sbc_config_load_buffer_flags("fuzz.yaml", "/nonexistent", (const char *)data,
                                                   size, SBC_LOAD_NO_FILES, &d);
    if (c) {
        (void)sbc_config_tenant_by_number(c, "+15551230000");
        (void)sbc_config_tenant_by_fqdn(c, "acme.sbc.lab.example");
        struct sockaddr_in in = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(0x0a000105) };
        (void)sbc_config_trunk_by_addr(c, (struct sockaddr *)&in);
        sbc_diag_t df;
        sbc_diag_init(&df);
        sbc_config_diff(c, c, &df);
        sbc_diag_clear(&df);
        sbc_config_unref(c);
    }
    sbc_diag_clear(&d);
    return 0;
}
