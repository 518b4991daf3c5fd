/* curlfault.c: an LD_PRELOAD shim that makes chosen libcurl calls of usage.core fail, and logs the options it
 * sets, so spec/curl_fault_spec.lua can check that every failure comes back as `nil, code, message` (never a
 * crash, never a transfer on a half-configured handle) and which protocols option the core picks.
 * Built by `make build` as build/test/curlfault.so; only specs load it:
 *
 *   LD_PRELOAD=build/test/curlfault.so CURLFAULT_SETOPT=CURLOPT_COPYPOSTFIELDS lua5.4 script.lua
 *
 * Environment (each read once):
 *   CURLFAULT_SETOPT=NAME[@N]   the Nth curl_easy_setopt of option NAME (default the 1st; @0: every one) fails
 *                               with CURLFAULT_CODE (a CURLcode, default 27 CURLE_OUT_OF_MEMORY)
 *   CURLFAULT_MULTI=CALL[@N]    the Nth call (default the 1st; @0: every one) of curl_multi_CALL fails with
 *                               CURLM_OUT_OF_MEMORY: init (NULL), add_handle, remove_handle, perform, poll,
 *                               wait, cleanup
 *   CURLFAULT_EASY_INIT=N       the Nth curl_easy_init returns NULL
 *   CURLFAULT_GETINFO=NAME[@N]  the Nth curl_easy_getinfo of NAME (CURLINFO_RESPONSE_CODE, CURLINFO_PRIVATE)
 *                               fails with CURLE_UNKNOWN_OPTION
 *   CURLFAULT_URL=CALL[@N]      the Nth call (default the 1st; @0: every one) of curl_url_CALL fails: get, set
 *                               (CURLUE_OUT_OF_MEMORY), new (curl_url() returns NULL)
 *   CURLFAULT_VERSION=0xXXYYZZ  curl_version_info says the loaded libcurl is that version
 *   CURLFAULT_LOG=PATH          append one line per curl_easy_setopt ("setopt NAME VALUE", VALUE for longs and
 *                               strings only) and per failure injected ("fail WHAT") */
#define _GNU_SOURCE
#define CURL_DISABLE_TYPECHECK
#include <curl/curl.h>

#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OPTION(name) {#name, name},
static const struct {
	const char *name;
	long value;
} OPTIONS[] = {
	OPTION(CURLOPT_NOSIGNAL) OPTION(CURLOPT_PRIVATE) OPTION(CURLOPT_ERRORBUFFER) OPTION(CURLOPT_WRITEFUNCTION)
	OPTION(CURLOPT_WRITEDATA) OPTION(CURLOPT_HEADERFUNCTION) OPTION(CURLOPT_HEADERDATA)
	OPTION(CURLOPT_ACCEPT_ENCODING) OPTION(CURLOPT_TCP_KEEPALIVE) OPTION(CURLOPT_FOLLOWLOCATION)
	{"CURLOPT_PROTOCOLS", 181}, {"CURLOPT_PROTOCOLS_STR", 10318},
	OPTION(CURLOPT_HTTP_VERSION) OPTION(CURLOPT_USERAGENT) OPTION(CURLOPT_PROXY) OPTION(CURLOPT_CAINFO)
	OPTION(CURLOPT_SSL_VERIFYPEER) OPTION(CURLOPT_SSL_VERIFYHOST) OPTION(CURLOPT_URL) OPTION(CURLOPT_NOBODY)
	OPTION(CURLOPT_CUSTOMREQUEST) OPTION(CURLOPT_HTTPGET) OPTION(CURLOPT_POST) OPTION(CURLOPT_POSTFIELDSIZE_LARGE)
	OPTION(CURLOPT_COPYPOSTFIELDS) OPTION(CURLOPT_HTTPHEADER) OPTION(CURLOPT_TIMEOUT_MS)
	OPTION(CURLOPT_CONNECTTIMEOUT_MS) OPTION(CURLOPT_XFERINFOFUNCTION) OPTION(CURLOPT_NOPROGRESS)
	{NULL, 0},
};

static const char *option_name(long opt)
{
	for (int i = 0; OPTIONS[i].name; i++)
		if (OPTIONS[i].value == opt)
			return OPTIONS[i].name;
	return NULL;
}

/* a fault: "NAME[@N]" from the environment */
typedef struct {
	int on;
	char name[64];
	long nth;  /* 0: every call */
	long seen; /* matching calls so far */
} fault;

static void parse_fault(fault *f, const char *var)
{
	const char *v = getenv(var);
	if (!v || !*v)
		return;
	f->on = 1;
	f->nth = 1;
	const char *at = strchr(v, '@');
	size_t n = at ? (size_t)(at - v) : strlen(v);
	if (n >= sizeof f->name)
		n = sizeof f->name - 1;
	memcpy(f->name, v, n);
	f->name[n] = '\0';
	if (at)
		f->nth = strtol(at + 1, NULL, 10);
}

/* whether this call (of `name`) is the one to fail */
static int hit(fault *f, const char *name)
{
	if (!f->on || !name || strcmp(f->name, name) != 0)
		return 0;
	f->seen++;
	return f->nth == 0 || f->seen == f->nth;
}

static fault setopt_fault, multi_fault, getinfo_fault, url_fault;
static long easy_init_nth, easy_init_seen;
static CURLcode setopt_code = CURLE_OUT_OF_MEMORY;
static long fake_version;
static FILE *log_file;

static void init(void)
{
	static int done;
	if (done)
		return;
	done = 1;
	parse_fault(&setopt_fault, "CURLFAULT_SETOPT");
	parse_fault(&multi_fault, "CURLFAULT_MULTI");
	parse_fault(&getinfo_fault, "CURLFAULT_GETINFO");
	parse_fault(&url_fault, "CURLFAULT_URL");
	const char *v = getenv("CURLFAULT_CODE");
	if (v && *v)
		setopt_code = (CURLcode)strtol(v, NULL, 10);
	v = getenv("CURLFAULT_EASY_INIT");
	if (v && *v)
		easy_init_nth = strtol(v, NULL, 10);
	v = getenv("CURLFAULT_VERSION");
	if (v && *v)
		fake_version = strtol(v, NULL, 0);
	v = getenv("CURLFAULT_LOG");
	if (v && *v) {
		log_file = fopen(v, "a");
		if (log_file)
			setvbuf(log_file, NULL, _IOLBF, 0);
	}
}

static void note(const char *fmt, ...)
{
	if (!log_file)
		return;
	va_list ap;
	va_start(ap, fmt);
	vfprintf(log_file, fmt, ap);
	va_end(ap);
	fputc('\n', log_file);
}

static void *real(const char *name)
{
	void *p = dlsym(RTLD_NEXT, name);
	if (!p) {
		fprintf(stderr, "curlfault: no %s to forward to\n", name);
		abort();
	}
	return p;
}

/* ---------- easy ---------- */

CURLcode curl_easy_setopt(CURL *curl, CURLoption option, ...)
{
	static CURLcode (*next)(CURL *, CURLoption, ...);
	init();
	if (!next)
		next = (CURLcode(*)(CURL *, CURLoption, ...))real("curl_easy_setopt");
	va_list ap;
	va_start(ap, option);
	const char *name = option_name((long)option);
	char label[32];
	if (!name) {
		snprintf(label, sizeof label, "option %d", (int)option);
		name = label;
	}
	CURLcode rc;
	/* the argument's type follows from the option's number, as libcurl's own setopt reads it */
	if (option < CURLOPTTYPE_OBJECTPOINT) {
		long v = va_arg(ap, long);
		note("setopt %s %ld", name, v);
		rc = hit(&setopt_fault, name) ? setopt_code : next(curl, option, v);
	} else if (option < CURLOPTTYPE_FUNCTIONPOINT) {
		void *v = va_arg(ap, void *);
		int text = option == CURLOPT_URL || option == CURLOPT_CUSTOMREQUEST || option == CURLOPT_USERAGENT ||
		           option == CURLOPT_PROXY || option == (CURLoption)10318;
		if (text && v)
			note("setopt %s %s", name, (const char *)v);
		else
			note("setopt %s", name);
		rc = hit(&setopt_fault, name) ? setopt_code : next(curl, option, v);
	} else if (option < CURLOPTTYPE_OFF_T) {
		void (*v)(void) = va_arg(ap, void (*)(void));
		note("setopt %s", name);
		rc = hit(&setopt_fault, name) ? setopt_code : next(curl, option, v);
	} else if (option < CURLOPTTYPE_BLOB) {
		curl_off_t v = va_arg(ap, curl_off_t);
		note("setopt %s %lld", name, (long long)v);
		rc = hit(&setopt_fault, name) ? setopt_code : next(curl, option, v);
	} else {
		void *v = va_arg(ap, void *);
		note("setopt %s", name);
		rc = hit(&setopt_fault, name) ? setopt_code : next(curl, option, v);
	}
	va_end(ap);
	if (rc != CURLE_OK)
		note("result %s %d", name, (int)rc);
	return rc;
}

CURL *curl_easy_init(void)
{
	static CURL *(*next)(void);
	init();
	if (!next)
		next = (CURL * (*)(void)) real("curl_easy_init");
	if (easy_init_nth && ++easy_init_seen == easy_init_nth) {
		note("fail curl_easy_init");
		return NULL;
	}
	return next();
}

CURLcode curl_easy_getinfo(CURL *curl, CURLINFO info, ...)
{
	static CURLcode (*next)(CURL *, CURLINFO, ...);
	init();
	if (!next)
		next = (CURLcode(*)(CURL *, CURLINFO, ...))real("curl_easy_getinfo");
	va_list ap;
	va_start(ap, info);
	void *out = va_arg(ap, void *);
	va_end(ap);
	const char *name = info == CURLINFO_RESPONSE_CODE ? "CURLINFO_RESPONSE_CODE"
	                   : info == CURLINFO_PRIVATE     ? "CURLINFO_PRIVATE"
	                                                  : "other";
	if (hit(&getinfo_fault, name)) {
		note("fail curl_easy_getinfo %s", name);
		return CURLE_UNKNOWN_OPTION;
	}
	return next(curl, info, out);
}

curl_version_info_data *curl_version_info(CURLversion age)
{
	static curl_version_info_data *(*next)(CURLversion);
	static curl_version_info_data copy;
	static char text[32];
	init();
	if (!next)
		next = (curl_version_info_data * (*)(CURLversion)) real("curl_version_info");
	curl_version_info_data *v = next(age);
	if (!fake_version || !v)
		return v;
	copy = *v;
	copy.version_num = (unsigned int)fake_version;
	snprintf(text, sizeof text, "%ld.%ld.%ld", (fake_version >> 16) & 255, (fake_version >> 8) & 255,
	         fake_version & 255);
	copy.version = text;
	return &copy;
}

/* ---------- multi ---------- */

#define MULTI_FAULT(call)                                                                                  \
	do {                                                                                               \
		init();                                                                                    \
		if (hit(&multi_fault, call)) {                                                             \
			note("fail curl_multi_%s", call);                                                  \
			return CURLM_OUT_OF_MEMORY;                                                        \
		}                                                                                          \
	} while (0)

CURLM *curl_multi_init(void)
{
	static CURLM *(*next)(void);
	init();
	if (!next)
		next = (CURLM * (*)(void)) real("curl_multi_init");
	if (hit(&multi_fault, "init")) {
		note("fail curl_multi_init");
		return NULL;
	}
	return next();
}

CURLMcode curl_multi_add_handle(CURLM *m, CURL *e)
{
	static CURLMcode (*next)(CURLM *, CURL *);
	if (!next)
		next = (CURLMcode(*)(CURLM *, CURL *))real("curl_multi_add_handle");
	MULTI_FAULT("add_handle");
	return next(m, e);
}

CURLMcode curl_multi_remove_handle(CURLM *m, CURL *e)
{
	static CURLMcode (*next)(CURLM *, CURL *);
	if (!next)
		next = (CURLMcode(*)(CURLM *, CURL *))real("curl_multi_remove_handle");
	MULTI_FAULT("remove_handle");
	return next(m, e);
}

CURLMcode curl_multi_perform(CURLM *m, int *running)
{
	static CURLMcode (*next)(CURLM *, int *);
	if (!next)
		next = (CURLMcode(*)(CURLM *, int *))real("curl_multi_perform");
	MULTI_FAULT("perform");
	return next(m, running);
}

CURLMcode curl_multi_poll(CURLM *m, struct curl_waitfd *fds, unsigned int n, int timeout_ms, int *numfds)
{
	static CURLMcode (*next)(CURLM *, struct curl_waitfd *, unsigned int, int, int *);
	if (!next)
		next = (CURLMcode(*)(CURLM *, struct curl_waitfd *, unsigned int, int, int *))real("curl_multi_poll");
	MULTI_FAULT("poll");
	return next(m, fds, n, timeout_ms, numfds);
}

CURLMcode curl_multi_wait(CURLM *m, struct curl_waitfd *fds, unsigned int n, int timeout_ms, int *numfds)
{
	static CURLMcode (*next)(CURLM *, struct curl_waitfd *, unsigned int, int, int *);
	if (!next)
		next = (CURLMcode(*)(CURLM *, struct curl_waitfd *, unsigned int, int, int *))real("curl_multi_wait");
	MULTI_FAULT("wait");
	return next(m, fds, n, timeout_ms, numfds);
}

CURLMcode curl_multi_cleanup(CURLM *m)
{
	static CURLMcode (*next)(CURLM *);
	if (!next)
		next = (CURLMcode(*)(CURLM *))real("curl_multi_cleanup");
	init();
	if (hit(&multi_fault, "cleanup")) {
		note("fail curl_multi_cleanup");
		next(m); /* released all the same: only the answer is a failure */
		return CURLM_OUT_OF_MEMORY;
	}
	return next(m);
}

/* ---------- URL API ---------- */

CURLU *curl_url(void)
{
	static CURLU *(*next)(void);
	init();
	if (!next)
		next = (CURLU * (*)(void)) real("curl_url");
	if (hit(&url_fault, "new")) {
		note("fail curl_url");
		return NULL;
	}
	return next();
}

CURLUcode curl_url_get(CURLU *u, CURLUPart part, char **out, unsigned int flags)
{
	static CURLUcode (*next)(CURLU *, CURLUPart, char **, unsigned int);
	init();
	if (!next)
		next = (CURLUcode(*)(CURLU *, CURLUPart, char **, unsigned int))real("curl_url_get");
	if (hit(&url_fault, "get")) {
		note("fail curl_url_get %d", (int)part);
		return CURLUE_OUT_OF_MEMORY;
	}
	return next(u, part, out, flags);
}

CURLUcode curl_url_set(CURLU *u, CURLUPart part, const char *content, unsigned int flags)
{
	static CURLUcode (*next)(CURLU *, CURLUPart, const char *, unsigned int);
	init();
	if (!next)
		next = (CURLUcode(*)(CURLU *, CURLUPart, const char *, unsigned int))real("curl_url_set");
	if (hit(&url_fault, "set")) {
		note("fail curl_url_set %d", (int)part);
		return CURLUE_OUT_OF_MEMORY;
	}
	return next(u, part, content, flags);
}
