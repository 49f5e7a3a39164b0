/* SPDX-License-Identifier: MIT */
/* mica: command line and configuration in, server_run() out; exit codes. Nothing else. */
#include <stdio.h>

#include "core/config.h"
#include "core/log.h"
#include "core/server.h"

int main(int argc, char **argv)
{
    struct config cfg;
    enum config_action action;
    char err[256];
    if (config_load(&cfg, argc, argv, &action, err) != 0) {
        fprintf(stderr, "mica: %s\n", err);
        return 1;
    }
    int status = 0;
    switch (action) {
    case CONFIG_HELP:
        fputs(config_usage(), stdout);
        break;
    case CONFIG_VERSION:
        printf("mica %s\n", MICA_VERSION);
        break;
    case CONFIG_CHECK:
        printf("mica: configuration OK (%s)\n", cfg.config_path ? cfg.config_path : "defaults");
        break;
    case CONFIG_HASH_PASSWORD:
        fprintf(stderr, "mica: --hash-password: not available yet (issue #5)\n");
        status = 1;
        break;
    case CONFIG_RUN:
        if (log_open(cfg.log_level, cfg.error_log, err) != 0 || server_run(&cfg, err) != 0) {
            fprintf(stderr, "mica: %s\n", err);
            status = 1;
        }
        log_close();
        break;
    }
    config_free(&cfg);
    return status;
}
