/* YAML event stream -> node tree with file:line, include expansion. */
#include "config/yaml_tree.h"

#include "config/arena.h"
#include "config/fileio.h"
#include "config/report.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#define MAX_DEPTH 64                    /* nesting inside one document */
#define MAX_INCLUDE_DEPTH 8             /* also what stops include cycles */
#define MAX_FILES 20000
#define DUP_SCAN_LIMIT 32               /* maps above this use a hash for duplicate keys */

/* The file being parsed: where its nodes say they come from. */
struct yfile {
    const char *file;       /* display name */
    const char *dir;        /* absolute directory */
    const char *ddir;       /* display directory ("" = current directory) */
    int include_depth;
};

struct frame {
    struct sbc_ynode *node;
    struct sbc_ynode **v;
    size_t n, cap;
};

static struct sbc_ynode *load_path(struct sbc_ytree_ctx *ctx, const char *path, int depth,
                                   const struct sbc_ynode *from);

const char *sbc_ykind_name(enum sbc_ykind k)
{
    switch (k) {
    case SBC_Y_SCALAR: return "a scalar";
    case SBC_Y_SEQ: return "a list";
    case SBC_Y_MAP: return "a mapping";
    }
    return "?";
}

bool sbc_ynode_is_null(const struct sbc_ynode *n)
{
    if (!n || n->kind != SBC_Y_SCALAR || !n->plain)
        return false;
    return n->len == 0 || strcmp(n->str, "~") == 0 || strcmp(n->str, "null") == 0 ||
           strcmp(n->str, "Null") == 0 || strcmp(n->str, "NULL") == 0;
}

const struct sbc_ynode *sbc_ynode_get(const struct sbc_ynode *map, const char *key)
{
    if (!map || map->kind != SBC_Y_MAP)
        return NULL;
    for (size_t i = 0; i + 1 < map->n; i += 2) {
        const struct sbc_ynode *k = map->items[i];
        if (k->kind == SBC_Y_SCALAR && strcmp(k->str, key) == 0)
            return sbc_ynode_is_null(map->items[i + 1]) ? NULL : map->items[i + 1];
    }
    return NULL;
}

static bool vec_push(struct frame *f, struct sbc_ynode *n)
{
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 8;
        struct sbc_ynode **v = realloc(f->v, cap * sizeof(*v));
        if (!v)
            return false;
        f->v = v;
        f->cap = cap;
    }
    f->v[f->n++] = n;
    return true;
}

static struct sbc_ynode *new_node(struct sbc_ytree_ctx *ctx, const struct yfile *yf,
                                  enum sbc_ykind kind, const yaml_mark_t *mark)
{
    struct sbc_ynode *n = sbc_arena_alloc(ctx->tree, sizeof(*n));
    n->kind = kind;
    n->line = (int)(mark->line + 1 > INT32_MAX ? INT32_MAX : mark->line + 1);
    n->file = yf->file;
    n->dir = yf->dir;
    n->str = "";
    return n;
}

/* Keys are scalars and unique; later stages rely on both. */
static void check_map(struct sbc_ytree_ctx *ctx, struct sbc_ynode *m)
{
    size_t pairs = m->n / 2;
    for (size_t i = 0; i < pairs; i++) {
        struct sbc_ynode *k = m->items[2 * i];
        if (k->kind != SBC_Y_SCALAR) {
            sbc_report_error(ctx->report, k->file, k->line, "mapping keys must be scalars, not %s",
                             sbc_ykind_name(k->kind));
            /* make it harmless for later stages */
            struct sbc_ynode *s = sbc_arena_alloc(ctx->tree, sizeof(*s));
            *s = *k;
            s->kind = SBC_Y_SCALAR;
            s->items = NULL;
            s->n = 0;
            s->str = "?";
            s->len = 1;
            m->items[2 * i] = s;
        }
    }
    if (pairs <= DUP_SCAN_LIMIT) {
        for (size_t i = 1; i < pairs; i++)
            for (size_t j = 0; j < i; j++)
                if (strcmp(m->items[2 * i]->str, m->items[2 * j]->str) == 0) {
                    const struct sbc_ynode *k = m->items[2 * i], *f = m->items[2 * j];
                    sbc_report_error(ctx->report, k->file, k->line,
                                     "duplicate key '%.64s' (first at line %d)", k->str, f->line);
                    break;
                }
        return;
    }
    /* Big maps: sort indices by key and compare neighbours. */
    size_t *idx = sbc_arena_array(ctx->tree, pairs, sizeof(*idx));
    for (size_t i = 0; i < pairs; i++)
        idx[i] = i;
    /* insertion sort would be quadratic; use a simple merge sort on indices */
    size_t *tmp = sbc_arena_array(ctx->tree, pairs, sizeof(*tmp));
    for (size_t w = 1; w < pairs; w *= 2) {
        for (size_t lo = 0; lo < pairs; lo += 2 * w) {
            size_t mid = lo + w < pairs ? lo + w : pairs;
            size_t hi = lo + 2 * w < pairs ? lo + 2 * w : pairs;
            size_t a = lo, b = mid, o = lo;
            while (a < mid && b < hi) {
                int c = strcmp(m->items[2 * idx[a]]->str, m->items[2 * idx[b]]->str);
                tmp[o++] = (c < 0 || (c == 0 && idx[a] < idx[b])) ? idx[a++] : idx[b++];
            }
            while (a < mid)
                tmp[o++] = idx[a++];
            while (b < hi)
                tmp[o++] = idx[b++];
        }
        size_t *t = idx;
        idx = tmp;
        tmp = t;
    }
    for (size_t i = 1; i < pairs; i++) {
        const struct sbc_ynode *k = m->items[2 * idx[i]], *f = m->items[2 * idx[i - 1]];
        if (strcmp(k->str, f->str) == 0)
            sbc_report_error(ctx->report, k->file, k->line,
                             "duplicate key '%.64s' (first at line %d)", k->str, f->line);
    }
}

static void syntax_error(struct sbc_ytree_ctx *ctx, const struct yfile *yf, const yaml_parser_t *p)
{
    if (p->error == YAML_MEMORY_ERROR) {
        sbc_report_error(ctx->report, yf->file, 0, "out of memory while parsing YAML");
        return;
    }
    int line = (int)(p->problem_mark.line + 1 > INT32_MAX ? INT32_MAX : p->problem_mark.line + 1);
    const char *problem = p->problem ? p->problem : "malformed input";
    if (p->context)
        sbc_report_error(ctx->report, yf->file, line, "YAML syntax error: %s (%s at line %d)",
                         problem, p->context, (int)(p->context_mark.line + 1));
    else
        sbc_report_error(ctx->report, yf->file, line, "YAML syntax error: %s", problem);
}

/* Builds the tree of one document; NULL after a syntax error. */
static struct sbc_ynode *parse_doc(struct sbc_ytree_ctx *ctx, const struct yfile *yf,
                                   const char *buf, size_t len)
{
    yaml_parser_t p;
    if (!yaml_parser_initialize(&p)) {
        sbc_report_error(ctx->report, yf->file, 0, "out of memory while parsing YAML");
        return NULL;
    }
    yaml_parser_set_input_string(&p, (const unsigned char *)buf, len);

    struct frame stack[MAX_DEPTH];
    int sp = 0;
    struct sbc_ynode *root = NULL;
    bool ok = true, done = false;
    int docs = 0;

    while (!done) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&p, &ev)) {
            syntax_error(ctx, yf, &p);
            ok = false;
            break;
        }
        struct sbc_ynode *n = NULL;
        switch (ev.type) {
        case YAML_STREAM_END_EVENT:
            done = true;
            break;
        case YAML_DOCUMENT_START_EVENT:
            if (++docs > 1) {
                sbc_report_error(ctx->report, yf->file, (int)ev.start_mark.line + 1,
                                 "only one YAML document per file");
                ok = false;
                done = true;
            }
            break;
        case YAML_ALIAS_EVENT:
            sbc_report_error(ctx->report, yf->file, (int)ev.start_mark.line + 1,
                             "YAML aliases are not supported");
            ok = false;
            done = true;
            break;
        case YAML_SCALAR_EVENT: {
            const char *v = (const char *)ev.data.scalar.value;
            size_t vl = ev.data.scalar.length;
            if (memchr(v, '\0', vl)) {
                sbc_report_error(ctx->report, yf->file, (int)ev.start_mark.line + 1,
                                 "NUL character in a value");
                ok = false;
                done = true;
                break;
            }
            n = new_node(ctx, yf, SBC_Y_SCALAR, &ev.start_mark);
            n->str = sbc_arena_strndup(ctx->tree, v, vl);
            n->len = vl;
            n->plain = ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
            break;
        }
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT:
            if (sp == MAX_DEPTH) {
                sbc_report_error(ctx->report, yf->file, (int)ev.start_mark.line + 1,
                                 "nesting deeper than %d levels", MAX_DEPTH);
                ok = false;
                done = true;
                break;
            }
            n = new_node(ctx, yf, ev.type == YAML_SEQUENCE_START_EVENT ? SBC_Y_SEQ : SBC_Y_MAP,
                         &ev.start_mark);
            break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT: {
            struct frame *f = &stack[--sp];
            f->node->items = sbc_arena_array(ctx->tree, f->n ? f->n : 1, sizeof(*f->node->items));
            if (f->n)
                memcpy(f->node->items, f->v, f->n * sizeof(*f->v));
            f->node->n = f->n;
            free(f->v);
            if (f->node->kind == SBC_Y_MAP)
                check_map(ctx, f->node);
            break;
        }
        default:
            break;
        }
        if (n) {
            if (sp == 0)
                root = n;
            else if (!vec_push(&stack[sp - 1], n)) {
                sbc_report_error(ctx->report, yf->file, n->line, "out of memory");
                ok = false;
                done = true;
            }
            if (ok && n->kind != SBC_Y_SCALAR)
                stack[sp++] = (struct frame){ .node = n };
        }
        yaml_event_delete(&ev);
    }
    while (sp > 0)
        free(stack[--sp].v);
    yaml_parser_delete(&p);
    if (!ok)
        return NULL;
    if (!root) {                        /* empty document */
        yaml_mark_t m = { 0 };
        root = new_node(ctx, yf, SBC_Y_SCALAR, &m);
        root->plain = true;
    }
    return root;
}

static bool has_glob_chars(const char *s)
{
    return strpbrk(s, "*?[") != NULL;
}

static void expand(struct sbc_ytree_ctx *ctx, const struct yfile *yf, struct sbc_ynode *n);

/* Appends what one `include:` item stands for to f. */
static void include_item(struct sbc_ytree_ctx *ctx, const struct yfile *yf,
                         const struct sbc_ynode *item, struct frame *f)
{
    const struct sbc_ynode *val = item->items[1];
    if (val->kind != SBC_Y_SCALAR || sbc_ynode_is_null(val)) {
        sbc_report_error(ctx->report, item->file, item->line,
                         "'include' needs a file name or a glob pattern");
        return;
    }
    if (ctx->no_files) {
        sbc_report_error(ctx->report, val->file, val->line,
                         "include of '%.200s' refused: file access is disabled", val->str);
        return;
    }
    if (yf->include_depth >= MAX_INCLUDE_DEPTH) {
        sbc_report_error(ctx->report, val->file, val->line,
                         "includes nested deeper than %d levels (an include cycle?)",
                         MAX_INCLUDE_DEPTH);
        return;
    }
    const char *pattern = val->str;
    if (pattern[0] != '/' && yf->ddir[0])
        pattern = sbc_arena_printf(ctx->tree, "%s/%s", yf->ddir, val->str);

    glob_t g;
    int r = glob(pattern, 0, NULL, &g);
    if (r == GLOB_NOMATCH) {
        if (!has_glob_chars(val->str))
            sbc_report_error(ctx->report, val->file, val->line, "cannot read include '%.200s': %s",
                             pattern, strerror(ENOENT));
        globfree(&g);
        return;
    }
    if (r != 0) {
        sbc_report_error(ctx->report, val->file, val->line, "include '%.200s': cannot expand the pattern",
                         pattern);
        globfree(&g);
        return;
    }
    for (size_t i = 0; i < g.gl_pathc; i++) {
        struct sbc_ynode *root = load_path(ctx, g.gl_pathv[i], yf->include_depth + 1, val);
        if (!root)
            continue;
        if (root->kind == SBC_Y_SEQ) {
            for (size_t j = 0; j < root->n; j++)
                if (!vec_push(f, root->items[j]))
                    break;
        } else if (root->kind == SBC_Y_MAP) {
            vec_push(f, root);
        } else if (!sbc_ynode_is_null(root)) {
            sbc_report_error(ctx->report, root->file, root->line,
                             "an included file must hold a list or a mapping");
        }
    }
    globfree(&g);
}

static bool is_include_item(const struct sbc_ynode *it)
{
    return it->kind == SBC_Y_MAP && it->n == 2 && strcmp(it->items[0]->str, "include") == 0;
}

/* Replaces include items in every list of this file's tree. Included trees
 * were expanded when they were loaded, and they are not walked again. */
static void expand(struct sbc_ytree_ctx *ctx, const struct yfile *yf, struct sbc_ynode *n)
{
    if (n->kind == SBC_Y_SCALAR || n->file != yf->file)
        return;
    if (n->kind == SBC_Y_MAP) {
        for (size_t i = 1; i < n->n; i += 2)
            expand(ctx, yf, n->items[i]);
        return;
    }
    bool any = false;
    for (size_t i = 0; i < n->n; i++) {
        if (is_include_item(n->items[i]))
            any = true;
        else
            expand(ctx, yf, n->items[i]);
    }
    if (!any)
        return;
    struct frame f = { 0 };
    for (size_t i = 0; i < n->n; i++) {
        if (is_include_item(n->items[i]))
            include_item(ctx, yf, n->items[i], &f);
        else
            vec_push(&f, n->items[i]);
    }
    n->items = sbc_arena_array(ctx->tree, f.n ? f.n : 1, sizeof(*n->items));
    if (f.n)
        memcpy(n->items, f.v, f.n * sizeof(*f.v));
    n->n = f.n;
    free(f.v);
}

static const char *display_dir(struct sbc_arena *a, const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return "";
    if (slash == path)
        return "/";
    return sbc_arena_strndup(a, path, (size_t)(slash - path));
}

static const char *absolute_dir(struct sbc_arena *a, const char *dir)
{
    if (dir[0] == '/')
        return sbc_arena_strdup(a, dir);
    char cwd[4096];
    if (!getcwd(cwd, sizeof(cwd)))
        strcpy(cwd, ".");
    if (!dir[0] || strcmp(dir, ".") == 0)
        return sbc_arena_strdup(a, cwd);
    return sbc_arena_printf(a, "%s/%s", cwd, dir);
}

static struct sbc_ynode *parse_and_expand(struct sbc_ytree_ctx *ctx, const struct yfile *yf,
                                          const char *buf, size_t len)
{
    struct sbc_ynode *root = parse_doc(ctx, yf, buf, len);
    if (root)
        expand(ctx, yf, root);
    return root;
}

static struct sbc_ynode *load_path(struct sbc_ytree_ctx *ctx, const char *path, int depth,
                                   const struct sbc_ynode *from)
{
    if (++ctx->files > MAX_FILES) {
        if (ctx->files == MAX_FILES + 1)
            sbc_report_error(ctx->report, from ? from->file : path, from ? from->line : 0,
                             "more than %d files included", MAX_FILES);
        return NULL;
    }
    size_t len = 0;
    int err = 0;
    char *buf = sbc_read_file(path, &len, &err);
    if (!buf) {
        if (from)
            sbc_report_error(ctx->report, from->file, from->line, "cannot read include '%.200s': %s",
                             path, strerror(err));
        else
            sbc_report_error(ctx->report, path, 0, "cannot read file: %s", strerror(err));
        return NULL;
    }
    struct yfile yf = { .include_depth = depth };
    yf.file = sbc_arena_strdup(ctx->names, path);
    sbc_report_file(ctx->report, yf.file);
    yf.ddir = display_dir(ctx->names, path);
    yf.dir = absolute_dir(ctx->names, yf.ddir);
    struct sbc_ynode *root = parse_and_expand(ctx, &yf, buf, len);
    free(buf);
    return root;
}

struct sbc_ynode *sbc_ytree_load_file(struct sbc_ytree_ctx *ctx, const char *path)
{
    return load_path(ctx, path, 0, NULL);
}

struct sbc_ynode *sbc_ytree_load_buffer(struct sbc_ytree_ctx *ctx, const char *name,
                                        const char *base_dir, const char *buf, size_t len)
{
    struct sbc_arena *na = ctx->names;
    struct yfile yf = { .include_depth = 0 };
    yf.file = sbc_arena_strdup(na, name ? name : "<buffer>");
    sbc_report_file(ctx->report, yf.file);
    yf.ddir = base_dir ? sbc_arena_strdup(na, base_dir) : "";
    yf.dir = absolute_dir(na, base_dir ? base_dir : "");
    return parse_and_expand(ctx, &yf, buf, len);
}
