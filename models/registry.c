/* registry.c — every model built into this binary, by CLI name. */
#include <string.h>

#include "model.h"

extern const struct tm_model_ops tm_model_pthreads, tm_model_coro, tm_model_mn,
    tm_model_goroutine;

const struct tm_model_ops *const tmi_models[] = {
    &tm_model_pthreads,
    &tm_model_coro,
    &tm_model_mn,
    &tm_model_goroutine,
    NULL,
};

const struct tm_model_ops *tmi_model_find(const char *name)
{
    for (int i = 0; tmi_models[i]; i++)
        if (strcmp(tmi_models[i]->name, name) == 0) return tmi_models[i];
    return NULL;
}
