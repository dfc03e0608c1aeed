/* harness.h — internals shared by the tmbench CLI, runner and writers.
 *
 * Flow of `tmbench run`: cli.c parses and validates everything into a
 * struct tmi_run_opts (usage errors exit 2 before anything runs), runner.c
 * starts the model and runs warm-ups and repetitions as its main task,
 * filling one struct tmi_rep per repetition with raw measurements,
 * report.c turns each into a struct tmi_rec (DESIGN.md §4) and prints the
 * human view, out.c writes JSON Lines / CSV to stdout and to -o FILE.
 */
#ifndef TMI_HARNESS_H
#define TMI_HARNESS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "record.h"
#include "tm/tm.h"
#include "tm/workload.h"

struct tm_model_ops;
struct tmi_peer;

#define TMI_MAX_PARAMS 16   /* = the size of tm_run.param[] */
#define TMI_MAX_PROCS 1024  /* -p range is 1..TMI_MAX_PROCS */
#define TMI_MAX_REPS 100000 /* --reps and --warmup upper bound */
#define TMI_MAX_MODEL_METRICS 32

enum tmi_format { TMI_FMT_HUMAN, TMI_FMT_JSON, TMI_FMT_CSV };

/* Everything `tmbench run` was asked to do, validated. */
struct tmi_run_opts {
    const struct tm_model_ops *model; /* -m, from tmi_models[]; NULL for a peer */
    const struct tmi_peer *peer;      /* -m, from tmi_peers[]; NULL for a model */
    const struct tm_workload_ops *wl; /* -w, from tm_workloads[] */
    int procs;                        /* -p; 0 = not given (model default: all) */
    int64_t param[TMI_MAX_PARAMS];    /* defaults overridden by --set, by def order */
    int reps;                         /* --reps, >= 1 */
    int warmup;                       /* --warmup, >= 0 */
    const char *placement;            /* --placement; NULL = model default ("none") */
    int64_t slice_us;                 /* --slice-us; 0 = model default */
    int64_t stack_kb;                 /* --stack-kb; 0 = default */
    enum tmi_format format;           /* --format */
    const char *out;                  /* -o FILE, or NULL */
    const char *trace;                /* --trace FILE.json, or NULL */
};

enum tmi_status { TMI_OK, TMI_FAILED, TMI_UNSUPPORTED };

struct tmi_metric {
    char name[48]; /* as reported (truncated to 47 bytes) */
    double value;
};

/* Latency summary of one repetition, taken from its histogram. */
struct tmi_lat {
    uint64_t count;                        /* values recorded */
    int64_t p50, p90, p99, p999, min, max; /* ns */
};

/* One repetition's raw results, filled by the runner in the main task. */
struct tmi_rep {
    int rep;                /* index among recorded repetitions */
    enum tmi_status status; /* ok unless something below failed */
    char error[320];        /* why, when status is not ok */
    int measured;           /* body ran: the timings below are real */
    int verified;           /* verify ran: checksum is real */
    uint64_t checksum;      /* verify() */
    uint64_t expected;      /* expected(), when have_expected */
    int have_expected;      /* expected() ran (not when the model never started) */
    int64_t wall_ns;        /* CLOCK_MONOTONIC around body */
    int64_t cpu_user_ns;    /* getrusage(RUSAGE_SELF) delta over body */
    int64_t cpu_sys_ns;
    int64_t ctx_vol, ctx_invol; /* context switches over body */
    int64_t max_rss_kb;         /* process high-water mark after body */
    uint64_t ops;               /* tm_run.ops */
    int nmetrics;               /* workload metrics (copied from tm_run) */
    struct tmi_metric metric[16];
    int nmodel; /* model metrics (tmi_model->metrics after the rep) */
    struct tmi_metric model[TMI_MAX_MODEL_METRICS];
    int has_lat; /* the workload made a histogram */
    struct tmi_lat lat;
    struct timespec when; /* CLOCK_REALTIME at the start of the repetition */
};

/* What the runner did. */
struct tmi_result {
    struct tmi_rep *rep;   /* recorded repetitions */
    int nrep;              /* how many (fewer than reps after a failure) */
    int procs;             /* effective procs (tm_config() after tm_init) */
    char placement[64];    /* effective placement policy */
    int64_t slice_ns;      /* effective slice; 0 = none/unknown */
    int64_t stack_bytes;   /* effective stack size; 0 = unknown */
    char peer_version[96]; /* a peer's runtime, from its hello line; "" = unknown */
};

/* A peer: a real runtime (Go, Boost.Fiber) run as a child process that
 * speaks the protocol described at the top of peer.c. */
struct tmi_peer {
    const char *name;    /* -m name (contract), also the record's model */
    const char *summary; /* one line for `tmbench list` */
    unsigned caps;       /* TM_CAP_* of model.h, as for models */
    int one_thread;      /* procs defaults to 1 (else all PUs); the peer rejects others */
    int stacks;          /* --stack-kb is meaningful (fixed-size task stacks) */
    int64_t slice_ns;    /* the runtime's own preemption slice; 0 = not preemptive */
    int serves;          /* has `PEER serve echo|http` (tmbench serve -m NAME) */
};

/* The -m name of o's model or peer. */
const char *tmi_opts_model(const struct tmi_run_opts *o);

/* ---- commands (one file each; main.c dispatches) ---- */
int tmi_cmd_list(int argc, char **argv);
int tmi_cmd_run(int argc, char **argv);
int tmi_cmd_serve(int argc, char **argv); /* serve.c */
int tmi_cmd_load(int argc, char **argv);  /* load.c */
int tmi_cmd_topo(int argc, char **argv);  /* topo.c */
int tmi_cmd_demo(int argc, char **argv);  /* demo.c */

/* Print "tmbench: <message>" on stderr as one line; returns 2. */
/* Replace control bytes (newlines from user input...) with '?' in place. */
void tmi_one_line(char *s);
int tmi_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- parse.c ---- */
/* A whole number: "42", "-3", "1_000_000", "1e6", "2.5k", "4M", "1G",
 * "64Ki", "1Mi". Decimal suffixes k/K M G T, binary Ki Mi Gi Ti.
 * 0, or -1 with errno EINVAL (not a whole number) or ERANGE. */
int tmi_parse_int(const char *s, int64_t *out);
/* Fill param[] with the workload's defaults. */
void tmi_param_defaults(const struct tm_workload_ops *wl, int64_t *param);
/* Apply one --set key=value; 0, or -1 with a message in err. */
int tmi_param_set(const struct tm_workload_ops *wl, int64_t *param, const char *kv, char *err,
                  size_t errsz);
/* The number of '|'-separated choices, and choice i copied into buf. */
int tmi_enum_count(const char *choices);
const char *tmi_enum_name(const char *choices, int64_t i, char *buf, size_t bufsz);

/* ---- runner.c ---- */
/* Run o; fills res (free with tmi_result_free). Returns 0, or -1 when the
 * result could not even be allocated (errno ENOMEM). A model that fails to
 * start yields one unsupported/failed repetition, not an error. */
int tmi_runner(const struct tmi_run_opts *o, struct tmi_result *res);
void tmi_result_free(struct tmi_result *res);
/* Record what the checksum should be; a repetition that was ok fails on a
 * mismatch ("checksum mismatch: got G expected E"). */
void tmi_rep_expect(struct tmi_rep *rp, uint64_t expected);

/* ---- peer.c ---- */
extern const struct tmi_peer tmi_peers[]; /* ends with a NULL name */
/* The peer's executable: $TMBENCH_PEER_<NAME> if set, else tmbench-<name>
 * beside this binary. 0 when it exists and is executable, else -1 with
 * the path tried still in buf. */
int tmi_peer_path(const struct tmi_peer *p, char *buf, size_t bufsz);
/* Ask the peer (`PEER info`) for its version and the workloads it has
 * (comma-separated). 0, or -1 with a one-line reason in err. */
int tmi_peer_info(const struct tmi_peer *p, char *version, size_t vsz, char *workloads, size_t wsz,
                  char *err, size_t errsz);
/* How long a peer may stay silent: $TMBENCH_PEER_TIMEOUT seconds (default
 * 600), in ms; -1 when the variable is set but not 1..86400. */
int tmi_peer_timeout_ms(void);
/* tmi_runner for a peer: the same contract, the work done by the child. */
int tmi_peer_runner(const struct tmi_run_opts *o, struct tmi_result *res);

/* ---- report.c ---- */
void tmi_rep_record(const struct tmi_run_opts *o, const struct tmi_result *res,
                    const struct tmi_rep *rp, struct tmi_rec *rec);
/* crash.c: before each repetition, render the failed record it leaves if a
 * task's stack overflow ends the process (written from the signal handler). */
void tmi_crash_arm(const struct tmi_run_opts *o, const struct tmi_result *res, int rep);
void tmi_crash_disarm(void);
void tmi_human_header(FILE *f, const struct tmi_run_opts *o);
void tmi_human_rep(FILE *f, const struct tmi_rep *rp);
void tmi_human_summary(FILE *f, const struct tmi_result *res, int reps);

/* ---- out.c ---- */
/* Can records be appended to path (what = "-o" or "--trace" for messages)?
 * 0, or -1 with a one-line message in err. */
int tmi_out_check(const char *path, const char *what, char *err, size_t errsz);
/* Append recs to path atomically: JSON Lines, or CSV when it ends in .csv. */
int tmi_out_append(const char *path, const struct tmi_rec *recs, int n, char *err, size_t errsz);
/* Write recs to f as JSON Lines or CSV (with a header). 0, or -1. */
int tmi_out_stream(FILE *f, enum tmi_format fmt, const struct tmi_rec *recs, int n);

/* ---- trace_out.c ---- */
/* End tracing (trace.h) and write what was recorded to path as Chrome
 * trace-event JSON, atomically. 0, or -1 with a one-line message in err. */
int tmi_trace_write(const char *path, const struct tmi_run_opts *o, const struct tmi_result *res,
                    char *err, size_t errsz);

/* ---- machine.c, build.c ---- */
void tmi_machine_add(struct tmi_rec *rec); /* the machine{} group */
int tmi_machine_pus(void);                 /* hwloc PU count (>= 1) */
void tmi_build_add(struct tmi_rec *rec);   /* the build{} group */
const char *tmi_build_version(void);       /* one line for --version */

#endif
