/* curl_loop.c: the physical-limit baseline of the benchmarks. Plain libcurl, no Lua, no JSON.
 *   curl_loop get URL N TOKEN        N sequential keep-alive GETs of URL; prints one JSON line
 *   curl_loop pages LISTFILE TOKEN   GETs each URL of LISTFILE once, in order; with OUTDIR as a 4th
 *                                    argument it also writes each body to OUTDIR/page-<i>.json
 * Same request headers as the module (Authorization, Accept, Accept-Encoding of everything libcurl
 * supports) and the body kept in memory, as the module does. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
	char *data;
	size_t len, cap;
} buf;

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
	buf *b = ud;
	size_t k = size * n;
	if (b->len + k > b->cap) {
		size_t cap = b->cap ? b->cap : 16384;
		while (cap < b->len + k)
			cap *= 2;
		char *d = realloc(b->data, cap);
		if (!d)
			return 0;
		b->data = d;
		b->cap = cap;
	}
	memcpy(b->data + b->len, p, k);
	b->len += k;
	return k;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static CURL *make_handle(buf *b, struct curl_slist **hdrs, const char *token)
{
	char auth[4096];
	CURL *e = curl_easy_init();
	snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
	*hdrs = curl_slist_append(NULL, auth);
	*hdrs = curl_slist_append(*hdrs, "Accept: application/json");
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, *hdrs);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, b);
	curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	return e;
}

static int perform(CURL *e, buf *b, const char *url)
{
	long status = 0;
	b->len = 0;
	curl_easy_setopt(e, CURLOPT_URL, url);
	CURLcode rc = curl_easy_perform(e);
	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
	if (rc != CURLE_OK || status != 200) {
		fprintf(stderr, "curl_loop: %s -> %s / HTTP %ld\n", url, curl_easy_strerror(rc), status);
		return 0;
	}
	return 1;
}

int main(int argc, char **argv)
{
	buf b = {0};
	struct curl_slist *hdrs = NULL;
	if (argc < 4) {
		fprintf(stderr, "usage: curl_loop get URL N TOKEN | curl_loop pages LISTFILE TOKEN [OUTDIR]\n");
		return 2;
	}
	curl_global_init(CURL_GLOBAL_ALL);
	if (strcmp(argv[1], "get") == 0 && argc >= 5) {
		long n = atol(argv[3]);
		CURL *e = make_handle(&b, &hdrs, argv[4]);
		if (!perform(e, &b, argv[2])) /* warm-up: connect outside the timing */
			return 1;
		double t0 = now(), c0 = cpu();
		for (long i = 0; i < n; i++)
			if (!perform(e, &b, argv[2]))
				return 1;
		double wall = now() - t0, used = cpu() - c0;
		printf("{\"requests\":%ld,\"seconds\":%.6f,\"cpu\":%.6f,\"bytes\":%zu}\n", n, wall, used, b.len);
		curl_easy_cleanup(e);
	} else if (strcmp(argv[1], "pages") == 0) {
		char line[8192];
		char *urls[4096];
		int n = 0;
		FILE *f = fopen(argv[2], "r");
		if (!f) {
			perror(argv[2]);
			return 1;
		}
		while (n < 4096 && fgets(line, sizeof line, f)) {
			line[strcspn(line, "\r\n")] = 0;
			if (line[0])
				urls[n++] = strdup(line);
		}
		fclose(f);
		CURL *e = make_handle(&b, &hdrs, argv[3]);
		size_t total = 0;
		double t0 = now(), c0 = cpu();
		for (int i = 0; i < n; i++) {
			if (!perform(e, &b, urls[i]))
				return 1;
			total += b.len;
			if (argc >= 5) {
				char path[4096];
				snprintf(path, sizeof path, "%s/page-%04d.json", argv[4], i + 1);
				FILE *o = fopen(path, "wb");
				if (!o || fwrite(b.data, 1, b.len, o) != b.len)
					return 1;
				fclose(o);
			}
		}
		double wall = now() - t0, used = cpu() - c0;
		printf("{\"pages\":%d,\"seconds\":%.6f,\"cpu\":%.6f,\"bytes\":%zu}\n", n, wall, used, total);
		curl_easy_cleanup(e);
	} else {
		fprintf(stderr, "curl_loop: unknown mode %s\n", argv[1]);
		return 2;
	}
	curl_slist_free_all(hdrs);
	free(b.data);
	curl_global_cleanup();
	return 0;
}
