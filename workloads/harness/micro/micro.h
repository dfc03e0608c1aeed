/* micro.h — the parts of tmbench-micro (main.c registers them). */
#ifndef TMB_MICRO_H
#define TMB_MICRO_H

#include "gbench.h"

/* micro.c: spawn, yield, pingpong, mutex for every model in tmi_models[],
 * named "<family>/<model>", each family followed by its yardsticks.
 * 0, or -1 with errno ENOMEM. */
int tmb_register_models(void);

/* yard.c: the yardsticks without a model that go with one family: after
 * "spawn" spawn/bare_pthread, after "yield" ctx_switch/tm_<TM_CTX> and
 * ctx_switch/boost_fcontext; none for the others. */
void tmb_register_yardsticks(const char *family);

#endif
