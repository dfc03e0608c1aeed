/* build.c — the build{} object of every record: how this binary was made.
 *
 * build_info.h is written at configure time (compiler, flags, options);
 * git_info.h at build time by gitinfo.cmake, so the commit and the dirty
 * flag describe the sources this binary was actually compiled from.
 */
#include "build_info.h"
#include "git_info.h"
#include "harness.h"

const char *tmi_build_version(void)
{
    return "tmbench " TMI_BUILD_VERSION " (" TMI_GIT_DESCRIBE
#if TMI_GIT_DIRTY == 1
           ", dirty"
#endif
           ", " TMI_BUILD_TYPE ", " TMI_BUILD_COMPILER ", ctx " TMI_BUILD_CTX ")";
}

void tmi_build_add(struct tmi_rec *r)
{
    tmi_rec_group(r, "build");
    tmi_rec_str(r, "build", "version", TMI_BUILD_VERSION);
    tmi_rec_str(r, "build", "compiler", TMI_BUILD_COMPILER);
    tmi_rec_str(r, "build", "c_flags", TMI_BUILD_C_FLAGS);
    tmi_rec_str(r, "build", "build_type", TMI_BUILD_TYPE[0] ? TMI_BUILD_TYPE : NULL);
    tmi_rec_str(r, "build", "ctx", TMI_BUILD_CTX);
    tmi_rec_str(r, "build", "sanitizer", TMI_BUILD_SANITIZE[0] ? TMI_BUILD_SANITIZE : "none");
    tmi_rec_str(r, "build", "hwloc", TMI_BUILD_HWLOC);
    tmi_rec_str(r, "build", "git_commit", TMI_GIT_COMMIT);
    tmi_rec_str(r, "build", "git_describe", TMI_GIT_DESCRIBE);
    if (TMI_GIT_DIRTY < 0)
        tmi_rec_null(r, "build", "git_dirty");
    else
        tmi_rec_bool(r, "build", "git_dirty", TMI_GIT_DIRTY);
}
