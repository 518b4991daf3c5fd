/* http.h: the session (one libcurl easy handle, kept alive between requests) shared by the
 * blocking path (session:request) and the multi path (multi.c). */
#ifndef USAGE_HTTP_H
#define USAGE_HTTP_H

#include <curl/curl.h>
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
	long timeout_ms, connect_ms; /* the timeouts the handle holds now (0: none, libcurl's default) */
	int closed;
	/* multi bookkeeping */
	struct usage_multi *multi;
	struct usage_session *next, *prev;
	int ref;       /* registry reference that keeps the userdata alive while in a multi */
	int done;      /* a multi transfer finished and its result awaits session:result() */
	CURLcode result;
	char errbuf[CURL_ERROR_SIZE];
} usage_session;

usage_session *usage_check_session(lua_State *L, int idx);
/* Set up the next transfer from the request table at `req`; raises on bad arguments. */
void usage_session_prepare(lua_State *L, usage_session *s, int req);
/* Push `status, headers, body, correlation id, retry-after` or `nil, code, message, nil, nil` for a
 * finished transfer; returns 5. */
int usage_session_push_result(lua_State *L, usage_session *s, CURLcode rc);
/* Push a table of the header fields in buf (lower-case names, repeated fields joined by ", "). */
void usage_push_headers(lua_State *L, const char *buf, size_t len);
int usage_session_new(lua_State *L);
void usage_session_register(lua_State *L);

#endif
