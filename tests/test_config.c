/* test_config.c — INI parsing and validation: defaults, values, path resolution, and each
 * error naming its line (unknown key with suggestion, duplicate, wrong type, out of range,
 * missing required key, syntax error, over-long line).  Exits 1 on failure. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "dz/config.h"

#include "dzcheck.h"

static void expect_error(const char *text, const char *fragment)
{
    dz_config c;
    dz_err e;
    int rc = dz_config_parse(text, "/base", &c, &e);
    CHECK(rc == DZ_ECONFIG && strstr(e.msg, fragment), "config <<%s>>: expected error containing '%s', got rc=%d '%s'",
          text, fragment, rc, e.msg);
}

int main(void)
{
    dz_config c;
    dz_err e;
    int rc = dz_config_parse("[data]\ntrain = d/t.h5\n", "/base", &c, &e);
    CHECK(rc == DZ_OK, "minimal config: %s", e.msg);
    CHECK(!strcmp(c.train, "/base/d/t.h5"), "relative path resolved against the config folder: %s", c.train);
    CHECK(!strcmp(c.train_x, "train_set_x") && !strcmp(c.test_y, "test_set_y"), "default dataset names");
    CHECK(c.scale == 1 && c.learning_rate == 0.005 && c.iterations == 2000 && c.log_every == 100 &&
              c.reproducible == 1 && c.block_rows == 0 && c.dtype == DZ_DTYPE_NATIVE,
          "defaults");
    CHECK(!strcmp(c.model_out, "/base/model.h5") && !strcmp(c.metrics_out, "/base/metrics.csv") && !c.test[0] &&
              !c.ckpt_file[0],
          "default outputs");

    rc = dz_config_parse("; comment\n[data]\ntrain = /abs/t.h5 ; inline comment\nscale = 255\n"
                         "dtype = float32\n[train]\nlearning_rate = 1e-3\niterations = 7\n"
                         "reproducible = no\nblock_rows = 64\n[output]\nmodel = out/m.h5\n"
                         "[checkpoint]\nfile = ck.h5\nevery = 3\n",
                         "/base", &c, &e);
    CHECK(rc == DZ_OK, "full config: %s", e.msg);
    CHECK(!strcmp(c.train, "/abs/t.h5") && c.scale == 255 && c.dtype == DZ_DTYPE_F32 &&
              c.learning_rate == 1e-3 && c.iterations == 7 && c.reproducible == 0 &&
              c.block_rows == 64 && !strcmp(c.model_out, "/base/out/m.h5") &&
              !strcmp(c.ckpt_file, "/base/ck.h5") && c.ckpt_every == 3,
          "values read");

    expect_error("[data]\ntrain = t.h5\nlearnig_rate = 1\n", "line 3: unknown key 'learnig_rate' in [data] (did you mean [train] learning_rate?)");
    expect_error("[data]\ntrain = t.h5\n[train]\nlog_evry = 5\n", "line 4: unknown key 'log_evry' in [train] (did you mean [train] log_every?)");
    expect_error("[data]\ntrain = t.h5\n[trian]\niterations = 5\n", "line 4: unknown section [trian]");
    expect_error("[data]\ntrain = t.h5\ntrain = u.h5\n", "line 3: duplicate key [data] train (first set on line 2)");
    expect_error("[data]\ntrain = t.h5\n[train]\nlearning_rate = abc\n", "line 4: [train] learning_rate = 'abc': not a number");
    expect_error("[data]\ntrain = t.h5\n[train]\nlearning_rate = 0\n", "line 4: [train] learning_rate = '0': must be a finite number > 0");
    expect_error("[data]\ntrain = t.h5\n[train]\nlearning_rate = nan\n", "learning_rate = 'nan': must be a finite number");
    expect_error("[data]\ntrain = t.h5\n[train]\nlearning_rate = -1\n", "learning_rate = '-1'");
    expect_error("[data]\ntrain = t.h5\n[train]\niterations = 0\n", "line 4: [train] iterations = 0: out of range");
    expect_error("[data]\ntrain = t.h5\n[train]\niterations = 1.5\n", "iterations = '1.5': not an integer");
    expect_error("[data]\ntrain = t.h5\n[train]\nreproducible = maybe\n", "expected true or false");
    expect_error("[data]\ntrain = t.h5\nscale = -1\n", "line 3: [data] scale = '-1'");
    expect_error("[data]\ntrain = t.h5\ndtype = int4\n", "expected native, uint8, float32 or float64");
    expect_error("[data]\ntrain = t.h5\n[train]\noptimizer = adagrad\n", "optimizer = 'adagrad': not supported (supported: gd sgd momentum adam lbfgs newton)");
    expect_error("[data]\ntest = t.h5\n", "missing required key [data] train");
    expect_error("[data]\ntrain = t.h5\nthis line has no equals sign\n", "line 3: syntax error");
    expect_error("[data\ntrain = t.h5\n", "line 1: syntax error");
    expect_error("train = t.h5\n", "line 1: unknown section []");
    expect_error("[data]\ntrain = t.h5\n[checkpoint]\nevery = 5\n", "[checkpoint] every = 5 needs [checkpoint] file");
    /* softmax: classes only with type = softmax, and >= 2 (0 = from the labels) */
    rc = dz_config_parse("[data]\ntrain = t.h5\n[model]\ntype = softmax\nclasses = 10\n", "/b", &c, &e);
    CHECK(rc == DZ_OK && !strcmp(c.model_type, "softmax") && c.classes == 10, "softmax, classes = 10: %s", e.msg);
    expect_error("[data]\ntrain = t.h5\n[model]\ntype = softmax\nclasses = 1\n", "line 5: [model] classes = 1: softmax needs at least 2 classes");
    expect_error("[data]\ntrain = t.h5\n[model]\nclasses = 3\n", "line 4: [model] classes applies to type = softmax");
    expect_error("[data]\ntrain = t.h5\n[model]\ntype = multinomial\n", "not supported (supported: logistic softmax)");
    expect_error("[data]\ntrain = t.h5\n[model]\ntype = softmax\nclasses = -2\n", "line 5: [model] classes = -2: out of range");
    char longline[600];
    memset(longline, 'a', sizeof longline);
    memcpy(longline, "[data]\ntrain = ", 15);
    longline[sizeof longline - 1] = '\0';
    expect_error(longline, "line 2: line longer than");

    CHECK(dz_config_hash(&c) != 0, "hash");
    dz_config c2 = c;
    c2.iterations = 999;
    CHECK(dz_config_hash(&c2) == dz_config_hash(&c), "iterations do not change the training hash");
    c2.learning_rate = 0.5;
    CHECK(dz_config_hash(&c2) != dz_config_hash(&c), "learning_rate changes the training hash");
    printf("config: %d passed, %d failed\n", passes, fails);
    return fails ? 1 : 0;
}
