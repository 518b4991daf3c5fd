/* url.c: core.parse_url and core.resolve_url over libcurl's URL API.
 *
 * core.parse_url(url [, any_scheme]) -> { url =, scheme =, host =, port =, path =, query =, fragment =,
 *   user =, password =, origin = "scheme://host:port", loopback = bool } | nil, message
 *   url is libcurl's normalized spelling (e.g. http://127.1 -> http://127.0.0.1/); host is what libcurl
 *   connects to (IPv6 in brackets); port is the explicit or default port. Only http and https are
 *   accepted unless any_scheme (proxies: socks5h://, ...), and then a URL without a scheme takes http://.
 * core.resolve_url(base, reference) -> absolute normalized URL | nil, message (RFC 3986 resolution, as
 *   libcurl does for redirects). */
#include "url.h"

#include <curl/curl.h>
#include <arpa/inet.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *url_error(CURLUcode rc)
{
#if LIBCURL_VERSION_NUM >= 0x075000
	return curl_url_strerror(rc);
#else
	(void)rc;
	return "malformed URL";
#endif
}

int usage_is_loopback(const char *host)
{
	if (!host || !*host)
		return 0;
	if (strcasecmp(host, "localhost") == 0)
		return 1;
	struct in_addr a4;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	size_t n = strlen(host);
	if (n > 2 && host[0] == '[' && host[n - 1] == ']' && n - 2 < 64) {
		char buf[64];
		memcpy(buf, host + 1, n - 2);
		buf[n - 2] = '\0';
		char *zone = strchr(buf, '%'); /* a zone id names an interface, not an address */
		if (zone)
			*zone = '\0';
		struct in6_addr a6;
		if (inet_pton(AF_INET6, buf, &a6) != 1)
			return 0;
		static const unsigned char one[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
		if (memcmp(a6.s6_addr, one, 16) == 0)
			return 1;
		/* ::ffff:127.x.y.z, an IPv4-mapped loopback address */
		static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
		return memcmp(a6.s6_addr, mapped, 12) == 0 && a6.s6_addr[12] == 127;
	}
	return 0;
}

/* A part of the URL: CURLUE_OK with it, one of the CURLUE_NO_* codes when the URL has no such part
 * (*v stays NULL), or the failure of the call (out of memory, ...). */
static CURLUcode get_part(CURLU *u, CURLUPart part, char **v, unsigned flags)
{
	*v = NULL;
	CURLUcode rc = curl_url_get(u, part, v, flags);
	switch (rc) {
	case CURLUE_NO_SCHEME:
	case CURLUE_NO_USER:
	case CURLUE_NO_PASSWORD:
	case CURLUE_NO_OPTIONS:
	case CURLUE_NO_HOST:
	case CURLUE_NO_PORT:
	case CURLUE_NO_QUERY:
	case CURLUE_NO_FRAGMENT:
		curl_free(*v);
		*v = NULL;
		return CURLUE_OK;
	default:
		return rc;
	}
}

/* t[key] = the part, when there is one; the code of a failed call otherwise */
static CURLUcode set_part(lua_State *L, CURLU *u, CURLUPart part, const char *key, unsigned flags)
{
	char *v;
	CURLUcode rc = get_part(u, part, &v, flags);
	if (rc == CURLUE_OK && v) {
		lua_pushstring(L, v);
		lua_setfield(L, -2, key);
	}
	curl_free(v);
	return rc;
}

/* Push the table of u's parts; CURLUE_OK, or the code of the first curl_url_get that failed (then
 * nothing is pushed). */
static CURLUcode push_parsed(lua_State *L, CURLU *u)
{
	static const struct {
		CURLUPart part;
		const char *key;
	} PARTS[] = {
		{CURLUPART_URL, "url"},
		{CURLUPART_PATH, "path"},
		{CURLUPART_QUERY, "query"},
		{CURLUPART_FRAGMENT, "fragment"},
		{CURLUPART_USER, "user"},
		{CURLUPART_PASSWORD, "password"},
	};
	char *scheme = NULL, *host = NULL, *port = NULL;
	CURLUcode rc;
	lua_newtable(L);
	for (size_t i = 0; i < sizeof PARTS / sizeof PARTS[0]; i++) {
		rc = set_part(L, u, PARTS[i].part, PARTS[i].key, 0);
		if (rc != CURLUE_OK) {
			lua_pop(L, 1);
			return rc;
		}
	}
	if ((rc = get_part(u, CURLUPART_SCHEME, &scheme, 0)) != CURLUE_OK ||
	    (rc = get_part(u, CURLUPART_HOST, &host, 0)) != CURLUE_OK ||
	    (rc = get_part(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT)) != CURLUE_OK) {
		curl_free(scheme);
		curl_free(host);
		curl_free(port);
		lua_pop(L, 1);
		return rc;
	}
	if (scheme) {
		for (char *c = scheme; *c; c++)
			*c = (char)tolower((unsigned char)*c);
		lua_pushstring(L, scheme);
		lua_setfield(L, -2, "scheme");
	}
	if (host) {
		lua_pushstring(L, host);
		lua_setfield(L, -2, "host");
	}
	if (port) {
		lua_pushinteger(L, (lua_Integer)strtol(port, NULL, 10));
		lua_setfield(L, -2, "port");
	}
	lua_pushboolean(L, usage_is_loopback(host));
	lua_setfield(L, -2, "loopback");
	if (scheme && host && port) {
		for (char *c = host; *c; c++) /* host names compare without case */
			*c = (char)tolower((unsigned char)*c);
		lua_pushfstring(L, "%s://%s:%s", scheme, host, port);
		lua_setfield(L, -2, "origin");
	}
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	return CURLUE_OK;
}

static int fail(lua_State *L, CURLU *u, const char *what, CURLUcode rc)
{
	curl_url_cleanup(u);
	lua_pushnil(L);
	lua_pushfstring(L, "%s: %s", what, url_error(rc));
	return 2;
}

/* CURLUE_OK with *ok: whether the scheme is http or https; else the code of the failed call */
static CURLUcode scheme_ok(CURLU *u, int *ok)
{
	char *scheme;
	CURLUcode rc = get_part(u, CURLUPART_SCHEME, &scheme, 0);
	*ok = rc == CURLUE_OK && scheme && (strcasecmp(scheme, "http") == 0 || strcasecmp(scheme, "https") == 0);
	curl_free(scheme);
	return rc;
}

/* the string argument at idx, or NULL (with nil, message pushed) when it holds a NUL byte */
static const char *url_arg(lua_State *L, int idx)
{
	size_t n;
	const char *s = luaL_checklstring(L, idx, &n);
	if (strlen(s) == n)
		return s;
	lua_pushnil(L);
	lua_pushliteral(L, "the URL contains a NUL byte");
	return NULL;
}

/* a new URL handle, or NULL with nil, message pushed */
static CURLU *new_url(lua_State *L)
{
	CURLU *u = curl_url();
	if (!u) {
		lua_pushnil(L);
		lua_pushliteral(L, "curl_url failed: out of memory");
	}
	return u;
}

static int l_parse_url(lua_State *L)
{
	const char *s = url_arg(L, 1);
	if (!s)
		return 2;
	int any_scheme = lua_toboolean(L, 2);
	CURLU *u = new_url(L);
	if (!u)
		return 2;
	unsigned flags = any_scheme ? (CURLU_NON_SUPPORT_SCHEME | CURLU_GUESS_SCHEME) : 0;
	CURLUcode rc = curl_url_set(u, CURLUPART_URL, s, flags);
	if (rc != CURLUE_OK)
		return fail(L, u, "not a valid URL", rc);
	if (any_scheme && !strstr(s, "://")) { /* libcurl's proxies default to http:// */
		rc = curl_url_set(u, CURLUPART_SCHEME, "http", 0);
		if (rc != CURLUE_OK)
			return fail(L, u, "not a valid URL", rc);
	}
	/* libcurl decodes a %-encoded host and normalizes a numeric one in separate passes (http://%33333333/
	 * -> http://3333333/ -> http://0.50.220.213/): parse the normalized form again until it is stable, so
	 * the host checked is the address libcurl ends up with */
	for (int pass = 0;; pass++) {
		char *now = NULL, *again = NULL;
		rc = curl_url_get(u, CURLUPART_URL, &now, 0);
		if (rc != CURLUE_OK) {
			curl_free(now);
			return fail(L, u, "not a valid URL", rc);
		}
		rc = curl_url_set(u, CURLUPART_URL, now, flags);
		if (rc == CURLUE_OK)
			rc = curl_url_get(u, CURLUPART_URL, &again, 0);
		int stable = rc == CURLUE_OK && strcmp(now, again) == 0;
		curl_free(now);
		curl_free(again);
		if (rc != CURLUE_OK)
			return fail(L, u, "not a valid URL", rc);
		if (stable)
			break;
		if (pass == 3)
			return fail(L, u, "not a valid URL (its spelling does not settle)", CURLUE_MALFORMED_INPUT);
	}
	int http = 1;
	if (!any_scheme && (rc = scheme_ok(u, &http)) != CURLUE_OK)
		return fail(L, u, "not a valid URL", rc);
	if (!http) {
		curl_url_cleanup(u);
		lua_pushnil(L);
		lua_pushliteral(L, "only http and https URLs are supported");
		return 2;
	}
	rc = push_parsed(L, u);
	if (rc != CURLUE_OK)
		return fail(L, u, "not a valid URL", rc);
	curl_url_cleanup(u);
	return 1;
}

static int l_resolve_url(lua_State *L)
{
	const char *base = luaL_checkstring(L, 1);
	const char *ref = url_arg(L, 2);
	if (!ref)
		return 2;
	CURLU *u = new_url(L);
	if (!u)
		return 2;
	CURLUcode rc = curl_url_set(u, CURLUPART_URL, base, 0);
	if (rc != CURLUE_OK)
		return fail(L, u, "bad base URL", rc);
	rc = curl_url_set(u, CURLUPART_URL, ref, 0); /* relative to the base, as a redirect would be */
	if (rc != CURLUE_OK)
		return fail(L, u, "not a valid URL reference", rc);
	int http;
	if ((rc = scheme_ok(u, &http)) != CURLUE_OK)
		return fail(L, u, "not a valid URL", rc);
	if (!http) {
		curl_url_cleanup(u);
		lua_pushnil(L);
		lua_pushliteral(L, "only http and https URLs are supported");
		return 2;
	}
	char *out = NULL;
	rc = curl_url_get(u, CURLUPART_URL, &out, 0);
	if (rc != CURLUE_OK) {
		curl_free(out);
		return fail(L, u, "not a valid URL", rc);
	}
	lua_pushstring(L, out);
	curl_free(out);
	curl_url_cleanup(u);
	return 1;
}

const luaL_Reg usage_url_functions[] = {
	{"parse_url", l_parse_url},
	{"resolve_url", l_resolve_url},
	{NULL, NULL},
};
