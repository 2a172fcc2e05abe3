/* Per-thread working memory of the compiled int8 steps (a conv's padded image, GEMM sums, a depthwise
 * row's sums, FC input rows). A step uses it only inside one run and rewrites whatever it reads there,
 * so one buffer per thread, as large as the largest step it has run, serves every interpreter of that
 * thread. Per thread, not per process: the steps run without the GIL, and interpreters in two threads
 * must not share it. The buffer is freed when its thread ends. */
#ifndef MI_WORKSPACE_H
#define MI_WORKSPACE_H

#include <pthread.h>
#include <stdlib.h>

typedef struct {
    unsigned char* data;
    size_t size;
} mi_workspace;

static pthread_key_t mi_workspace_key;
static pthread_once_t mi_workspace_once = PTHREAD_ONCE_INIT;

static void mi_workspace_free(void* p) {
    mi_workspace* ws = (mi_workspace*)p;
    free(ws->data);
    free(ws);
}

static void mi_workspace_make_key(void) { pthread_key_create(&mi_workspace_key, mi_workspace_free); }

/* The calling thread's workspace, grown to at least `size` bytes (64-byte aligned); NULL when out of memory. */
static unsigned char* mi_workspace_get(size_t size) {
    pthread_once(&mi_workspace_once, mi_workspace_make_key);
    mi_workspace* ws = (mi_workspace*)pthread_getspecific(mi_workspace_key);
    if (ws == NULL) {
        ws = (mi_workspace*)calloc(1, sizeof(mi_workspace));
        if (ws == NULL || pthread_setspecific(mi_workspace_key, ws) != 0) {
            free(ws);
            return NULL;
        }
    }
    if (ws->size < size || ws->data == NULL) {
        size_t rounded = (size + 63) / 64 * 64;
        void* data = NULL;
        if (posix_memalign(&data, 64, rounded ? rounded : 64) != 0) return NULL;
        free(ws->data);
        ws->data = (unsigned char*)data;
        ws->size = rounded;
    }
    return ws->data;
}

/* The calling thread's workspace size in bytes (0 before its first step). */
static size_t mi_workspace_size(void) {
    pthread_once(&mi_workspace_once, mi_workspace_make_key);
    mi_workspace* ws = (mi_workspace*)pthread_getspecific(mi_workspace_key);
    return ws == NULL ? 0 : ws->size;
}

#endif
