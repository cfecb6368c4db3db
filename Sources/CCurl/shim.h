#ifndef LEADLINE_CCURL_SHIM_H
#define LEADLINE_CCURL_SHIM_H
#include <curl/curl.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stddef.h>

/*
 * libcurl is opened on the first transfer (dlopen), not linked: its dependency tree (two TLS
 * stacks, Kerberos, LDAP, SSH, about 30 libraries, some with constructors that read config
 * files) cost ingest and router about 10 ms of every start, before their first answer, which
 * needs no HTTP at all. Only this header knows; Swift calls the typed functions below.
 *
 * curl_easy_setopt and curl_easy_getinfo are C varargs, which Swift cannot call: typed wrappers.
 */
typedef struct {
    const char *error; /* why libcurl could not be opened, or NULL */
    CURLcode (*global_init)(long);
    CURL *(*easy_init)(void);
    void (*easy_cleanup)(CURL *);
    void (*easy_reset)(CURL *);
    CURLcode (*easy_perform)(CURL *);
    const char *(*easy_strerror)(CURLcode);
    CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
    CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
    struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
    void (*slist_free_all)(struct curl_slist *);
} leadline_curl_api;

/* Function-local statics: Swift's importer emits the functions of this header, not its globals.
 * Being static, they exist once per object file that uses them, and a release build compiles
 * each Swift file (and whatever it inlines from other files) to its own object file: every call
 * of these functions must stay in LeadlineHTTP/HTTPClient.swift, or the other file's copy is
 * never loaded and its calls jump through null pointers (seen when a split put them in two). */
static inline leadline_curl_api *leadline_curl_api_storage(void) {
    static leadline_curl_api api;
    return &api;
}
#define leadline_curl_loaded (*leadline_curl_api_storage())

static inline void leadline_curl_open(void) {
    void *library = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
    if (library == NULL) {
        leadline_curl_loaded.error = "libcurl.so.4 cannot be loaded (install libcurl4)";
        return;
    }
#define LEADLINE_CURL_SYMBOL(field, name)                                        \
    *(void **)(&leadline_curl_loaded.field) = dlsym(library, name);              \
    if (leadline_curl_loaded.field == NULL) {                                     \
        leadline_curl_loaded.error = "libcurl.so.4 lacks " name;                  \
        return;                                                                   \
    }
    LEADLINE_CURL_SYMBOL(global_init, "curl_global_init")
    LEADLINE_CURL_SYMBOL(easy_init, "curl_easy_init")
    LEADLINE_CURL_SYMBOL(easy_cleanup, "curl_easy_cleanup")
    LEADLINE_CURL_SYMBOL(easy_reset, "curl_easy_reset")
    LEADLINE_CURL_SYMBOL(easy_perform, "curl_easy_perform")
    LEADLINE_CURL_SYMBOL(easy_strerror, "curl_easy_strerror")
    LEADLINE_CURL_SYMBOL(easy_setopt, "curl_easy_setopt")
    LEADLINE_CURL_SYMBOL(easy_getinfo, "curl_easy_getinfo")
    LEADLINE_CURL_SYMBOL(slist_append, "curl_slist_append")
    LEADLINE_CURL_SYMBOL(slist_free_all, "curl_slist_free_all")
#undef LEADLINE_CURL_SYMBOL
    if (leadline_curl_loaded.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        leadline_curl_loaded.error = "curl_global_init failed";
    }
}

/* Opens and initializes libcurl once; NULL when ready, else why not. Safe from any thread. */
static inline const char *leadline_curl_load(void) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, leadline_curl_open);
    return leadline_curl_loaded.error;
}

/* The functions below require a successful leadline_curl_load() first. */
static inline CURL *leadline_curl_easy_init(void) { return leadline_curl_loaded.easy_init(); }
static inline void leadline_curl_easy_cleanup(CURL *h) { leadline_curl_loaded.easy_cleanup(h); }
static inline void leadline_curl_easy_reset(CURL *h) { leadline_curl_loaded.easy_reset(h); }
static inline CURLcode leadline_curl_easy_perform(CURL *h) { return leadline_curl_loaded.easy_perform(h); }
static inline const char *leadline_curl_easy_strerror(CURLcode c) { return leadline_curl_loaded.easy_strerror(c); }
static inline struct curl_slist *leadline_curl_slist_append(struct curl_slist *l, const char *s) {
    return leadline_curl_loaded.slist_append(l, s);
}
static inline void leadline_curl_slist_free_all(struct curl_slist *l) { leadline_curl_loaded.slist_free_all(l); }

static inline CURLcode leadline_curl_setopt_long(CURL *h, CURLoption o, long v) { return leadline_curl_loaded.easy_setopt(h, o, v); }
static inline CURLcode leadline_curl_setopt_string(CURL *h, CURLoption o, const char *v) { return leadline_curl_loaded.easy_setopt(h, o, v); }
static inline CURLcode leadline_curl_setopt_pointer(CURL *h, CURLoption o, void *v) { return leadline_curl_loaded.easy_setopt(h, o, v); }
static inline CURLcode leadline_curl_setopt_slist(CURL *h, CURLoption o, struct curl_slist *v) { return leadline_curl_loaded.easy_setopt(h, o, v); }
static inline CURLcode leadline_curl_setopt_off_t(CURL *h, CURLoption o, curl_off_t v) { return leadline_curl_loaded.easy_setopt(h, o, v); }
static inline CURLcode leadline_curl_setopt_write_function(CURL *h, CURLoption o,
    size_t (*f)(char *, size_t, size_t, void *)) { return leadline_curl_loaded.easy_setopt(h, o, f); }
static inline CURLcode leadline_curl_getinfo_long(CURL *h, CURLINFO i, long *v) { return leadline_curl_loaded.easy_getinfo(h, i, v); }
static inline CURLcode leadline_curl_getinfo_double(CURL *h, CURLINFO i, double *v) { return leadline_curl_loaded.easy_getinfo(h, i, v); }
#endif
