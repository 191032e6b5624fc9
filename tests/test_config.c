/* test_config.c — INI parsing and validation: defaults, values, path resolution, and each
 * error naming its line (unknown key with suggestion, duplicate, wrong type, out of range,
 * missing required key, syntax error, over-long line); --set overrides (precedence over the
 * file and over each other, paths relative to the current directory, the same struct and
 * hash as the value written in the file, and each error naming the override).
 * Exits 1 on failure. */
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

static void expect_set_error(const char *text, const char *const *sets, int nsets,
                             const char *fragment)
{
    dz_config c;
    dz_err e;
    int rc = dz_config_parse_sets(text, "/base", sets, nsets, &c, &e);
    CHECK(rc == DZ_ECONFIG && strstr(e.msg, fragment),
          "config <<%s>> + --set %s%s: expected error containing '%s', got rc=%d '%s'", text,
          sets[0], nsets > 1 ? " ..." : "", fragment, rc, e.msg);
}

#define SETS(...) ((const char *const[]){__VA_ARGS__}), \
    (int)(sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *))

static void test_sets(void)
{
    static const char base[] = "[data]\ntrain = t.h5\n[train]\nl2 = 1\n";
    dz_config c, f;
    dz_err e;
    /* precedence: file < first --set < later --set of the same key */
    int rc = dz_config_parse_sets(base, "/base", SETS("train.l2=2", "train.iterations=3", "train.l2=3"), &c, &e);
    CHECK(rc == DZ_OK && c.l2 == 3 && c.iterations == 3, "--set: the last override wins: rc=%d l2=%g it=%lld %s",
          rc, c.l2, (long long)c.iterations, e.msg);
    rc = dz_config_parse_sets(base, "/base", SETS("train.l2=2"), &c, &e);
    CHECK(rc == DZ_OK && c.l2 == 2, "--set overrides the file: l2=%g %s", c.l2, e.msg);
    rc = dz_config_parse_sets(base, "/base", NULL, 0, &c, &e);
    CHECK(rc == DZ_OK && c.l2 == 1, "no override: the file's value: l2=%g", c.l2);

    /* the same struct (so the same hash) as the values written in the file */
    rc = dz_config_parse_sets(base, "/base", SETS("train.optimizer=lbfgs", "train.memory=4", "train.l2=0.25",
                                                  "train.reproducible=no", "data.scale=255", "train.iterations=7"),
                              &c, &e);
    int rf = dz_config_parse("[data]\ntrain = t.h5\nscale = 255\n[train]\nl2 = 0.25\noptimizer = lbfgs\n"
                             "memory = 4\nreproducible = no\niterations = 7\n", "/base", &f, &e);
    CHECK(rc == DZ_OK && rf == DZ_OK && !memcmp(&c, &f, sizeof c) && dz_config_hash(&c) == dz_config_hash(&f),
          "--set gives the same config and hash as the file: rc=%d rf=%d hash %016llx vs %016llx", rc, rf,
          (unsigned long long)dz_config_hash(&c), (unsigned long long)dz_config_hash(&f));
    dz_config g;
    rc = dz_config_parse(base, "/base", &g, &e);
    CHECK(rc == DZ_OK && dz_config_hash(&c) != dz_config_hash(&g), "--set train.l2 changes the hash");

    /* paths: relative to the current directory, absolute as given, the file's stay in its folder */
    rc = dz_config_parse_sets(base, "/base", SETS("data.test=d/te.h5", "output.model=/abs/m.h5",
                                                  "output.metrics=m.csv"), &c, &e);
    CHECK(rc == DZ_OK && !strcmp(c.test, "d/te.h5") && !strcmp(c.model_out, "/abs/m.h5") &&
              !strcmp(c.metrics_out, "m.csv") && !strcmp(c.train, "/base/t.h5"),
          "--set paths: test=%s model=%s metrics=%s train=%s %s", c.test, c.model_out, c.metrics_out, c.train, e.msg);
    rc = dz_config_parse_sets("[data]\ntest = te.h5\n", "/base", SETS("data.train=x=y.h5", "data.test="), &c, &e);
    CHECK(rc == DZ_OK && !strcmp(c.train, "x=y.h5") && c.test[0] == '\0',
          "--set supplies the required key, splits at the first '=', empties a path: train=%s test=%s %s",
          c.train, c.test, e.msg);
    rc = dz_config_parse_sets(base, "/base", SETS(" train . l2 = 0.5 ", "train.nesterov=true", "train.optimizer=momentum"),
                              &c, &e);
    CHECK(rc == DZ_OK && c.l2 == 0.5 && c.nesterov == 1 && !strcmp(c.optimizer, "momentum"),
          "--set: spaces around the parts dropped, order of optimizer and its key free: %s", e.msg);
    /* an override can make a file key apply: memory with optimizer = lbfgs from --set */
    rc = dz_config_parse_sets("[data]\ntrain = t.h5\n[train]\nmemory = 3\n", "/base", SETS("train.optimizer=lbfgs"),
                              &c, &e);
    CHECK(rc == DZ_OK && c.memory == 3, "--set train.optimizer=lbfgs makes the file's memory apply: %s", e.msg);

    /* errors name the override, with the file line's own wording */
    expect_set_error(base, SETS("train.learning_rate=abc"),
                     "--set train.learning_rate=abc: [train] learning_rate = 'abc': not a number");
    expect_set_error(base, SETS("train.l2"), "--set 'train.l2': expected section.key=value (for example --set train.l2=0.5)");
    expect_set_error(base, SETS("l2=0.5"), "--set 'l2=0.5': expected section.key=value, the key with its section "
                                           "(did you mean --set train.l2=...?)");
    expect_set_error(base, SETS(".l2=1"), "--set .l2=1: expected section.key=value with a section and a key");
    expect_set_error(base, SETS("train.=1"), "--set train.=1: expected section.key=value with a section and a key");
    expect_set_error(base, SETS("train.learnin_rate=0.1"),
                     "--set train.learnin_rate=0.1: unknown key 'learnin_rate' in [train] (did you mean train.learning_rate?)");
    expect_set_error(base, SETS("trian.iterations=5"),
                     "--set trian.iterations=5: unknown section [trian] for key 'iterations' (did you mean train.iterations?)");
    expect_set_error(base, SETS("train.iterations=0"), "--set train.iterations=0: [train] iterations = 0: out of range");
    expect_set_error(base, SETS("train.iterations=1.5"), "--set train.iterations=1.5: [train] iterations = '1.5': not an integer");
    expect_set_error(base, SETS("train.l2=-1"), "--set train.l2=-1: [train] l2 = '-1': must be a finite number >= 0");
    expect_set_error(base, SETS("train.optimizer=adagrad"), "--set train.optimizer=adagrad: [train] optimizer = 'adagrad': not supported");
    expect_set_error(base, SETS("data.train_x="), "--set data.train_x=: [data] train_x: empty dataset name");
    expect_set_error(base, SETS("train.memory=5"),
                     "--set train.memory=5: [train] memory does not apply to optimizer 'gd' (it is for: lbfgs)");
    expect_set_error(base, SETS("model.classes=3"), "--set model.classes=3: [model] classes applies to type = softmax");
    expect_set_error(base, SETS("checkpoint.every=5"), "[checkpoint] every = 5 needs [checkpoint] file");
    /* a file key refused because of an override says so */
    expect_set_error("[data]\ntrain = t.h5\n[train]\nlearning_rate = 0.1\n", SETS("train.optimizer=lbfgs"),
                     "line 4: [train] learning_rate does not apply to optimizer 'lbfgs' (it is for: gd sgd momentum adam) "
                     "(optimizer set by --set train.optimizer=lbfgs)");
    expect_set_error("[data]\ntrain = t.h5\n[train]\nl1 = 1\n", SETS("train.optimizer=newton"),
                     "line 4: [train] l1 = 1: optimizer newton needs a twice-differentiable");
    /* the file is checked first; then the overrides in order, the first bad one reported */
    expect_set_error("[data]\ntrain = t.h5\n[train]\nl2 = x\n", SETS("train.l2=1"), "line 4: [train] l2 = 'x': not a number");
    expect_set_error(base, SETS("train.l2=1", "train.l1=y", "train.l2=z"), "--set train.l1=y: [train] l1 = 'y': not a number");
}

int main(void)
{
    test_sets();
    dz_config c;
    dz_err e;
    int rc = dz_config_parse("[data]\ntrain = d/t.h5\n", "/base", &c, &e);
    CHECK(rc == DZ_OK, "minimal config: %s", e.msg);
    CHECK(!strcmp(c.train, "/base/d/t.h5"), "relative path resolved against the config folder: %s", c.train);
    CHECK(!strcmp(c.train_x, "train_set_x") && !strcmp(c.test_y, "test_set_y"), "default dataset names");
    CHECK(c.scale == 1 && c.learning_rate == 0.005 && c.iterations == 2000 && c.log_every == 100 &&
              c.reproducible == 1 && c.block_rows == 0 && c.dtype == DZ_DTYPE_NATIVE &&
              c.collective_timeout < 0 && c.progress == 10,
          "defaults (collective_timeout automatic, progress 10 s)");
    CHECK(!strcmp(c.model_out, "/base/model.h5") && !strcmp(c.metrics_out, "/base/metrics.csv") && !c.test[0] &&
              !c.ckpt_file[0],
          "default outputs");

    rc = dz_config_parse("; comment\n[data]\ntrain = /abs/t.h5 ; inline comment\nscale = 255\n"
                         "dtype = float32\n[train]\nlearning_rate = 1e-3\niterations = 7\n"
                         "reproducible = no\nblock_rows = 64\ncollective_timeout = 0\n"
                         "[output]\nmodel = out/m.h5\n"
                         "[checkpoint]\nfile = ck.h5\nevery = 3\n",
                         "/base", &c, &e);
    CHECK(rc == DZ_OK, "full config: %s", e.msg);
    CHECK(!strcmp(c.train, "/abs/t.h5") && c.scale == 255 && c.dtype == DZ_DTYPE_F32 &&
              c.learning_rate == 1e-3 && c.iterations == 7 && c.reproducible == 0 &&
              c.block_rows == 64 && !strcmp(c.model_out, "/base/out/m.h5") &&
              !strcmp(c.ckpt_file, "/base/ck.h5") && c.ckpt_every == 3 && c.collective_timeout == 0,
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
