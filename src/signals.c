/* signals.c: core.trap_signals, core.pending_signal, core.clear_signal, core.signal_deadline, core.sleep.
 *
 * core.trap_signals{ "INT", "TERM", "HUP" } installs handlers (without SA_RESTART) that only note the
 * first trapped signal. From then on a sleep returns early, a transfer ends with the transport code
 * "interrupted" (see http.c) and a multi's wait returns, so the Lua side can stop within a moment.
 * Nothing is trapped unless a program asks (the command line does; a library must not take a
 * process's signals on its own).
 *
 * core.sleep(seconds) -> seconds left (0 when the whole wait passed). It returns early when a signal
 * interrupts it: then the interpreter's own handler (lua.c raises "interrupted!" on Ctrl-C) or the Lua
 * side (core.pending_signal()) decides whether to go on.
 *
 * core.signal_deadline(seconds) (0: none, the default) is a program's promise to stop within that time
 * of a trapped signal: if it is still running then (stuck in a loop that never looks at the signal, e.g.
 * compiled by LuaJIT where no hook runs), the signal's default action is taken, as if it had never been
 * trapped. It uses alarm(2) and SIGALRM; the command line sets it, a library never does. */
#include "signals.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* one per process by nature: the handler has no other place to write to */
static volatile sig_atomic_t pending_signal = 0;
static volatile sig_atomic_t trapped = 0;
static volatile sig_atomic_t deadline = 0; /* seconds (core.signal_deadline); 0: none */

static void on_signal(int sig)
{
	if (pending_signal == 0) {
		pending_signal = sig;
		if (deadline > 0)
			alarm((unsigned)deadline);
	}
}

/* the deadline passed: the pending signal's default action (async-signal-safe calls only) */
static void on_deadline(int sig)
{
	static struct sigaction dfl; /* zero: SIG_DFL, no flags, empty mask */
	int s = (int)pending_signal;
	(void)sig;
	if (s == 0)
		return;
	dfl.sa_handler = SIG_DFL;
	if (sigaction(s, &dfl, NULL) == 0)
		(void)raise(s); /* (the process ends here) */
	_exit(128 + s);     /* a signal whose default action does not end the process */
}

int usage_signal_pending(void)
{
	return (int)pending_signal;
}

int usage_signals_trapped(void)
{
	return (int)trapped;
}

static const struct {
	const char *name;
	int sig;
} SIGNALS[] = {
	{"INT", SIGINT},
	{"TERM", SIGTERM},
	{"HUP", SIGHUP},
	{"QUIT", SIGQUIT},
	{"USR1", SIGUSR1},
	{"USR2", SIGUSR2},
	{NULL, 0},
};

static int signal_number(const char *name)
{
	if (strncmp(name, "SIG", 3) == 0)
		name += 3;
	for (int i = 0; SIGNALS[i].name; i++)
		if (strcmp(SIGNALS[i].name, name) == 0)
			return SIGNALS[i].sig;
	return 0;
}

static const char *signal_name(int sig)
{
	for (int i = 0; SIGNALS[i].name; i++)
		if (SIGNALS[i].sig == sig)
			return SIGNALS[i].name;
	return "?";
}

static int l_trap_signals(lua_State *L)
{
	luaL_checktype(L, 1, LUA_TTABLE);
	size_t n = usage_rawlen(L, 1);
	for (size_t i = 1; i <= n; i++) {
		lua_rawgeti(L, 1, (lua_Integer)i);
		const char *name = luaL_checkstring(L, -1);
		int sig = signal_number(name);
		if (!sig)
			return luaL_error(L, "core.trap_signals: unknown signal '%s' (INT, TERM, HUP, QUIT, USR1, USR2)", name);
		struct sigaction sa;
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = on_signal;
		sigemptyset(&sa.sa_mask);
		sa.sa_flags = 0; /* no SA_RESTART: a blocking call returns EINTR */
		if (sigaction(sig, &sa, NULL) != 0)
			return luaL_error(L, "core.trap_signals: sigaction(%s): %s", name, strerror(errno));
		trapped = 1;
		lua_pop(L, 1);
	}
	return 0;
}

/* core.pending_signal() -> "INT" | "TERM" | ... | nil, and its number */
static int l_pending_signal(lua_State *L)
{
	int sig = (int)pending_signal;
	if (!sig)
		return 0;
	lua_pushstring(L, signal_name(sig));
	lua_pushinteger(L, sig);
	return 2;
}

static int l_clear_signal(lua_State *L)
{
	(void)L;
	if (deadline > 0)
		alarm(0);
	pending_signal = 0;
	return 0;
}

/* core.signal_deadline(seconds): see the top of this file */
static int l_signal_deadline(lua_State *L)
{
	lua_Integer secs = luaL_checkinteger(L, 1);
	luaL_argcheck(L, secs >= 0 && secs <= 3600, 1, "between 0 and 3600 seconds");
	if (secs > 0) {
		struct sigaction sa;
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = on_deadline;
		sigemptyset(&sa.sa_mask);
		if (sigaction(SIGALRM, &sa, NULL) != 0)
			return luaL_error(L, "core.signal_deadline: sigaction(ALRM): %s", strerror(errno));
	}
	deadline = (sig_atomic_t)secs;
	return 0;
}

static int l_sleep(lua_State *L)
{
	double s = luaL_checknumber(L, 1);
	if (!(s > 0)) {
		lua_pushnumber(L, 0);
		return 1;
	}
	if (s > 86400)
		s = 86400;
	struct timespec ts, left;
	ts.tv_sec = (time_t)s;
	ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
	if (nanosleep(&ts, &left) == 0) {
		lua_pushnumber(L, 0);
		return 1;
	}
	/* EINTR: give the rest back to Lua, which decides (a pending signal, or lua.c's interrupt hook) */
	lua_pushnumber(L, (lua_Number)left.tv_sec + (lua_Number)left.tv_nsec / 1e9);
	return 1;
}

const luaL_Reg usage_signal_functions[] = {
	{"trap_signals", l_trap_signals},
	{"pending_signal", l_pending_signal},
	{"clear_signal", l_clear_signal},
	{"signal_deadline", l_signal_deadline},
	{"sleep", l_sleep},
	{NULL, NULL},
};
