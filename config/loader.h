/* State shared by the loading stages (config.c drives them): the parse
 * tree -> structs (parse.c), cross checks and indexes (validate.c), TLS
 * material (tls_check.c). Private to config/. */
#ifndef SBC_CONFIG_LOADER_H
#define SBC_CONFIG_LOADER_H

#include "config/config.h"
#include "config/report.h"
#include "config/strmap.h"

struct sbc_arena;
struct sbc_ynode;
struct sbc_numindex;
struct sbc_cidr_index;

struct sbc_config_index {
    struct sbc_arena *arena;            /* owns the snapshot and everything in it */
    struct sbc_strmap iface_by_name, trunk_by_name;
    struct sbc_strmap tenant_by_name, tenant_by_fqdn, tenant_by_id;
    struct sbc_numindex *numbers;
    struct sbc_cidr_index *trunk_cidrs;
};

struct sbc_loader {
    struct sbc_report report;
    struct sbc_arena *a;                /* the snapshot's arena */
    struct sbc_arena *tree;             /* scratch, freed after loading */
    sbc_config_t *cfg;
    bool no_files;                      /* do not touch the file system */

    /* Where references and checked values were written, for messages. */
    const struct sbc_ynode *teams_iface_ref;
    const struct sbc_ynode *teams_base_node;
    const struct sbc_ynode **trunk_iface_ref;   /* per trunk */
    const struct sbc_ynode **trunk_allow_nodes; /* per trunk: the allow list */
    const struct sbc_ynode **trunk_target_nodes; /* per trunk: targets list (sorted later) */
    const struct sbc_ynode **tenant_trunk_ref;  /* per tenant */
    const struct sbc_ynode **tenant_fqdn_node;
    const struct sbc_ynode **tenant_id_node;
    const struct sbc_ynode **tenant_numbers;    /* per tenant: the numbers list */
    const struct sbc_ynode **iface_tls_node;    /* per interface: its tls mapping */
    void **iface_cert;                          /* per interface: leaf X509, freed after load */
    void **teams_extra_cert;                    /* the teams interface's extra X509s, freed after load */
    size_t n_teams_extra;

    /* Collected by validate.c, turned into indexes when nothing is wrong. */
    struct sbc_num_entry *nums;
    size_t n_nums;
    const struct sbc_ynode **num_nodes;         /* by sbc_num_entry.ref */
    struct sbc_cidr_entry *cidrs;
    size_t n_cidrs;
};

void sbc_loader_error(struct sbc_loader *ld, const struct sbc_ynode *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* parse.c: fills ld->cfg from the root mapping. */
void sbc_config_parse(struct sbc_loader *ld, const struct sbc_ynode *root);
/* validate.c: references, uniqueness, number and CIDR rules; builds the indexes. */
void sbc_config_validate(struct sbc_loader *ld);
void sbc_config_build_indexes(struct sbc_loader *ld);
/* tls_check.c: reads and matches certificates and keys, checks tenant FQDN
 * coverage; the X509 objects are kept in ld->iface_cert until release. */
void sbc_config_check_tls(struct sbc_loader *ld);
void sbc_config_tls_release(struct sbc_loader *ld);

#endif
