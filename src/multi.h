/* multi.h: usage.core.multi, many sessions' transfers at once on one libcurl multi handle. */
#ifndef USAGE_MULTI_H
#define USAGE_MULTI_H

#include "http.h"

#define USAGE_MULTI_MT "usage.core.multi"

typedef struct usage_multi {
	CURLM *multi;
	int closed;
	int count;               /* transfers under way */
	usage_session *sessions; /* list of them */
} usage_multi;

/* Take a session out of its multi (transfer abandoned) and drop the reference that kept it alive. When
 * curl_multi_remove_handle fails the session is marked broken (it takes no more transfers) and its code is
 * returned; CURLM_OK otherwise. */
CURLMcode usage_multi_detach(lua_State *L, usage_session *s);
int usage_multi_new(lua_State *L);
void usage_multi_register(lua_State *L);

#endif
