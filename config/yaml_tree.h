/* YAML -> a small node tree that keeps file and line of every node, with
 * `- include: GLOB` list items already replaced by the included items.
 * libyaml's event API does the parsing; aliases are refused (they would let
 * a few bytes expand into a huge tree). */
#ifndef SBC_CONFIG_YAML_TREE_H
#define SBC_CONFIG_YAML_TREE_H

#include <stdbool.h>
#include <stddef.h>

struct sbc_arena;
struct sbc_report;

enum sbc_ykind { SBC_Y_SCALAR = 0, SBC_Y_SEQ, SBC_Y_MAP };

struct sbc_ynode {
    enum sbc_ykind kind;
    int line;                   /* 1-based */
    bool plain;                 /* scalar written without quotes */
    const char *file;           /* as given or included (for messages) */
    const char *dir;            /* absolute directory of that file */
    const char *str;            /* scalar text, NUL-terminated */
    size_t len;
    struct sbc_ynode **items;   /* SEQ: items; MAP: key0, value0, key1, ... */
    size_t n;                   /* number of entries in items */
};

struct sbc_ytree_ctx {
    struct sbc_arena *tree;     /* nodes and scalar text (freed after load) */
    struct sbc_arena *names;    /* file and dir names (must outlive messages) */
    struct sbc_report *report;
    bool no_files;              /* refuse includes (fuzzing, embedded configs) */
    size_t files;               /* files read so far, includes too */
};

/* Both return the root, or NULL when the file could not be read or parsed
 * (the reason is reported). An empty document gives a null scalar. */
struct sbc_ynode *sbc_ytree_load_file(struct sbc_ytree_ctx *ctx, const char *path);
struct sbc_ynode *sbc_ytree_load_buffer(struct sbc_ytree_ctx *ctx, const char *name,
                                        const char *base_dir, const char *buf, size_t len);

/* A plain "", "~", "null" or "Null"/"NULL" scalar: the key is treated as absent. */
bool sbc_ynode_is_null(const struct sbc_ynode *n);
/* Value of key in a MAP node, NULL when missing or null. */
const struct sbc_ynode *sbc_ynode_get(const struct sbc_ynode *map, const char *key);
const char *sbc_ykind_name(enum sbc_ykind k);

#endif
