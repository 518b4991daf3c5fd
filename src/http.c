/* http.c: usage.core.session, a libcurl easy handle reused for keep-alive, and session:request,
 * the blocking one-shot call. multi.c drives the same sessions without blocking. */
#include "http.h"
#include "multi.h"
#include "parse.h"
#include "signals.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DEFAULT_MAX_SIZE ((size_t)256 * 1024 * 1024)
#define MAX_HEADER_BYTES ((size_t)256 * 1024)
#define KEEP_BUFFER_BYTES ((size_t)1024 * 1024)

/* ---------- buffers ---------- */

static int buf_append(usage_buf *b, const char *p, size_t n)
{
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 16384;
		while (cap < b->len + n)
			cap *= 2;
		char *d = realloc(b->data, cap);
		if (!d)
			return 0;
		b->data = d;
		b->cap = cap;
	}
	memcpy(b->data + b->len, p, n);
	b->len += n;
	return 1;
}

/* Keep a small buffer for the next transfer; give big ones back. */
static void buf_recycle(usage_buf *b)
{
	b->len = 0;
	if (b->cap > KEEP_BUFFER_BYTES) {
		free(b->data);
		b->data = NULL;
		b->cap = 0;
	}
}

static void buf_free(usage_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

/* ---------- libcurl callbacks ---------- */

static size_t on_body(char *p, size_t size, size_t nmemb, void *ud)
{
	usage_session *s = ud;
	size_t n = size * nmemb;
	if (s->body.len + n > s->max_size) {
		s->too_large = 1;
		return 0;
	}
	if (!buf_append(&s->body, p, n)) {
		s->no_memory = 1;
		return 0;
	}
	return n;
}

/* The value of header field `name` ("name:", lower case) in the line p[0..n), trimmed, as an offset and
 * length into head once the line is appended there; 0 when the line is another field. */
static int note_field(const char *p, size_t n, const char *name, size_t name_len, size_t head_len, size_t *off,
                      size_t *len)
{
	/* the first letter first: most lines are other fields, and then no strncasecmp is needed */
	if (n <= name_len || ((unsigned char)p[0] | 0x20) != (unsigned char)name[0] || strncasecmp(p, name, name_len) != 0)
		return 0;
	size_t a = name_len, b = n;
	while (a < b && (p[a] == ' ' || p[a] == '\t'))
		a++;
	while (b > a && (p[b - 1] == '\r' || p[b - 1] == '\n' || p[b - 1] == ' ' || p[b - 1] == '\t'))
		b--;
	*off = head_len + a;
	*len = b - a;
	return 1;
}

static size_t on_header(char *p, size_t size, size_t nmemb, void *ud)
{
	usage_session *s = ud;
	size_t n = size * nmemb;
	/* a new status line starts a new response (after 100 Continue or a proxy CONNECT) */
	if (n >= 5 && memcmp(p, "HTTP/", 5) == 0) {
		s->head.len = 0;
		s->corr_len = 0;
		s->retry_len = 0;
	}
	if (s->head.len + n > MAX_HEADER_BYTES) {
		s->too_large = 2;
		return 0;
	}
	/* note where the correlation id and Retry-After are, so the answer carries them without a parse
	 * in Lua (a repeated field keeps its first value) */
	static const char CORR[] = "inin-correlation-id:", RETRY[] = "retry-after:";
	if (s->corr_len == 0)
		note_field(p, n, CORR, sizeof CORR - 1, s->head.len, &s->corr_off, &s->corr_len);
	if (s->retry_len == 0)
		note_field(p, n, RETRY, sizeof RETRY - 1, s->head.len, &s->retry_off, &s->retry_len);
	if (!buf_append(&s->head, p, n)) {
		s->no_memory = 1;
		return 0;
	}
	return n;
}

/* With trapped signals (core.trap_signals), a transfer ends as soon as one arrives: libcurl's wait is
 * interrupted (EINTR), it calls this, and a non-zero answer aborts the transfer. */
static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
	(void)ud;
	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	return usage_signal_pending() != 0;
}

/* ---------- checked libcurl calls ----------
 * Every curl_easy_setopt is checked (as Lua-cURLv3 does): the first one libcurl refuses (out of memory for
 * CURLOPT_COPYPOSTFIELDS, an option the loaded libcurl lacks, ...) ends the setup, and the caller answers
 * nil, code, message naming it. Never a raise for it, never a transfer on a half-configured handle. */

static int setup_failed(usage_session *s, const char *call, CURLcode rc)
{
	s->failed_call = call;
	s->failed_rc = rc;
	s->headers_set = 0; /* the next transfer hands its header list over again, whatever it is */
	return 0;
}

#define SETOPT_NAMED(s, opt, name, val)                                                                \
	do {                                                                                           \
		CURLcode rc_ = curl_easy_setopt((s)->easy, opt, val);                                  \
		if (rc_ != CURLE_OK)                                                                   \
			return setup_failed((s), "curl_easy_setopt(" name ")", rc_);                   \
	} while (0)
#define SETOPT(s, opt, val) SETOPT_NAMED(s, opt, #opt, val)

static const char *transport_code(CURLcode rc, int too_large);

int usage_push_curl_failure(lua_State *L, const char *call, CURLcode rc)
{
	lua_pushnil(L);
	lua_pushstring(L, transport_code(rc, 0));
	lua_pushfstring(L, "%s failed: %s", call, curl_easy_strerror(rc));
	return 3;
}

int usage_push_multi_failure(lua_State *L, const char *call, CURLMcode mc)
{
	lua_pushnil(L);
	lua_pushstring(L, mc == CURLM_OUT_OF_MEMORY ? "no_memory" : "transport");
	lua_pushfstring(L, "%s failed: %s", call, curl_multi_strerror(mc));
	return 3;
}

int usage_session_push_failure(lua_State *L, usage_session *s)
{
	return usage_push_curl_failure(L, s->failed_call ? s->failed_call : "libcurl", s->failed_rc);
}

/* the session can take no transfer: curl_multi_remove_handle failed on it (see http.h) */
static void push_broken_message(lua_State *L, usage_session *s)
{
	lua_pushfstring(L, "this session cannot be used again: curl_multi_remove_handle failed: %s",
	                curl_multi_strerror(s->broken));
}

static int push_broken(lua_State *L, usage_session *s)
{
	lua_pushnil(L);
	lua_pushstring(L, s->broken == CURLM_OUT_OF_MEMORY ? "no_memory" : "transport");
	push_broken_message(L, s);
	return 3;
}

/* The protocols option is chosen by the libcurl loaded at run time, not by the headers built against:
 * CURLOPT_PROTOCOLS_STR from 7.85.0 on, CURLOPT_PROTOCOLS (deprecated since) before. */
#if LIBCURL_VERSION_NUM >= 0x075500
#  define USAGE_OPT_PROTOCOLS_STR CURLOPT_PROTOCOLS_STR
#else
#  define USAGE_OPT_PROTOCOLS_STR ((CURLoption)(CURLOPTTYPE_OBJECTPOINT + 318))
#endif

static int set_protocols(usage_session *s)
{
	const curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);
	if (v && v->version_num >= 0x075500) {
		SETOPT_NAMED(s, USAGE_OPT_PROTOCOLS_STR, "CURLOPT_PROTOCOLS_STR", "http,https");
	} else {
#if defined(__GNUC__)
#  pragma GCC diagnostic push
#  pragma GCC diagnostic ignored "-Wdeprecated-declarations"
#endif
		SETOPT(s, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#if defined(__GNUC__)
#  pragma GCC diagnostic pop
#endif
	}
	return 1;
}

/* ---------- session lifecycle ---------- */

usage_session *usage_check_session(lua_State *L, int idx)
{
	usage_session *s = luaL_checkudata(L, idx, USAGE_SESSION_MT);
	if (s->closed)
		luaL_argerror(L, idx, "session is closed");
	return s;
}

static void session_close(lua_State *L, usage_session *s)
{
	if (s->closed)
		return;
	if (s->multi)
		usage_multi_detach(L, s);
	s->closed = 1;
	if (s->easy)
		curl_easy_cleanup(s->easy);
	s->easy = NULL;
	curl_slist_free_all(s->headers);
	s->headers = NULL;
	buf_free(&s->body);
	buf_free(&s->head);
}

static int l_session_close(lua_State *L)
{
	usage_session *s = luaL_checkudata(L, 1, USAGE_SESSION_MT);
	session_close(L, s);
	return 0;
}

static int l_session_tostring(lua_State *L)
{
	usage_session *s = luaL_checkudata(L, 1, USAGE_SESSION_MT);
	lua_pushfstring(L, "usage.core.session (%s%p)", s->closed ? "closed, " : "", (void *)s);
	return 1;
}

static const char *opt_string(lua_State *L, int t, const char *key)
{
	const char *v = NULL;
	lua_getfield(L, t, key);
	if (!lua_isnil(L, -1)) {
		if (lua_type(L, -1) != LUA_TSTRING)
			luaL_error(L, "option '%s' must be a string", key);
		v = lua_tostring(L, -1);
	}
	lua_pop(L, 1);
	return v;
}

static int opt_bool(lua_State *L, int t, const char *key, int dflt)
{
	int v = dflt;
	lua_getfield(L, t, key);
	if (!lua_isnil(L, -1)) {
		if (lua_type(L, -1) != LUA_TBOOLEAN)
			luaL_error(L, "option '%s' must be a boolean", key);
		v = lua_toboolean(L, -1);
	}
	lua_pop(L, 1);
	return v;
}

static double opt_number(lua_State *L, int t, const char *key, double dflt, double min)
{
	double v = dflt;
	lua_getfield(L, t, key);
	if (!lua_isnil(L, -1)) {
		if (lua_type(L, -1) != LUA_TNUMBER)
			luaL_error(L, "option '%s' must be a number", key);
		v = lua_tonumber(L, -1);
		if (!(v >= min) || v > 1e12)
			luaL_error(L, "option '%s' is out of range", key);
	}
	lua_pop(L, 1);
	return v;
}

static void check_header_text(lua_State *L, const char *what, const char *s, size_t n)
{
	if (usage_has_crlf(s, n))
		luaL_error(L, "%s contains CR, LF or NUL", what);
}

/* The settings of a new session's handle; 0 when libcurl refused one (s->failed_call). */
static int configure(usage_session *s, const char *ua, const char *proxy, const char *ca_file, int insecure,
                     int http2, int no_env_proxy)
{
	SETOPT(s, CURLOPT_NOSIGNAL, 1L);
	SETOPT(s, CURLOPT_PRIVATE, (void *)s);
	SETOPT(s, CURLOPT_ERRORBUFFER, s->errbuf);
	SETOPT(s, CURLOPT_WRITEFUNCTION, on_body);
	SETOPT(s, CURLOPT_WRITEDATA, (void *)s);
	SETOPT(s, CURLOPT_HEADERFUNCTION, on_header);
	SETOPT(s, CURLOPT_HEADERDATA, (void *)s);
	SETOPT(s, CURLOPT_ACCEPT_ENCODING, ""); /* every encoding libcurl supports */
	SETOPT(s, CURLOPT_TCP_KEEPALIVE, 1L);
	SETOPT(s, CURLOPT_FOLLOWLOCATION, 0L);
	if (!set_protocols(s))
		return 0;
	if (http2)
		SETOPT(s, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
	if (ua)
		SETOPT(s, CURLOPT_USERAGENT, ua);
	if (proxy)
		SETOPT(s, CURLOPT_PROXY, proxy);
	else if (no_env_proxy) /* "": no proxy at all, not even one from http_proxy/ALL_PROXY */
		SETOPT(s, CURLOPT_PROXY, "");
	if (ca_file)
		SETOPT(s, CURLOPT_CAINFO, ca_file);
	SETOPT(s, CURLOPT_SSL_VERIFYPEER, insecure ? 0L : 1L);
	SETOPT(s, CURLOPT_SSL_VERIFYHOST, insecure ? 0L : 2L);
	return 1;
}

/* core.session{ user_agent=, proxy=, no_env_proxy=false, ca_file=, insecure=false, http2=true }: what must
 * not mix between clients (TLS, proxy, CA, user agent). Per-request settings come with each request.
 * -> session | nil, code, message (libcurl could not create or set up the handle: no_memory, transport) */
int usage_session_new(lua_State *L)
{
	lua_settop(L, 1);
	if (lua_isnil(L, 1)) {
		lua_newtable(L);
		lua_replace(L, 1);
	}
	luaL_checktype(L, 1, LUA_TTABLE);
	const char *ua = opt_string(L, 1, "user_agent");
	const char *proxy = opt_string(L, 1, "proxy");
	const char *ca_file = opt_string(L, 1, "ca_file");
	int insecure = opt_bool(L, 1, "insecure", 0);
	int http2 = opt_bool(L, 1, "http2", 1);
	int no_env_proxy = opt_bool(L, 1, "no_env_proxy", 0);
	if (ua)
		check_header_text(L, "user_agent", ua, strlen(ua));

	usage_session *s = lua_newuserdata(L, sizeof *s);
	memset(s, 0, sizeof *s);
	s->ref = LUA_NOREF;
	s->closed = 1; /* until the handle exists, so __gc has nothing to do */
	luaL_setmetatable(L, USAGE_SESSION_MT);
	s->easy = curl_easy_init();
	if (!s->easy) {
		lua_pushnil(L);
		lua_pushliteral(L, "no_memory");
		lua_pushliteral(L, "curl_easy_init failed");
		return 3;
	}
	s->closed = 0;
	s->timeout_ms = s->connect_ms = 0; /* as after curl_easy_init */

	if (!configure(s, ua, proxy, ca_file, insecure, http2, no_env_proxy)) {
		usage_session_push_failure(L, s);
		session_close(L, s); /* never a half-configured handle */
		return 3;
	}
	return 1;
}

/* ---------- one transfer ---------- */

static int valid_header_name(const char *s, size_t n)
{
	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= 32 || c >= 127 || c == ':')
			return 0;
	}
	return 1;
}

/* Append "name: value" (or "name;" for an empty value, which libcurl sends as an empty header). */
static struct curl_slist *append_header(struct curl_slist *list, const char *name, size_t nn, const char *value,
                                        size_t vn, int *ok)
{
	char stack[512];
	size_t need = nn + 2 + vn + 1;
	char *line = need <= sizeof stack ? stack : malloc(need);
	struct curl_slist *n = NULL;
	if (line) {
		memcpy(line, name, nn);
		if (vn) {
			memcpy(line + nn, ": ", 2);
			memcpy(line + nn + 2, value, vn);
			line[nn + 2 + vn] = '\0';
		} else {
			line[nn] = ';';
			line[nn + 1] = '\0';
		}
		n = curl_slist_append(list, line);
		if (line != stack)
			free(line);
	}
	*ok = n != NULL;
	return n ? n : list;
}

static struct curl_slist *build_headers(lua_State *L, int req, int with_body)
{
	struct curl_slist *list = NULL;
	int ok = 1;
	lua_getfield(L, req, "headers");
	if (!lua_isnil(L, -1)) {
		if (!lua_istable(L, -1))
			luaL_error(L, "request 'headers' must be a table");
		int t = lua_gettop(L);
		lua_pushnil(L);
		while (lua_next(L, t)) {
			size_t nn, vn;
			if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING) {
				curl_slist_free_all(list);
				luaL_error(L, "request headers must map names to strings");
			}
			const char *name = lua_tolstring(L, -2, &nn);
			const char *value = lua_tolstring(L, -1, &vn);
			if (!valid_header_name(name, nn) || usage_has_crlf(value, vn)) {
				curl_slist_free_all(list);
				luaL_error(L, "invalid request header (bad name, or CR/LF/NUL in the value)");
			}
			list = append_header(list, name, nn, value, vn, &ok);
			lua_pop(L, 1); /* the value */
			if (!ok) {
				curl_slist_free_all(list);
				luaL_error(L, "out of memory");
			}
		}
	}
	lua_pop(L, 1);
	if (with_body) {
		/* "Expect:" removes libcurl's own "Expect: 100-continue": no extra round trip for bodies
		 * (each custom header costs libcurl some work on every request: only when it matters) */
		struct curl_slist *n = curl_slist_append(list, "Expect:");
		ok = n != NULL;
		list = n ? n : list;
		if (!ok) {
			curl_slist_free_all(list);
			luaL_error(L, "out of memory");
		}
	}
	return list;
}

/* Is `line` the header line append_header makes of name and value? (compared on their exact lengths: a
 * name or value holding a NUL never matches) */
static int same_line(const char *line, const char *name, size_t nn, const char *value, size_t vn)
{
	size_t len = strlen(line);
	if (vn == 0)
		return len == nn + 1 && memcmp(line, name, nn) == 0 && line[nn] == ';';
	return len == nn + 2 + vn && memcmp(line, name, nn) == 0 && line[nn] == ':' && line[nn + 1] == ' ' &&
	       memcmp(line + nn + 2, value, vn) == 0;
}

/* Would build_headers make exactly `list` (the handle's list of the last transfer) of this request? Then
 * the list is kept: most requests send the headers of the one before (no allocation, no libcurl call).
 * Anything unusual (a value that is not a string, a different count or order) answers 0, and
 * build_headers checks and builds as always. A valid name whose line equals one of the list has a value
 * that was checked when that line was made (no CR, LF or NUL). */
static int same_headers(lua_State *L, int req, int with_body, const struct curl_slist *list)
{
	int same = 1;
	lua_getfield(L, req, "headers");
	if (lua_type(L, -1) == LUA_TTABLE) {
		int t = lua_gettop(L);
		lua_pushnil(L);
		while (lua_next(L, t)) {
			size_t nn, vn;
			if (same && (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING || !list))
				same = 0;
			if (same) {
				const char *name = lua_tolstring(L, -2, &nn);
				const char *value = lua_tolstring(L, -1, &vn);
				same = valid_header_name(name, nn) && same_line(list->data, name, nn, value, vn);
				list = list->next;
			}
			lua_pop(L, 1);
		}
	} else if (!lua_isnil(L, -1)) {
		same = 0;
	}
	lua_pop(L, 1);
	if (same && with_body) {
		same = list && strcmp(list->data, "Expect:") == 0;
		list = list ? list->next : NULL;
	}
	return same && list == NULL;
}

/* Seconds as the milliseconds of a libcurl timeout: a positive timeout never becomes 0 (no timeout at all),
 * and it saturates at what a long holds (24.8 days with a 32-bit long: no timeout in practice). */
static long timeout_ms_of(double seconds)
{
	if (!(seconds > 0))
		return 0;
	long ms = (long)usage_to_bounded(seconds * 1000.0, (uintmax_t)USAGE_LONG_LIMIT);
	return ms > 0 ? ms : 1;
}

/* The per-transfer options, each checked; 0 at the first one libcurl refuses. */
static int set_transfer(usage_session *s, const char *url, const char *method, const char *body, size_t body_len,
                        long timeout_ms, long connect_ms, struct curl_slist *headers)
{
	/* the new header list first: the handle must never point at the old one once it is freed (the list the
	 * handle holds already, after a setup that did not fail: nothing to change) */
	if (headers != s->headers || !s->headers_set) {
		s->headers_set = 0;
		SETOPT(s, CURLOPT_HTTPHEADER, headers);
		if (headers != s->headers) {
			curl_slist_free_all(s->headers);
			s->headers = headers;
		}
		s->headers_set = 1;
	}
	SETOPT(s, CURLOPT_URL, url);
	int plain_get = strcmp(method, "GET") == 0 && !body;
	if (!plain_get || !s->plain_get) { /* a plain GET after another one needs no change */
		s->plain_get = 0;         /* until every method option below is set */
		SETOPT(s, CURLOPT_NOBODY, 0L);
		SETOPT(s, CURLOPT_CUSTOMREQUEST, (char *)NULL);
		if (plain_get) {
			SETOPT(s, CURLOPT_HTTPGET, 1L);
		} else if (strcmp(method, "HEAD") == 0) {
			SETOPT(s, CURLOPT_NOBODY, 1L);
		} else {
			SETOPT(s, CURLOPT_POST, 1L);
			SETOPT(s, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
			SETOPT(s, CURLOPT_COPYPOSTFIELDS, body ? body : "");
			if (strcmp(method, "POST") != 0)
				SETOPT(s, CURLOPT_CUSTOMREQUEST, method);
		}
	}
	s->plain_get = plain_get;
	if (timeout_ms != s->timeout_ms) { /* setting a timeout costs libcurl some work: only on change */
		s->timeout_ms = -1;
		SETOPT(s, CURLOPT_TIMEOUT_MS, timeout_ms);
		s->timeout_ms = timeout_ms;
	}
	if (connect_ms != s->connect_ms) {
		s->connect_ms = -1;
		SETOPT(s, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
		s->connect_ms = connect_ms;
	}
	if (!s->watch_signals && usage_signals_trapped()) {
		SETOPT(s, CURLOPT_XFERINFOFUNCTION, on_progress);
		SETOPT(s, CURLOPT_NOPROGRESS, 0L);
		s->watch_signals = 1;
	}
	return 1;
}

int usage_session_prepare(lua_State *L, usage_session *s, int req)
{
	luaL_checktype(L, req, LUA_TTABLE);
	size_t url_len, body_len = 0;

	/* every argument is checked (and may raise) before the handle is touched */
	lua_getfield(L, req, "url");
	if (lua_type(L, -1) != LUA_TSTRING)
		luaL_error(L, "request 'url' must be a string");
	const char *url = lua_tolstring(L, -1, &url_len);
	if (usage_has_crlf(url, url_len) || memchr(url, ' ', url_len))
		luaL_error(L, "request 'url' contains a space, CR, LF or NUL");
	lua_pop(L, 1); /* the request table keeps the string alive; libcurl copies it anyway */

	const char *method = opt_string(L, req, "method");
	if (!method)
		method = "GET";
	for (const char *m = method; *m; m++)
		if (!isupper((unsigned char)*m))
			luaL_error(L, "request 'method' must be an upper-case HTTP method");

	lua_getfield(L, req, "body");
	const char *body = NULL;
	if (!lua_isnil(L, -1)) {
		if (lua_type(L, -1) != LUA_TSTRING)
			luaL_error(L, "request 'body' must be a string");
		body = lua_tolstring(L, -1, &body_len);
	}
	double timeout = opt_number(L, req, "timeout", 0, 0);
	double connect_timeout = opt_number(L, req, "connect_timeout", 0, 0);
	double max_size = opt_number(L, req, "max_size", (double)DEFAULT_MAX_SIZE, 1);
	int raw_headers = opt_bool(L, req, "raw_headers", 0);
	struct curl_slist *headers = s->headers && same_headers(L, req, body != NULL, s->headers)
	                                     ? s->headers
	                                     : build_headers(L, req, body != NULL);

	s->failed_call = NULL;
	int ok = set_transfer(s, url, method, body, body_len, timeout_ms_of(timeout), timeout_ms_of(connect_timeout),
	                      headers);
	lua_pop(L, 1); /* body: libcurl copied it (CURLOPT_COPYPOSTFIELDS) */
	if (!ok) {
		if (s->headers != headers) /* not handed to the handle */
			curl_slist_free_all(headers);
		return 0;
	}
	s->max_size = (size_t)usage_to_bounded(max_size, (uintmax_t)USAGE_SIZE_LIMIT);
	s->too_large = 0;
	s->no_memory = 0;
	s->raw_headers = raw_headers;
	s->body.len = 0;
	s->head.len = 0;
	s->corr_len = 0;
	s->retry_len = 0;
	s->errbuf[0] = '\0';
	return 1;
}

/* ---------- results ---------- */

static const char *transport_code(CURLcode rc, int too_large)
{
	if (too_large)
		return "too_large";
	switch (rc) {
	case CURLE_ABORTED_BY_CALLBACK:
		return "interrupted";
	case CURLE_OPERATION_TIMEDOUT:
		return "timeout";
	case CURLE_COULDNT_CONNECT:
		return "connect";
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return "dns";
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_ENGINE_NOTFOUND:
	case CURLE_SSL_ENGINE_SETFAILED:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_USE_SSL_FAILED:
		return "tls";
	case CURLE_PARTIAL_FILE:
		return "truncated";
	case CURLE_GOT_NOTHING:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return "connection";
	case CURLE_BAD_CONTENT_ENCODING:
		return "bad_encoding";
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
		return "bad_url";
	case CURLE_OUT_OF_MEMORY:
		return "no_memory";
	default:
		return "transport";
	}
}

static void push_lower(lua_State *L, const char *s, size_t n)
{
	char tmp[128];
	luaL_Buffer b;
	if (n <= sizeof tmp) {
		for (size_t i = 0; i < n; i++)
			tmp[i] = (char)tolower((unsigned char)s[i]);
		lua_pushlstring(L, tmp, n);
		return;
	}
	luaL_buffinit(L, &b);
	for (size_t i = 0; i < n; i++)
		luaL_addchar(&b, (char)tolower((unsigned char)s[i]));
	luaL_pushresult(&b);
}

/* A value without CR/LF: each folded line break, with the blanks around it, becomes one space. */
static void push_value(lua_State *L, const char *s, size_t n)
{
	if (!memchr(s, '\n', n) && !memchr(s, '\r', n)) {
		lua_pushlstring(L, s, n);
		return;
	}
	luaL_Buffer b;
	luaL_buffinit(L, &b);
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\r' || s[i] == '\n') {
			while (i + 1 < n && (s[i + 1] == '\r' || s[i + 1] == '\n' || s[i + 1] == ' ' || s[i + 1] == '\t'))
				i++;
			luaL_addchar(&b, ' ');
			continue;
		}
		luaL_addchar(&b, s[i]);
	}
	luaL_pushresult(&b);
}

void usage_push_headers(lua_State *L, const char *buf, size_t len)
{
	usage_header_field f;
	size_t pos = 0;
	lua_createtable(L, 0, 16); /* room for a typical answer's fields: no rehash while filling */
	int t = lua_gettop(L);
	while (usage_header_next(buf, len, &pos, &f)) {
		push_lower(L, f.name, f.name_len);
		lua_pushvalue(L, -1);
		lua_rawget(L, t);
		if (lua_isnil(L, -1)) {
			lua_pop(L, 1);
			push_value(L, f.value, f.value_len);
		} else { /* repeated field: join with ", " */
			lua_pushliteral(L, ", ");
			push_value(L, f.value, f.value_len);
			lua_concat(L, 3);
		}
		lua_rawset(L, t);
	}
}

int usage_session_push_result(lua_State *L, usage_session *s, CURLcode rc)
{
	if (rc != CURLE_OK || s->too_large) {
		/* libcurl refuses a header line over its own limit (CURL_MAX_HTTP_HEADER, 100 KB) with
		 * "out of memory"; our buffers say when memory really ran out */
		int header_limit = rc == CURLE_OUT_OF_MEMORY && !s->no_memory && !s->too_large;
		lua_pushnil(L);
		lua_pushstring(L, header_limit ? "too_large" : transport_code(rc, s->too_large));
		if (s->too_large == 1)
			lua_pushfstring(L, "response larger than the %d byte limit", (int)(s->max_size > 0x7fffffff ? 0x7fffffff : s->max_size));
		else if (s->too_large == 2)
			lua_pushfstring(L, "response headers larger than the %d byte limit", (int)MAX_HEADER_BYTES);
		else if (header_limit)
			lua_pushfstring(L, "a response header line is larger than libcurl accepts (%s)",
			                s->errbuf[0] ? s->errbuf : curl_easy_strerror(rc));
		else if (rc == CURLE_ABORTED_BY_CALLBACK)
			lua_pushliteral(L, "interrupted by a signal");
		else
			lua_pushstring(L, s->errbuf[0] ? s->errbuf : curl_easy_strerror(rc));
		lua_pushnil(L);
		lua_pushnil(L);
	} else {
		long status = 0;
		CURLcode irc = curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status);
		if (irc != CURLE_OK) {
			usage_push_curl_failure(L, "curl_easy_getinfo(CURLINFO_RESPONSE_CODE)", irc);
			lua_pushnil(L);
			lua_pushnil(L);
			buf_recycle(&s->body);
			buf_recycle(&s->head);
			return 5;
		}
		lua_pushinteger(L, (lua_Integer)status);
		if (s->raw_headers)
			lua_pushlstring(L, s->head.data ? s->head.data : "", s->head.len);
		else
			usage_push_headers(L, s->head.data, s->head.len);
		lua_pushlstring(L, s->body.data ? s->body.data : "", s->body.len);
		if (s->corr_len)
			lua_pushlstring(L, s->head.data + s->corr_off, s->corr_len);
		else
			lua_pushnil(L);
		if (s->retry_len)
			lua_pushlstring(L, s->head.data + s->retry_off, s->retry_len);
		else
			lua_pushnil(L);
	}
	buf_recycle(&s->body);
	buf_recycle(&s->head);
	return 5;
}

/* session:request{ method=, url=, headers={}, body=, timeout=, connect_timeout=, max_size=, raw_headers= }
 * -> status, headers (a table; the raw header block when raw_headers), body, correlation id, retry-after
 *  | nil, code, message */
static int l_session_request(lua_State *L)
{
	usage_session *s = usage_check_session(L, 1);
	if (s->multi)
		return luaL_error(L, "session is busy in a multi transfer");
	if (s->broken)
		return push_broken(L, s);
	if (!usage_session_prepare(L, s, 2))
		return usage_session_push_failure(L, s);
	CURLcode rc = curl_easy_perform(s->easy);
	return usage_session_push_result(L, s, rc);
}

/* session:result(): the outcome of the multi transfer that finished on this session. */
static int l_session_result(lua_State *L)
{
	usage_session *s = usage_check_session(L, 1);
	if (!s->done)
		return luaL_error(L, "session has no finished transfer");
	s->done = 0;
	return usage_session_push_result(L, s, s->result);
}

static int l_session_busy(lua_State *L)
{
	usage_session *s = luaL_checkudata(L, 1, USAGE_SESSION_MT);
	lua_pushboolean(L, s->multi != NULL);
	return 1;
}

/* session:usable() -> true | false, message: whether the session can take transfers (not closed, not
 * broken by a failed curl_multi_remove_handle); a pool drops the ones that cannot. */
static int l_session_usable(lua_State *L)
{
	usage_session *s = luaL_checkudata(L, 1, USAGE_SESSION_MT);
	if (s->closed) {
		lua_pushboolean(L, 0);
		lua_pushliteral(L, "session is closed");
		return 2;
	}
	if (s->broken) {
		lua_pushboolean(L, 0);
		push_broken_message(L, s);
		return 2;
	}
	lua_pushboolean(L, 1);
	return 1;
}

/* Push `nil, code, message` and return 3 when the session cannot take a transfer (multi.c, before add). */
int usage_session_refuse(lua_State *L, usage_session *s)
{
	return s->broken ? push_broken(L, s) : 0;
}

void usage_session_register(lua_State *L)
{
	static const luaL_Reg methods[] = {
		{"request", l_session_request},
		{"result", l_session_result},
		{"busy", l_session_busy},
		{"usable", l_session_usable},
		{"close", l_session_close},
		{"__gc", l_session_close},
#if LUA_VERSION_NUM >= 504
		{"__close", l_session_close},
#endif
		{"__tostring", l_session_tostring},
		{NULL, NULL},
	};
	usage_newclass(L, USAGE_SESSION_MT, methods);
}
