/* signals.h: signals a program asks the core to trap (core.trap_signals), so that sleeps and transfers
 * end at once and the Lua side can stop cleanly. */
#ifndef USAGE_SIGNALS_H
#define USAGE_SIGNALS_H

#include "compat.h"

extern const luaL_Reg usage_signal_functions[];

/* the trapped signal received first (0: none); async-signal-safe to read */
int usage_signal_pending(void);
/* 1 once core.trap_signals installed a handler (transfers then watch for them) */
int usage_signals_trapped(void);

#endif
