#ifndef LEADLINE_CCURL_SHIM_H
#define LEADLINE_CCURL_SHIM_H
#include <curl/curl.h>
#include <dlfcn.h>
#include <stddef.h>

/*
 * libcurl is opened on the first transfer (dlopen), not linked: its dependency tree (two TLS
 * stacks, Kerberos, LDAP, SSH, about 30 libraries, some with constructors that read config
 * files) cost ingest and router about 10 ms of every start, before their first answer, which
 * needs no HTTP at all. Only this header knows; Swift calls the typed functions below.
 *
 * curl_easy_setopt and curl_easy_getinfo are C varargs, which Swift cannot call: typed wrappers.
 *
 * The table of entry points belongs to the caller (one, held by LeadlineHTTP) and every function
 * here takes it: these static inline functions exist once per object file that uses them, and
 * state kept inside them (function-local statics) was a separate, never-loaded copy in every
 * Swift file but the one that loaded it, which release builds compile to objects of their own.
 */
typedef struct {
    CURLcode (*global_init)(long);
    CURL *(*easy_init)(void);
    void (*easy_cleanup)(CURL *);
    void (*easy_reset)(CURL *);
    const char *(*easy_strerror)(CURLcode);
    CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
    CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
    struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
    void (*slist_free_all)(struct curl_slist *);
    CURLM *(*multi_init)(void);
    CURLMcode (*multi_cleanup)(CURLM *);
    CURLMcode (*multi_add_handle)(CURLM *, CURL *);
    CURLMcode (*multi_remove_handle)(CURLM *, CURL *);
    CURLMcode (*multi_perform)(CURLM *, int *);
    CURLMcode (*multi_poll)(CURLM *, struct curl_waitfd[], unsigned int, int, int *);
    CURLMcode (*multi_wakeup)(CURLM *);
    CURLMsg *(*multi_info_read)(CURLM *, int *);
} leadline_curl_api;

/* Opens libcurl into `api` and initializes it; NULL when ready, else why not. Call once. */
static inline const char *leadline_curl_open(leadline_curl_api *api) {
    void *library = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
    if (library == NULL) return "libcurl.so.4 cannot be loaded (install libcurl4)";
#define LEADLINE_CURL_SYMBOL(field, name)                                        \
    *(void **)(&api->field) = dlsym(library, name);                              \
    if (api->field == NULL) return "libcurl.so.4 lacks " name;
    LEADLINE_CURL_SYMBOL(global_init, "curl_global_init")
    LEADLINE_CURL_SYMBOL(easy_init, "curl_easy_init")
    LEADLINE_CURL_SYMBOL(easy_cleanup, "curl_easy_cleanup")
    LEADLINE_CURL_SYMBOL(easy_reset, "curl_easy_reset")
    LEADLINE_CURL_SYMBOL(easy_strerror, "curl_easy_strerror")
    LEADLINE_CURL_SYMBOL(easy_setopt, "curl_easy_setopt")
    LEADLINE_CURL_SYMBOL(easy_getinfo, "curl_easy_getinfo")
    LEADLINE_CURL_SYMBOL(slist_append, "curl_slist_append")
    LEADLINE_CURL_SYMBOL(slist_free_all, "curl_slist_free_all")
    LEADLINE_CURL_SYMBOL(multi_init, "curl_multi_init")
    LEADLINE_CURL_SYMBOL(multi_cleanup, "curl_multi_cleanup")
    LEADLINE_CURL_SYMBOL(multi_add_handle, "curl_multi_add_handle")
    LEADLINE_CURL_SYMBOL(multi_remove_handle, "curl_multi_remove_handle")
    LEADLINE_CURL_SYMBOL(multi_perform, "curl_multi_perform")
    LEADLINE_CURL_SYMBOL(multi_poll, "curl_multi_poll")
    LEADLINE_CURL_SYMBOL(multi_wakeup, "curl_multi_wakeup")
    LEADLINE_CURL_SYMBOL(multi_info_read, "curl_multi_info_read")
#undef LEADLINE_CURL_SYMBOL
    if (api->global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) return "curl_global_init failed";
    return NULL;
}

typedef const leadline_curl_api *leadline_curl;

static inline CURL *leadline_curl_easy_init(leadline_curl api) { return api->easy_init(); }
static inline void leadline_curl_easy_cleanup(leadline_curl api, CURL *h) { api->easy_cleanup(h); }
static inline void leadline_curl_easy_reset(leadline_curl api, CURL *h) { api->easy_reset(h); }
static inline const char *leadline_curl_easy_strerror(leadline_curl api, CURLcode c) { return api->easy_strerror(c); }
static inline struct curl_slist *leadline_curl_slist_append(leadline_curl api, struct curl_slist *l, const char *s) {
    return api->slist_append(l, s);
}
static inline void leadline_curl_slist_free_all(leadline_curl api, struct curl_slist *l) { api->slist_free_all(l); }

static inline CURLcode leadline_curl_setopt_long(leadline_curl api, CURL *h, CURLoption o, long v) { return api->easy_setopt(h, o, v); }
static inline CURLcode leadline_curl_setopt_string(leadline_curl api, CURL *h, CURLoption o, const char *v) { return api->easy_setopt(h, o, v); }
static inline CURLcode leadline_curl_setopt_pointer(leadline_curl api, CURL *h, CURLoption o, void *v) { return api->easy_setopt(h, o, v); }
static inline CURLcode leadline_curl_setopt_slist(leadline_curl api, CURL *h, CURLoption o, struct curl_slist *v) { return api->easy_setopt(h, o, v); }
static inline CURLcode leadline_curl_setopt_off_t(leadline_curl api, CURL *h, CURLoption o, curl_off_t v) { return api->easy_setopt(h, o, v); }
static inline CURLcode leadline_curl_setopt_write_function(leadline_curl api, CURL *h, CURLoption o,
    size_t (*f)(char *, size_t, size_t, void *)) { return api->easy_setopt(h, o, f); }
static inline CURLcode leadline_curl_getinfo_long(leadline_curl api, CURL *h, CURLINFO i, long *v) { return api->easy_getinfo(h, i, v); }

/* The multi interface: one thread drives every transfer (see LeadlineHTTP/TransferDriver.swift). */
static inline CURLM *leadline_curl_multi_init(leadline_curl api) { return api->multi_init(); }
static inline void leadline_curl_multi_cleanup(leadline_curl api, CURLM *m) { api->multi_cleanup(m); }
static inline CURLMcode leadline_curl_multi_add_handle(leadline_curl api, CURLM *m, CURL *h) { return api->multi_add_handle(m, h); }
static inline CURLMcode leadline_curl_multi_remove_handle(leadline_curl api, CURLM *m, CURL *h) { return api->multi_remove_handle(m, h); }
static inline CURLMcode leadline_curl_multi_perform(leadline_curl api, CURLM *m, int *running) { return api->multi_perform(m, running); }
static inline CURLMcode leadline_curl_multi_poll(leadline_curl api, CURLM *m, int timeout_ms) {
    return api->multi_poll(m, NULL, 0, timeout_ms, NULL);
}
static inline CURLMcode leadline_curl_multi_wakeup(leadline_curl api, CURLM *m) { return api->multi_wakeup(m); }
/* The next finished transfer: its easy handle and result; 0 when none is left to read. */
static inline int leadline_curl_multi_next_done(leadline_curl api, CURLM *m, CURL **easy, CURLcode *result) {
    int left = 0;
    CURLMsg *message;
    while ((message = api->multi_info_read(m, &left)) != NULL) {
        if (message->msg == CURLMSG_DONE) {
            *easy = message->easy_handle;
            *result = message->data.result;
            return 1;
        }
    }
    return 0;
}
#endif
