/* files.h: the files the command line reads and writes, safe against what another user of a shared
 * directory can plant in advance (symlinks, FIFOs, devices, huge files): core.open_output,
 * core.read_file, core.file_info (see files.c). */
#ifndef USAGE_FILES_H
#define USAGE_FILES_H

#include "compat.h"

#define USAGE_FILE_MT "usage.core.file"

extern const luaL_Reg usage_file_functions[];
void usage_file_register(lua_State *L);

#endif
