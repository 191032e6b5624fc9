/* config.c — INI parsing and validation (see dz/config.h).
 *
 * libinih does the lexing.  Its handler is not told the line number in Debian's build, so we
 * feed it through ini_parse_stream with a reader that counts lines: when the handler runs,
 * the reader has just returned the line it is called for.  Every key is described once, in
 * the table `keys`, with its type and bounds; parsing, defaults and "did you mean" all read
 * that table.  Command-line overrides (--set section.key=value) go through the same table and
 * the same set_value() after the file's lines, so they are checked exactly like a file line;
 * only the place named in a message differs ("line 4" or "--set train.l2=abc").  Each key
 * remembers where it was given last (a file line or an override), for the checks that run
 * after all values are in (a key given to an optimizer it does not apply to).
 */
#include "dz/config.h"
#include "dz/shard.h"

#include <errno.h>
#include <ini.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef enum { K_PATH, K_NAME, K_WORD, K_DOUBLE, K_INT, K_BOOL, K_DTYPE } kind;

typedef struct key {
    const char *section, *name;
    kind type;
    size_t off;          /* offset in dz_config */
    size_t cap;          /* buffer size for strings */
    double lo, hi;       /* numeric bounds (inclusive); lo_open / hi_open: excluded */
    int lo_open;
    const char *choices; /* K_WORD: space-separated allowed values */
    const char *only;    /* NULL, or the optimizers the key applies to (space-separated) */
    int hi_open;
} key;

#define S(f) offsetof(dz_config, f), sizeof(((dz_config *)0)->f)
#define N(f) offsetof(dz_config, f), 0
#define FIRST_ORDER "gd sgd momentum adam"
static const key keys[] = {
    {"data", "train", K_PATH, S(train), 0, 0, 0, NULL, NULL, 0},
    {"data", "train_x", K_NAME, S(train_x), 0, 0, 0, NULL, NULL, 0},
    {"data", "train_y", K_NAME, S(train_y), 0, 0, 0, NULL, NULL, 0},
    {"data", "test", K_PATH, S(test), 0, 0, 0, NULL, NULL, 0},
    {"data", "test_x", K_NAME, S(test_x), 0, 0, 0, NULL, NULL, 0},
    {"data", "test_y", K_NAME, S(test_y), 0, 0, 0, NULL, NULL, 0},
    {"data", "scale", K_DOUBLE, N(scale), 0, HUGE_VAL, 1, NULL, NULL, 0},
    {"data", "dtype", K_DTYPE, N(dtype), 0, 0, 0, NULL, NULL, 0},
    {"data", "standardize", K_BOOL, N(standardize), 0, 0, 0, NULL, NULL, 0},
    {"model", "type", K_WORD, S(model_type), 0, 0, 0, "logistic softmax", NULL, 0},
    {"model", "classes", K_INT, N(classes), 0, 1 << 24, 0, NULL, NULL, 0},
    {"train", "optimizer", K_WORD, S(optimizer), 0, 0, 0, "gd sgd momentum adam lbfgs newton", NULL, 0},
    {"train", "learning_rate", K_DOUBLE, N(learning_rate), 0, HUGE_VAL, 1, NULL, FIRST_ORDER, 0},
    {"train", "iterations", K_INT, N(iterations), 1, 1e15, 0, NULL, NULL, 0},
    {"train", "tolerance", K_DOUBLE, N(tolerance), 0, HUGE_VAL, 0, NULL, NULL, 0},
    {"train", "l2", K_DOUBLE, N(l2), 0, HUGE_VAL, 0, NULL, NULL, 0},
    {"train", "l1", K_DOUBLE, N(l1), 0, HUGE_VAL, 0, NULL, NULL, 0},
    {"train", "decay", K_DOUBLE, N(decay), 0, HUGE_VAL, 0, NULL, FIRST_ORDER, 0},
    {"train", "batch_size", K_INT, N(batch_size), 0, 1e15, 0, NULL, "sgd momentum adam", 0},
    {"train", "seed", K_INT, N(seed), 0, 1e18, 0, NULL, "sgd momentum adam", 0},
    {"train", "momentum", K_DOUBLE, N(momentum), 0, 1, 0, NULL, "momentum", 1},
    {"train", "nesterov", K_BOOL, N(nesterov), 0, 0, 0, NULL, "momentum", 0},
    {"train", "beta1", K_DOUBLE, N(beta1), 0, 1, 0, NULL, "adam", 1},
    {"train", "beta2", K_DOUBLE, N(beta2), 0, 1, 0, NULL, "adam", 1},
    {"train", "epsilon", K_DOUBLE, N(epsilon), 0, HUGE_VAL, 1, NULL, "adam", 0},
    {"train", "memory", K_INT, N(memory), 1, 1000, 0, NULL, "lbfgs", 0},
    {"train", "log_every", K_INT, N(log_every), 1, 1e15, 0, NULL, NULL, 0},
    {"train", "reproducible", K_BOOL, N(reproducible), 0, 0, 0, NULL, NULL, 0},
    {"train", "block_rows", K_INT, N(block_rows), 0, 1 << 20, 0, NULL, NULL, 0},
    {"train", "collective_timeout", K_DOUBLE, N(collective_timeout), 0, 1e9, 0, NULL, NULL, 0},
    {"output", "model", K_PATH, S(model_out), 0, 0, 0, NULL, NULL, 0},
    {"output", "metrics", K_PATH, S(metrics_out), 0, 0, 0, NULL, NULL, 0},
    {"output", "progress", K_DOUBLE, N(progress), 0, HUGE_VAL, 0, NULL, NULL, 0},
    {"checkpoint", "file", K_PATH, S(ckpt_file), 0, 0, 0, NULL, NULL, 0},
    {"checkpoint", "every", K_INT, N(ckpt_every), 0, 1e15, 0, NULL, NULL, 0},
};
#undef S
#undef N
enum { NKEYS = sizeof keys / sizeof keys[0] };

void dz_config_defaults(dz_config *c)
{
    memset(c, 0, sizeof *c);
    strcpy(c->train_x, "train_set_x");
    strcpy(c->train_y, "train_set_y");
    strcpy(c->test_x, "test_set_x");
    strcpy(c->test_y, "test_set_y");
    c->scale = 1.0;
    c->dtype = DZ_DTYPE_NATIVE;
    strcpy(c->model_type, "logistic");
    strcpy(c->optimizer, "gd");
    c->learning_rate = 0.005;
    c->iterations = 2000;
    c->momentum = 0.9;
    c->beta1 = 0.9;
    c->beta2 = 0.999;
    c->epsilon = 1e-8;
    c->memory = 10;
    c->log_every = 100;
    c->reproducible = 1;
    c->block_rows = 0;
    c->collective_timeout = -1; /* automatic (dz/watchdog.h); not settable: the file's lower bound is 0 */
    strcpy(c->model_out, "model.h5");
    strcpy(c->metrics_out, "metrics.csv");
    c->progress = 10;
    c->ckpt_file[0] = '\0';
    c->ckpt_every = 0;
}

/* Levenshtein distance, for "did you mean". */
static int edit_distance(const char *a, const char *b)
{
    int la = (int)strlen(a), lb = (int)strlen(b);
    if (la > 63 || lb > 63)
        return 99;
    int d[64][64];
    for (int i = 0; i <= la; i++) d[i][0] = i;
    for (int j = 0; j <= lb; j++) d[0][j] = j;
    for (int i = 1; i <= la; i++)
        for (int j = 1; j <= lb; j++) {
            int sub = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            int del = d[i - 1][j] + 1, ins = d[i][j - 1] + 1;
            d[i][j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
    return d[la][lb];
}

typedef struct parse_state {
    dz_config *cfg;
    const char *base_dir;
    dz_err *e;
    int line;              /* line the reader returned last */
    const char *cursor;    /* reader position in the text */
    unsigned char seen[NKEYS];
    int seen_line[NKEYS];  /* > 0: the file line that set the key; -(j + 1): override sets[j] */
    int err_line;          /* line of the first error the handler reported */
    const char *const *sets; /* the overrides, for naming them in messages */
    const char *where;     /* set_value's prefix for messages: "line 4" or "--set a.b=c" */
} parse_state;

/* Where key i was given, for a message: "line 7" or "--set train.memory=5". */
static void origin(const parse_state *ps, int i, char *buf, size_t len)
{
    if (ps->seen_line[i] > 0)
        snprintf(buf, len, "line %d", ps->seen_line[i]);
    else
        snprintf(buf, len, "--set %.300s", ps->sets[-ps->seen_line[i] - 1]);
}

static char *reader(char *buf, int num, void *stream)
{
    parse_state *ps = stream;
    const char *p = ps->cursor;
    if (*p == '\0')
        return NULL;
    const char *nl = strchr(p, '\n');
    size_t len = nl ? (size_t)(nl - p) + 1 : strlen(p);
    ps->line++;
    if (len + 1 > (size_t)num) {
        /* Leave the reader at the end, so parsing stops; report the long line. */
        if (ps->e->code == DZ_OK)
            dz_fail(ps->e, DZ_ECONFIG, "line %d: line longer than %d characters", ps->line,
                    num - 2);
        ps->cursor = p + strlen(p);
        buf[0] = '\0';
        return buf;
    }
    memcpy(buf, p, len);
    buf[len] = '\0';
    ps->cursor = p + len;
    return buf;
}

static int parse_bool(const char *v, int *out)
{
    static const char *yes[] = {"true", "yes", "on", "1"}, *no[] = {"false", "no", "off", "0"};
    for (int i = 0; i < 4; i++) {
        if (!strcasecmp(v, yes[i])) { *out = 1; return 1; }
        if (!strcasecmp(v, no[i])) { *out = 0; return 1; }
    }
    return 0;
}

static int set_value(parse_state *ps, const key *k, const char *v)
{
    char *base = (char *)ps->cfg;
    dz_err *e = ps->e;
    const char *ln = ps->where;
    switch (k->type) {
    case K_PATH:
    case K_NAME:
    case K_WORD: {
        char *dst = base + k->off;
        if (k->type != K_PATH || v[0] == '\0' || v[0] == '/' || !ps->base_dir[0]) {
            if (strlen(v) >= k->cap)
                return dz_fail(e, DZ_ECONFIG, "%s: [%s] %s: value too long", ln,
                               k->section, k->name);
            strcpy(dst, v);
        } else {
            int n = snprintf(dst, k->cap, "%s/%s", ps->base_dir, v);
            if (n < 0 || (size_t)n >= k->cap)
                return dz_fail(e, DZ_ECONFIG, "%s: [%s] %s: path too long", ln,
                               k->section, k->name);
        }
        if (k->type == K_NAME && v[0] == '\0')
            return dz_fail(e, DZ_ECONFIG, "%s: [%s] %s: empty dataset name", ln,
                           k->section, k->name);
        if (k->type == K_WORD) {
            char choices[128];
            snprintf(choices, sizeof choices, " %s ", k->choices);
            char word[72];
            snprintf(word, sizeof word, " %s ", v);
            if (!strstr(choices, word))
                return dz_fail(e, DZ_ECONFIG,
                               "%s: [%s] %s = '%s': not supported (supported: %s)", ln,
                               k->section, k->name, v, k->choices);
        }
        return DZ_OK;
    }
    case K_DOUBLE: {
        char *end;
        errno = 0;
        double x = strtod(v, &end);
        if (v[0] == '\0' || *end != '\0')
            return dz_fail(e, DZ_ECONFIG, "%s: [%s] %s = '%s': not a number", ln,
                           k->section, k->name, v);
        if (!isfinite(x) || x < k->lo || (k->lo_open && x == k->lo) || x > k->hi ||
            (k->hi_open && x == k->hi)) {
            if (isinf(k->hi))
                return dz_fail(e, DZ_ECONFIG, "%s: [%s] %s = '%s': must be a finite number %s %g",
                               ln, k->section, k->name, v, k->lo_open ? ">" : ">=", k->lo);
            return dz_fail(e, DZ_ECONFIG, "%s: [%s] %s = '%s': must be in %c%g, %g%c", ln,
                           k->section, k->name, v, k->lo_open ? '(' : '[', k->lo, k->hi,
                           k->hi_open ? ')' : ']');
        }
        *(double *)(base + k->off) = x;
        return DZ_OK;
    }
    case K_INT: {
        char *end;
        errno = 0;
        long long x = strtoll(v, &end, 10);
        if (v[0] == '\0' || *end != '\0' || errno == ERANGE)
            return dz_fail(e, DZ_ECONFIG, "%s: [%s] %s = '%s': not an integer", ln,
                           k->section, k->name, v);
        if ((double)x < k->lo || (double)x > k->hi)
            return dz_fail(e, DZ_ECONFIG, "%s: [%s] %s = %lld: out of range [%.0f, %.0f]",
                           ln, k->section, k->name, x, k->lo, k->hi);
        *(int64_t *)(base + k->off) = (int64_t)x;
        return DZ_OK;
    }
    case K_BOOL: {
        int b;
        if (!parse_bool(v, &b))
            return dz_fail(e, DZ_ECONFIG, "%s: [%s] %s = '%s': expected true or false", ln,
                           k->section, k->name, v);
        *(int *)(base + k->off) = b;
        return DZ_OK;
    }
    case K_DTYPE: {
        static const char *names[] = {"native", "uint8", "float32", "float64"};
        for (int i = 0; i < 4; i++)
            if (!strcmp(v, names[i])) {
                *(dz_dtype *)(base + k->off) = (dz_dtype)i;
                return DZ_OK;
            }
        return dz_fail(e, DZ_ECONFIG,
                       "%s: [%s] %s = '%s': expected native, uint8, float32 or float64", ln,
                       k->section, k->name, v);
    }
    }
    return dz_fail(e, DZ_EINTERNAL, "%s: unhandled key type", ln);
}

/* The key [section] name: its index, or -1 with *sect_known and a "did you mean" hint
 * (the nearest key, preferring the same section; hint_fmt gets its section and name). */
static int lookup(const char *section, const char *name, int *sect_known, const char *hint_fmt,
                  char *hint, size_t hlen)
{
    int best = -1, best_d = 1 << 30;
    *sect_known = 0;
    hint[0] = '\0';
    for (int i = 0; i < NKEYS; i++) {
        if (!strcmp(section, keys[i].section)) {
            *sect_known = 1;
            if (!strcmp(name, keys[i].name))
                return i;
        }
        int dist = edit_distance(name, keys[i].name);
        if (strcmp(section, keys[i].section))
            dist += 1; /* prefer keys of the same section */
        if (dist < best_d) {
            best_d = dist;
            best = i;
        }
    }
    if (best >= 0 && best_d <= 3)
        snprintf(hint, hlen, hint_fmt, keys[best].section, keys[best].name);
    return -1;
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
    parse_state *ps = user;
    if (ps->e->code != DZ_OK)
        return 0;
    ps->err_line = ps->line; /* meaningful only if this call fails */
    int sect_known;
    char hint[160];
    int i = lookup(section, name, &sect_known, " (did you mean [%s] %s?)", hint, sizeof hint);
    if (i >= 0) {
        if (ps->seen[i]) {
            dz_fail(ps->e, DZ_ECONFIG, "line %d: duplicate key [%s] %s (first set on line %d)",
                    ps->line, section, name, ps->seen_line[i]);
            return 0;
        }
        ps->seen[i] = 1;
        ps->seen_line[i] = ps->line;
        char where[32];
        snprintf(where, sizeof where, "line %d", ps->line);
        ps->where = where;
        return set_value(ps, &keys[i], value) == DZ_OK;
    }
    if (!sect_known)
        dz_fail(ps->e, DZ_ECONFIG, "line %d: unknown section [%s] for key '%s'%s", ps->line,
                section, name, hint);
    else
        dz_fail(ps->e, DZ_ECONFIG, "line %d: unknown key '%s' in [%s]%s", ps->line, name,
                section, hint);
    return 0;
}

/* Override j, "section.key=value": split it (spaces around the parts are dropped, as in the
 * file), find the key and set it like a file line would, except that a path stays relative to
 * the current directory and a repeated key is allowed (the last override wins). */
static int apply_set(parse_state *ps, int j)
{
    const char *arg = ps->sets[j];
    dz_err *e = ps->e;
    const char *eq = strchr(arg, '=');
    const char *dot = strchr(arg, '.');
    char sect[64], name[64], value[DZ_PATH_MAX];
    if (!eq)
        return dz_fail(e, DZ_ECONFIG, "--set '%.300s': expected section.key=value (for example "
                       "--set train.l2=0.5)", arg);
    if (!dot || dot > eq) {
        /* No section: suggest the key that has this name (key names are unique). */
        char nm[64], hint[160] = "";
        int n = (int)(eq - arg);
        snprintf(nm, sizeof nm, "%.*s", n < 63 ? n : 63, arg);
        int sect_known;
        lookup("", nm, &sect_known, " (did you mean --set %s.%s=...?)", hint, sizeof hint);
        return dz_fail(e, DZ_ECONFIG, "--set '%.300s': expected section.key=value, the key with "
                       "its section%s", arg, hint[0] ? hint : " (for example --set train.l2=0.5)");
    }
    /* trim: " train . l2 = 0.5 " reads as the file line "l2 = 0.5" in [train] would */
    const char *p0 = arg, *p1 = dot;
    while (p0 < p1 && (*p0 == ' ' || *p0 == '\t')) p0++;
    while (p1 > p0 && (p1[-1] == ' ' || p1[-1] == '\t')) p1--;
    const char *q0 = dot + 1, *q1 = eq;
    while (q0 < q1 && (*q0 == ' ' || *q0 == '\t')) q0++;
    while (q1 > q0 && (q1[-1] == ' ' || q1[-1] == '\t')) q1--;
    const char *v0 = eq + 1, *v1 = eq + strlen(eq);
    while (v0 < v1 && (*v0 == ' ' || *v0 == '\t')) v0++;
    while (v1 > v0 && (v1[-1] == ' ' || v1[-1] == '\t')) v1--;
    char where[400];
    snprintf(where, sizeof where, "--set %.300s", arg);
    if (p1 == p0 || q1 == q0)
        return dz_fail(e, DZ_ECONFIG, "%s: expected section.key=value with a section and a key "
                       "(for example --set train.l2=0.5)", where);
    if (p1 - p0 >= (long)sizeof sect || q1 - q0 >= (long)sizeof name)
        return dz_fail(e, DZ_ECONFIG, "%s: no such section or key (the names are short; see "
                       "\"Configuration\" in README.md)", where);
    if (v1 - v0 >= (long)sizeof value)
        return dz_fail(e, DZ_ECONFIG, "%s: value too long", where);
    snprintf(sect, sizeof sect, "%.*s", (int)(p1 - p0), p0);
    snprintf(name, sizeof name, "%.*s", (int)(q1 - q0), q0);
    snprintf(value, sizeof value, "%.*s", (int)(v1 - v0), v0);
    int sect_known;
    char hint[160];
    int i = lookup(sect, name, &sect_known, " (did you mean %s.%s?)", hint, sizeof hint);
    if (i < 0) {
        if (!sect_known)
            return dz_fail(e, DZ_ECONFIG, "%s: unknown section [%s] for key '%s'%s", where, sect,
                           name, hint);
        return dz_fail(e, DZ_ECONFIG, "%s: unknown key '%s' in [%s]%s", where, name, sect, hint);
    }
    ps->seen[i] = 1;
    ps->seen_line[i] = -(j + 1);
    ps->where = where;
    const char *base = ps->base_dir;
    ps->base_dir = ""; /* paths: relative to the current directory, as a shell user expects */
    int rc = set_value(ps, &keys[i], value);
    ps->base_dir = base;
    return rc;
}

/* " (optimizer set by --set train.optimizer=lbfgs)" when the key `name` came from an
 * override, so a file line refused because of an override says why. */
static void set_note(const parse_state *ps, const char *name, char *buf, size_t len)
{
    buf[0] = '\0';
    for (int i = 0; i < NKEYS; i++)
        if (!strcmp(keys[i].name, name) && ps->seen[i] && ps->seen_line[i] < 0)
            snprintf(buf, len, " (%s set by --set %.300s)", name, ps->sets[-ps->seen_line[i] - 1]);
}

/* Settings of one optimizer given to another are refused, not silently ignored. */
static int check_applies(const parse_state *ps, dz_err *e)
{
    const dz_config *c = ps->cfg;
    char opt[40];
    snprintf(opt, sizeof opt, " %s ", c->optimizer);
    char where[400], note[400];
    for (int i = 0; i < NKEYS; i++) {
        if (!ps->seen[i])
            continue;
        origin(ps, i, where, sizeof where);
        if (c->l1 > 0 && !strcmp(c->optimizer, "newton") && !strcmp(keys[i].name, "l1")) {
            set_note(ps, "optimizer", note, sizeof note);
            return dz_fail(e, DZ_ECONFIG,
                           "%s: [train] l1 = %g: optimizer newton needs a twice-differentiable "
                           "objective and l1 is not; use optimizer = lbfgs (it runs OWL-QN for l1)%s",
                           where, c->l1, note);
        }
        if (!strcmp(keys[i].name, "classes")) {
            set_note(ps, "type", note, sizeof note);
            if (strcmp(c->model_type, "softmax") != 0)
                return dz_fail(e, DZ_ECONFIG, "%s: [model] classes applies to type = softmax "
                               "(the logistic model has 2 classes, labels 0 and 1)%s", where, note);
            if (c->classes == 1)
                return dz_fail(e, DZ_ECONFIG, "%s: [model] classes = 1: softmax needs at "
                               "least 2 classes (0 = the largest label + 1)", where);
        }
        if (!keys[i].only)
            continue;
        char only[128];
        snprintf(only, sizeof only, " %s ", keys[i].only);
        if (!strstr(only, opt)) {
            set_note(ps, "optimizer", note, sizeof note);
            return dz_fail(e, DZ_ECONFIG,
                           "%s: [%s] %s does not apply to optimizer '%s' (it is for: %s)%s",
                           where, keys[i].section, keys[i].name, c->optimizer, keys[i].only, note);
        }
    }
    return DZ_OK;
}

int dz_config_parse(const char *text, const char *base_dir, dz_config *cfg, dz_err *e)
{
    return dz_config_parse_sets(text, base_dir, NULL, 0, cfg, e);
}

int dz_config_parse_sets(const char *text, const char *base_dir, const char *const *sets,
                         int nsets, dz_config *cfg, dz_err *e)
{
    dz_config_defaults(cfg);
    e->code = DZ_OK;
    e->msg[0] = '\0';
    parse_state ps;
    memset(&ps, 0, sizeof ps);
    ps.cfg = cfg;
    ps.base_dir = base_dir ? base_dir : "";
    ps.e = e;
    ps.cursor = text;
    ps.sets = sets;
    ini_allow_multiline = 0; /* a continuation line is a syntax error, not a silent append */
    int rc = ini_parse_stream(reader, &ps, handler, &ps);
    if (e->code != DZ_OK && !(rc > 0 && rc < ps.err_line))
        return e->code;
    if (rc > 0)
        return dz_fail(e, DZ_ECONFIG, "line %d: syntax error (expected [section] or key = value)",
                       rc);
    if (rc < 0)
        return dz_fail(e, DZ_ECONFIG, "cannot parse the configuration (inih error %d)", rc);
    for (int j = 0; j < nsets; j++)
        if (apply_set(&ps, j) != DZ_OK)
            return e->code;
    /* Default paths (model.h5, metrics.csv) are relative to the config folder too. */
    for (int i = 0; i < NKEYS; i++) {
        char *dst = (char *)cfg + keys[i].off;
        if (keys[i].type == K_PATH && !ps.seen[i] && dst[0] && dst[0] != '/' && ps.base_dir[0]) {
            char tmp[DZ_PATH_MAX];
            int n = snprintf(tmp, sizeof tmp, "%s/%s", ps.base_dir, dst);
            if (n < 0 || (size_t)n >= keys[i].cap)
                return dz_fail(e, DZ_ECONFIG, "[%s] %s: path too long", keys[i].section, keys[i].name);
            strcpy(dst, tmp);
        }
    }
    if (cfg->train[0] == '\0')
        return dz_fail(e, DZ_ECONFIG, "missing required key [data] train");
    if (cfg->model_out[0] == '\0' || cfg->metrics_out[0] == '\0')
        return dz_fail(e, DZ_ECONFIG, "[output] model and metrics must not be empty");
    if (check_applies(&ps, e) != DZ_OK)
        return e->code;
    if (cfg->ckpt_every > 0 && cfg->ckpt_file[0] == '\0')
        return dz_fail(e, DZ_ECONFIG, "[checkpoint] every = %lld needs [checkpoint] file",
                       (long long)cfg->ckpt_every);
    return DZ_OK;
}

int dz_config_load(MPI_Comm comm, const char *path, const char *const *sets, int nsets,
                   dz_config *cfg, dz_err *e)
{
    int rank;
    DZ_MPI(MPI_Comm_rank(comm, &rank));
    e->code = DZ_OK;
    char *text = NULL;
    long len = 0;
    if (rank == 0) {
        FILE *f = fopen(path, "rb");
        if (!f) {
            dz_fail(e, DZ_ECONFIG, "cannot open config file '%s': %s", path, strerror(errno));
        } else {
            if (fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) >= 0 && len <= (1L << 20) &&
                fseek(f, 0, SEEK_SET) == 0) {
                text = malloc((size_t)len + 1);
                if (!text || fread(text, 1, (size_t)len, f) != (size_t)len)
                    dz_fail(e, DZ_ECONFIG, "cannot read config file '%s': %s", path,
                            strerror(errno ? errno : EIO));
                else
                    text[len] = '\0';
            } else {
                dz_fail(e, DZ_ECONFIG, "cannot read config file '%s' (not a regular file, or over 1 MiB)", path);
            }
            fclose(f);
        }
        if (e->code == DZ_OK && memchr(text, '\0', (size_t)len))
            dz_fail(e, DZ_ECONFIG, "config file '%s' contains a NUL byte: not a text file", path);
    }
    if (dz_err_agree(comm, e) != DZ_OK) {
        free(text);
        return e->code;
    }
    DZ_MPI(MPI_Bcast(&len, 1, MPI_LONG, 0, comm));
    if (rank != 0) {
        text = malloc((size_t)len + 1);
        if (!text)
            dz_fatal(comm, DZ_ERUNTIME, "out of memory for the config text");
    }
    DZ_MPI(MPI_Bcast(text, (int)len + 1, MPI_CHAR, 0, comm));

    char dir[DZ_PATH_MAX];
    const char *slash = strrchr(path, '/');
    if (!slash)
        strcpy(dir, ".");
    else if (slash == path)
        strcpy(dir, "/");
    else
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    int rc = dz_config_parse_sets(text, dir, sets, nsets, cfg, e);
    free(text);
    if (rc != DZ_OK && strncmp(e->msg, "--set ", 6) != 0) {
        /* every rank parsed the same text and the same overrides (the command line is the same
         * on every rank) and fails alike; the agreement prints rank 0's.  An override's
         * message names the override, not the file. */
        char msg[DZ_MSG_MAX];
        snprintf(msg, sizeof msg, "%.300s: %.700s", path, e->msg);
        snprintf(e->msg, sizeof e->msg, "%s", msg);
    }
    return dz_err_agree(comm, e);
}

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

void dz_config_describe(const dz_config *c, char *buf, int len)
{
    snprintf(buf, (size_t)len,
             "train_x=%s train_y=%s scale=%.17g dtype=%s model=%s optimizer=%s "
             "learning_rate=%.17g l2=%.17g l1=%.17g decay=%.17g batch_size=%lld seed=%lld "
             "momentum=%.17g nesterov=%d beta1=%.17g beta2=%.17g epsilon=%.17g memory=%lld "
             "reproducible=%d block_rows=%lld",
             c->train_x, c->train_y, c->scale, dz_dtype_name(c->dtype), c->model_type, c->optimizer,
             c->learning_rate, c->l2, c->l1, c->decay, (long long)c->batch_size,
             (long long)c->seed, c->momentum, c->nesterov, c->beta1, c->beta2, c->epsilon,
             (long long)c->memory, c->reproducible, (long long)c->block_rows);
    size_t n = strlen(buf);
    if (!strcmp(c->model_type, "softmax") && n < (size_t)len) /* (binary hashes stay as they were) */
        snprintf(buf + n, (size_t)len - n, " classes=%lld", (long long)c->classes);
    n = strlen(buf);
    if (c->standardize && n < (size_t)len) /* (hashes without it stay as they were) */
        snprintf(buf + n, (size_t)len - n, " standardize=1");
}

uint64_t dz_config_hash(const dz_config *c)
{
    char buf[2048];
    dz_config_describe(c, buf, sizeof buf);
    return fnv1a(buf);
}
