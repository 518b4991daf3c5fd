/* http.h: the session (one libcurl easy handle, kept alive between requests) shared by the
 * blocking path (session:request) and the multi path (multi.c). */
#ifndef USAGE_HTTP_H
#define USAGE_HTTP_H

#include <curl/curl.h>
#include <limits.h>
#include <stdint.h>
#include "compat.h"

#define USAGE_SESSION_MT "usage.core.session"

typedef struct {
	char *data;
	size_t len, cap;
} usage_buf;

struct usage_multi;

typedef struct usage_session {
	CURL *easy;
	struct curl_slist *headers; /* request headers of the transfer under way */
	int headers_set;            /* the handle holds `headers` (no setup failed since it was handed over) */
	usage_buf body;             /* response body */
	usage_buf head;             /* raw header block of the last response */
	size_t max_size;            /* cap of this transfer's body */
	int too_large;              /* 1: the body, 2: the headers went over their cap */
	int no_memory;              /* one of our own buffers could not grow */
	int raw_headers;            /* this transfer's answer gives the header block as one string */
	int plain_get;              /* the handle is set for a plain GET (as after curl_easy_init) */
	int watch_signals;          /* the progress callback is on: trapped signals end the transfer */
	size_t corr_off, corr_len;  /* the ININ-Correlation-Id value inside head (corr_len 0: none) */
	size_t retry_off, retry_len; /* the Retry-After value inside head (retry_len 0: none) */
	long timeout_ms, connect_ms; /* the timeouts the handle holds now (0: none, libcurl's default; -1: unknown) */
	int closed;
	/* the libcurl call that failed while setting up a transfer (nil, code, message for the caller) */
	const char *failed_call;    /* e.g. "curl_easy_setopt(CURLOPT_COPYPOSTFIELDS)" */
	CURLcode failed_rc;
	/* curl_multi_remove_handle failed: the easy handle may still belong to its multi, so the session
	 * answers every later request with this failure instead of reusing the handle */
	CURLMcode broken;
	/* multi bookkeeping */
	struct usage_multi *multi;
	struct usage_session *next, *prev;
	int ref;       /* registry reference that keeps the userdata alive while in a multi */
	int done;      /* a multi transfer finished and its result awaits session:result() */
	CURLcode result;
	char errbuf[CURL_ERROR_SIZE];
} usage_session;

usage_session *usage_check_session(lua_State *L, int idx);
/* Set up the next transfer from the request table at `req`; raises on bad arguments. Returns 1, or 0 when
 * libcurl refused a setting (s->failed_call, s->failed_rc; usage_session_push_failure answers it): the
 * next prepare then sets every per-transfer option afresh, so a half-configured handle is never reused. */
int usage_session_prepare(lua_State *L, usage_session *s, int req);
/* Push `nil, code, message` for the failed setup of s; returns 3. */
int usage_session_push_failure(lua_State *L, usage_session *s);
/* For a session that cannot take a transfer (broken): push `nil, code, message` and return 3; else 0. */
int usage_session_refuse(lua_State *L, usage_session *s);
/* Push `nil, code, message` for a libcurl easy or multi call that failed; returns 3. */
int usage_push_curl_failure(lua_State *L, const char *call, CURLcode rc);
int usage_push_multi_failure(lua_State *L, const char *call, CURLMcode mc);
/* Push `status, headers, body, correlation id, retry-after` or `nil, code, message, nil, nil` for a
 * finished transfer; returns 5. */
int usage_session_push_result(lua_State *L, usage_session *s, CURLcode rc);
/* Push a table of the header fields in buf (lower-case names, repeated fields joined by ", "). */
void usage_push_headers(lua_State *L, const char *buf, size_t len);
int usage_session_new(lua_State *L);

/* A double as an integer of at most max, range-checked before the conversion: converting a double outside
 * the target type's range is undefined behaviour in C (1e12 milliseconds into a 32-bit long). NaN and
 * values <= 0 give 0, values >= max give max, fractions are cut. max is a type's maximum (2^k - 1): when
 * (double)max rounds up to 2^k, every double below it still converts exactly into uintmax_t. */
static inline uintmax_t usage_to_bounded(double v, uintmax_t max)
{
	if (!(v > 0))
		return 0;
	if (v >= (double)max)
		return max;
	return (uintmax_t)v;
}

/* The limits the conversions saturate at: the types' own, unless a test build narrows them (the
 * 32-bit-style check of spec/core_limits_spec.lua builds a core with a 32-bit long and size_t). */
#ifndef USAGE_LONG_LIMIT
#  define USAGE_LONG_LIMIT LONG_MAX
#endif
#ifndef USAGE_SIZE_LIMIT
#  define USAGE_SIZE_LIMIT SIZE_MAX
#endif
void usage_session_register(lua_State *L);

#endif
