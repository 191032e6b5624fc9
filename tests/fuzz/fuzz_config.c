/* fuzz_config.c — libFuzzer target: arbitrary bytes as INI text → dz_config_parse().
 *
 * The input is copied into a NUL-terminated buffer (text after an embedded NUL is simply not
 * seen, as for a C string).  After a successful parse every documented invariant of
 * dz_config must hold; after a failure the error must be DZ_ECONFIG with a non-empty,
 * one-line, terminated message.  A violated invariant calls abort(), which libFuzzer reports
 * as a crash.  Parsing the same text twice must give the same struct (no state leaks from
 * one parse into the next, no uninitialised bytes).
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dz/config.h"
#include "fuzz_check.h"


/* A string field is terminated inside its array. */
#define TERMINATED(f) (memchr((f), '\0', sizeof(f)) != NULL)

/* A path the parser resolved against base "/base": empty or absolute. */
static int resolved(const char *p) { return p[0] == '\0' || p[0] == '/'; }

static void check_ok(const dz_config *c, const dz_err *e)
{
    CHECK(e->code == DZ_OK);
    CHECK(TERMINATED(c->train) && TERMINATED(c->train_x) && TERMINATED(c->train_y));
    CHECK(TERMINATED(c->test) && TERMINATED(c->test_x) && TERMINATED(c->test_y));
    CHECK(TERMINATED(c->model_type) && TERMINATED(c->optimizer));
    CHECK(TERMINATED(c->model_out) && TERMINATED(c->metrics_out) && TERMINATED(c->ckpt_file));
    CHECK(c->train[0] != '\0');
    CHECK(resolved(c->train) && resolved(c->test) && resolved(c->model_out) &&
          resolved(c->metrics_out) && resolved(c->ckpt_file));
    CHECK(c->model_out[0] != '\0' && c->metrics_out[0] != '\0');
    CHECK(c->train_x[0] && c->train_y[0] && c->test_x[0] && c->test_y[0]);
    CHECK(isfinite(c->scale) && c->scale > 0);
    CHECK(isfinite(c->learning_rate) && c->learning_rate > 0);
    CHECK(c->iterations >= 1);
    CHECK(c->log_every >= 1);
    CHECK(c->block_rows >= 0 && c->block_rows <= (1 << 20));
    CHECK(c->ckpt_every >= 0);
    CHECK(c->ckpt_every == 0 || c->ckpt_file[0] != '\0');
    CHECK(c->dtype >= DZ_DTYPE_NATIVE && c->dtype <= DZ_DTYPE_F64);
    CHECK(c->reproducible == 0 || c->reproducible == 1);
    CHECK(!strcmp(c->model_type, "logistic"));
    CHECK(!strcmp(c->optimizer, "gd"));
    /* The describe/hash helpers must cope with whatever the parser accepted. */
    char buf[2048];
    dz_config_describe(c, buf, (int)sizeof buf);
    CHECK(TERMINATED(buf));
    (void)dz_config_hash(c);
}

static void check_fail(int rc, const dz_err *e)
{
    CHECK(rc == DZ_ECONFIG);
    CHECK(e->code == DZ_ECONFIG);
    CHECK(TERMINATED(e->msg));
    CHECK(e->msg[0] != '\0');
    CHECK(strchr(e->msg, '\n') == NULL); /* one line */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > (1u << 20)) /* dz_config_load refuses config files over 1 MiB */
        return 0;
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';

    static dz_config c1, c2; /* ~25 KB each: keep them off the stack */
    dz_err e1, e2;
    memset(&e1, 0x55, sizeof e1); /* garbage in: the parser must set every field it reports */
    memset(&e2, 0xaa, sizeof e2);
    int rc1 = dz_config_parse(text, "/base", &c1, &e1);
    int rc2 = dz_config_parse(text, "/base", &c2, &e2);
    CHECK(rc1 == rc2);
    CHECK(e1.code == e2.code);
    if (rc1 == DZ_OK) {
        check_ok(&c1, &e1);
        CHECK(memcmp(&c1, &c2, sizeof c1) == 0);
    } else {
        check_fail(rc1, &e1);
        CHECK(strcmp(e1.msg, e2.msg) == 0);
    }
    /* The config folder can be almost DZ_PATH_MAX long (dz_config_load passes the file's
     * folder): resolved paths must then be refused cleanly, never truncated or overflowed. */
    static char longbase[DZ_PATH_MAX - 40];
    if (!longbase[0]) {
        memset(longbase, 'd', sizeof longbase - 1);
        longbase[0] = '/';
    }
    int rc3 = dz_config_parse(text, longbase, &c2, &e2);
    if (rc3 == DZ_OK)
        check_ok(&c2, &e2);
    else
        check_fail(rc3, &e2);
    free(text);
    return 0;
}
