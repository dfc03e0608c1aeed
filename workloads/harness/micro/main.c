/* main.c — tmbench-micro: Google Benchmark's command line over the per-model
 * microbenchmarks (micro.c) and the yardsticks (yard.c).
 *
 *   tmbench-micro [--benchmark_filter=REGEX] [--benchmark_format=json] ...
 *
 * The report's context carries what a reader needs to trust the numbers:
 * the models built in, how they are started (procs, placement), the
 * machine{} and build{} groups of a tmbench record (hwloc topology, git
 * commit and dirty flag, compiler and flags), the Boost version.
 * Exit codes: 0 ran, 1 out of memory registering, 2 unknown arguments.
 */
#include <stdio.h>

#include "harness.h"
#include "json.h"
#include "micro.h"
#include "model.h"
#include "record.h"

/* Every value field of rec as "group.name" = text. */
static void add_record_fields(const struct tmi_rec *rec)
{
    struct tmi_sb key = {0}, val = {0};
    for (int i = 0; i < rec->n; i++) {
        const struct tmi_field *f = &rec->f[i];
        if (f->type == TMI_F_GROUP) continue;
        tmi_sb_reset(&key);
        tmi_sb_reset(&val);
        tmi_sb_printf(&key, "%s.%s", f->group ? f->group : "", f->name);
        tmi_field_text(f, &val);
        if (!key.oom && !val.oom) tmb_add_custom_context(tmi_sb_str(&key), tmi_sb_str(&val));
    }
    tmi_sb_free(&key);
    tmi_sb_free(&val);
}

static void add_context(void)
{
    struct tmi_sb models = {0};
    for (int i = 0; tmi_models[i]; i++)
        tmi_sb_printf(&models, "%s%s", i ? "," : "", tmi_models[i]->name);
    tmb_add_custom_context("tm.models", tmi_sb_str(&models));
    tmi_sb_free(&models);
    tmb_add_custom_context("tm.start", "tm_init per run: procs 0 (model default: all PUs, "
                                       "coro 1), placement none, stack 64 KiB; see each label");
    tmb_add_custom_context("tm.boost_context", TMB_BOOST_VERSION);

    struct tmi_rec rec = {0};
    tmi_machine_add(&rec);
    tmi_build_add(&rec);
    add_record_fields(&rec);
    tmi_rec_free(&rec);
}

int main(int argc, char **argv)
{
    if (tmb_initialize(&argc, argv) != 0) return 2;
    add_context();
    if (tmb_register_models() != 0) {
        fprintf(stderr, "tmbench-micro: out of memory\n");
        return 1;
    }
    tmb_run_specified();
    tmb_shutdown();
    return 0;
}
