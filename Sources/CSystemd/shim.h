#ifndef LEADLINE_CSYSTEMD_SHIM_H
#define LEADLINE_CSYSTEMD_SHIM_H
#include <systemd/sd-daemon.h>
#include <systemd/sd-journal.h>
#include <sys/uio.h>
#include <sys/socket.h>

/* SD_LISTEN_FDS_START is a macro; Swift imports it, but keep one named constant for clarity. */
static inline int leadline_sd_listen_fds_start(void) { return SD_LISTEN_FDS_START; }
#endif
