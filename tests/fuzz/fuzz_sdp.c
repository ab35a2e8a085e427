/* libFuzzer target for what the media layer reads from the network: SDP
 * bodies (parse, then rewrite every m-line both ways, with and without the
 * Teams codec filter) and SDES crypto attributes. Nothing may crash, read
 * out of bounds or overflow its output; a parse that succeeds must give a
 * body the parser takes again. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "media/sdes.h"
#include "media/sdp_rewrite.h"

static void rewrite(const struct sbc_sdp *s, bool teams)
{
    struct sbc_sdp_media_out mo[SBC_SDP_MAX_MEDIA];
    memset(mo, 0, sizeof mo);
    for (unsigned i = 0; i < s->n_media; i++) {
        mo[i].port = (uint16_t)(20000 + 2 * i);
        mo[i].proto = teams ? "RTP/SAVP" : NULL;
        mo[i].rtcp_mux = teams || s->media[i].rtcp_mux;
        mo[i].crypto = teams ? "1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz" : NULL;
        mo[i].dir = sbc_sdp_media_dir(s, i);
        mo[i].teams_codecs = teams;
        mo[i].disabled = s->media[i].port == 0 || (teams && sbc_sdp_teams_codecs(s, i) == 0);
    }
    struct sbc_sdp_out out = { .addr = "127.0.1.1", .sess_id = 1, .sess_version = 2, .media = mo };
    static char buf[65536];
    int n = sbc_sdp_write(s, &out, buf, sizeof buf);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof buf)
        abort();                 /* the writer claimed more than it had room for */
    static struct sbc_sdp again;
    char err[256];
    if (sbc_sdp_parse(buf, (size_t)n, &again, err, sizeof err) != 0)
        abort();                 /* our own output must parse */
    if (again.n_media != s->n_media)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct sbc_sdp s;
    char err[256];
    /* the parser gets exactly `size` bytes: a heap copy lets ASan see overreads */
    char *text = malloc(size ? size : 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    if (sbc_sdp_parse(text, size, &s, err, sizeof err) == 0) {
        rewrite(&s, true);
        rewrite(&s, false);
        for (unsigned i = 0; i < s.n_media; i++)
            for (unsigned k = 0; k < s.media[i].n_crypto; k++) {
                sbc_sdes_t sd;
                if (sbc_sdes_parse(s.media[i].crypto[k].p, s.media[i].crypto[k].n, &sd, err, sizeof err) == 0) {
                    char line[512];
                    (void)sbc_sdes_format(&sd, line, sizeof line);
                }
            }
    }
    sbc_sdes_t sd;
    (void)sbc_sdes_parse(text, size, &sd, err, sizeof err);
    free(text);
    return 0;
}
