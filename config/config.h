/* The operator's configuration as an immutable, validated snapshot.
 *
 * A snapshot is built from YAML (CONFIG.md), validated as a whole, and then
 * never modified: workers and calls read it without locks and keep it alive
 * with a reference count. Publishing a new one is config_store.h's job. */
#ifndef SBC_CONFIG_H
#define SBC_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Errors collected while loading: each line reads "file:line: message". */
typedef struct sbc_diag {
    char **lines;
    size_t n;
    size_t cap;
} sbc_diag_t;

void sbc_diag_init(sbc_diag_t *d);
void sbc_diag_add(sbc_diag_t *d, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void sbc_diag_clear(sbc_diag_t *d);

typedef struct sbc_cidr {
    int family;         /* AF_INET or AF_INET6 */
    uint8_t prefix;     /* prefix length in bits */
    uint8_t addr[16];   /* network address, host bits zero */
} sbc_cidr_t;

enum sbc_transport {
    SBC_TP_UDP = 1u << 0,
    SBC_TP_TCP = 1u << 1,
    SBC_TP_TLS = 1u << 2,
};

enum sbc_srtp_mode { SBC_SRTP_OFF = 0, SBC_SRTP_OPTIONAL, SBC_SRTP_REQUIRED };
enum sbc_numfmt { SBC_NUM_E164 = 0, SBC_NUM_INTERNATIONAL, SBC_NUM_NATIONAL };
enum sbc_log_level { SBC_LOG_ERROR = 0, SBC_LOG_WARN, SBC_LOG_INFO, SBC_LOG_DEBUG };
enum sbc_log_format { SBC_LOG_TEXT = 0, SBC_LOG_JSON };

typedef struct sbc_where {
    const char *file;   /* path as given or included */
    int line;
} sbc_where_t;

/* A further certificate of an interface, served to clients whose SNI it
 * covers (several customer domains on one listener). */
typedef struct sbc_tls_cert {
    char *certificate;
    char *private_key;
} sbc_tls_cert_t;

typedef struct sbc_tls_conf {
    char *certificate;  /* absolute path, chain in PEM */
    char *private_key;
    char *ca_file;      /* trust anchors for peers; may be NULL */
    int min_version;    /* 0x0303 = TLS 1.2, 0x0304 = TLS 1.3 */
    sbc_tls_cert_t *extra;   /* chosen by SNI; the main certificate otherwise */
    size_t n_extra;
    /* SHA-256 of each file's content at load time (zero when absent), so a
     * reload can tell a renewed certificate from an unchanged one. */
    uint8_t certificate_sha256[32];
    uint8_t private_key_sha256[32];
    uint8_t ca_file_sha256[32];
} sbc_tls_conf_t;

typedef struct sbc_interface {
    char *name;
    char *sip_address;          /* literal IPv4/IPv6 */
    uint16_t sip_port;
    unsigned transports;        /* enum sbc_transport bits */
    char *advertise;            /* public address for SDP, or NULL */
    char *media_address;
    uint16_t media_port_min, media_port_max;
    sbc_cidr_t *allow;          /* empty = any source */
    size_t n_allow;
    sbc_tls_conf_t *tls;        /* NULL when the interface has no TLS */
    sbc_where_t where;
} sbc_interface_t;

typedef struct sbc_proxy {
    char *host;                 /* FQDN for SNI and certificate name check */
    uint16_t port;
    char *address;              /* fixed address to connect to (labs), or NULL */
} sbc_proxy_t;

typedef struct sbc_teams {
    const sbc_interface_t *interface;
    char *base_fqdn;
    sbc_proxy_t *proxies;       /* in failover order */
    size_t n_proxies;
    uint32_t options_interval_ms;
    uint32_t failover_timeout_ms;  /* no response at all from a proxy: try the next */
    enum sbc_srtp_mode srtp;
    char *user_agent;
} sbc_teams_t;

typedef struct sbc_target {
    char *host;
    uint16_t port;
    enum sbc_transport transport;
    int priority;               /* lower first */
    int weight;
} sbc_target_t;

typedef struct sbc_trunk {
    char *name;
    const sbc_interface_t *interface;
    sbc_target_t *targets;      /* sorted by priority, then weight (desc) */
    size_t n_targets;
    sbc_cidr_t *allow;
    size_t n_allow;
    enum sbc_numfmt to_trunk, from_trunk;
    char country_code[8];
    enum sbc_srtp_mode media_srtp;
    uint32_t max_calls;         /* 0 = unlimited */
    uint32_t max_cps;           /* 0 = unlimited */
    uint32_t options_interval_ms;
    uint32_t failover_timeout_ms;  /* no response at all from a target: try the next */
    sbc_where_t where;
} sbc_trunk_t;

typedef struct sbc_tenant {
    char *name;
    char *id;                   /* Teams tenant id, or NULL */
    char *fqdn;                 /* lower case */
    const sbc_trunk_t *trunk;
    char **numbers;             /* as written: "+1555", "+1555000-+1555999", "+15557770001" */
    size_t n_numbers;
    uint32_t max_calls;
    sbc_where_t where;
} sbc_tenant_t;

typedef struct sbc_node {
    char *name;
    int workers;                /* resolved: "auto" becomes the number of online CPUs */
    char *control_socket;
    char *metrics_listen;       /* "addr:port" or NULL */
    char *cdr_file;             /* or NULL */
    enum sbc_log_level log_level;
    enum sbc_log_format log_format;
    uint32_t drain_timeout_ms;
    uint32_t media_timeout_ms;  /* RTP inactivity that ends a call; 0 = never */
    uint32_t media_batch_ms;    /* busy relay: packets picked up this often; 0 = at once */
    uint32_t session_expires_ms;   /* RFC 4028 interval we ask for on our INVITEs; 0 = none */
    uint32_t min_se_ms;            /* smallest Session-Expires accepted (422 below it) */
} sbc_node_t;

struct sbc_config_index;        /* lookup structures, private to config/ */

typedef struct sbc_config {
    char *path;                 /* main file */
    uint64_t generation;        /* set by the store on publish */
    sbc_node_t node;
    sbc_interface_t *interfaces;
    size_t n_interfaces;
    sbc_teams_t teams;
    sbc_trunk_t *trunks;
    size_t n_trunks;
    sbc_tenant_t *tenants;
    size_t n_tenants;
    struct sbc_config_index *index;
    int refs;                   /* atomic; use sbc_config_ref/unref */
} sbc_config_t;

/* Loads and validates; NULL when anything is wrong, with every error in diag.
 * Relative paths (include globs, certificates) resolve against the directory
 * of the file that names them. */
sbc_config_t *sbc_config_load(const char *path, sbc_diag_t *diag);
/* Same from memory (embedded demo, fuzzing); name is used in messages and
 * base_dir for relative paths (NULL = current directory). */
sbc_config_t *sbc_config_load_buffer(const char *name, const char *base_dir,
                                     const char *yaml, size_t len, sbc_diag_t *diag);

/* SBC_LOAD_NO_FILES: read no file at all: an include is an error, and
 * certificate, key and CA paths are kept as written but not read or
 * checked (no hashes either). For fuzzing and untrusted input. */
#define SBC_LOAD_NO_FILES 0x1u
sbc_config_t *sbc_config_load_buffer_flags(const char *name, const char *base_dir,
                                           const char *yaml, size_t len, unsigned flags,
                                           sbc_diag_t *diag);

sbc_config_t *sbc_config_ref(sbc_config_t *c);
void sbc_config_unref(sbc_config_t *c);

/* Lookups: O(1) or O(log n), no allocation, safe from any thread. */
const sbc_tenant_t *sbc_config_tenant_by_fqdn(const sbc_config_t *c, const char *fqdn);
const sbc_tenant_t *sbc_config_tenant_by_id(const sbc_config_t *c, const char *id);
const sbc_tenant_t *sbc_config_tenant_by_name(const sbc_config_t *c, const char *name);
/* e164 with or without the leading '+'; most specific match wins
 * (exact number, then the narrowest range or longest prefix). */
const sbc_tenant_t *sbc_config_tenant_by_number(const sbc_config_t *c, const char *e164);
/* Longest CIDR match over every trunk's allow list. */
const sbc_trunk_t *sbc_config_trunk_by_addr(const sbc_config_t *c, const struct sockaddr *sa);
const sbc_trunk_t *sbc_config_trunk_by_name(const sbc_config_t *c, const char *name);
const sbc_interface_t *sbc_config_interface_by_name(const sbc_config_t *c, const char *name);

/* What a reload changes, as lines such as "tenant added: acme",
 * "trunk changed: core-east", "restart needed: node.workers". */
void sbc_config_diff(const sbc_config_t *old, const sbc_config_t *new_, sbc_diag_t *out);

bool sbc_cidr_contains(const sbc_cidr_t *c, const struct sockaddr *sa);

#endif
