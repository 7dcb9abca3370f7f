/*
 * An LD_PRELOAD shim for the crash tests: it makes chosen calls on chosen files fail, as a full
 * or failing disk would, in an unchanged tympan-serve binary.
 *
 *   TYMPAN_FAULT_FILE  a part of the path of the files concerned (`prod_data.csv`); the path is
 *                      read from /proc/self/fd, so a call on any other descriptor is untouched
 *   TYMPAN_FAULT_PLAN  rules OP@N=KIND separated by commas: the N-th call (counted from 1, on the
 *                      files concerned, since the process started) of OP fails with KIND
 *     OP    write | fdatasync | fsync | ftruncate
 *     KIND  eio | enospc | short (write only: half of the bytes are written and reported, and
 *           the next write on such a file fails with EIO: a torn write)
 *
 * Every call of OP on the files concerned is counted, whatever its outcome.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

enum op { OP_WRITE, OP_FDATASYNC, OP_FSYNC, OP_FTRUNCATE, OP_COUNT };
static const char *const OP_NAMES[OP_COUNT] = {"write", "fdatasync", "fsync", "ftruncate"};
enum kind { K_NONE, K_EIO, K_ENOSPC, K_SHORT };

#define MAX_RULES 16
static struct rule {
    int op;
    long n;
    int kind;
} rules[MAX_RULES];
static int rule_count;
static const char *file_part;
static long calls[OP_COUNT];
static int torn_pending;
static pthread_once_t parsed = PTHREAD_ONCE_INIT;

static void parse_plan(void) {
    file_part = getenv("TYMPAN_FAULT_FILE");
    const char *plan = getenv("TYMPAN_FAULT_PLAN");
    if (!plan)
        return;
    char copy[1024];
    snprintf(copy, sizeof copy, "%s", plan);
    char *save = NULL;
    for (char *r = strtok_r(copy, ",", &save); r && rule_count < MAX_RULES;
         r = strtok_r(NULL, ",", &save)) {
        char op[32], kind[32];
        long n;
        if (sscanf(r, "%31[a-z]@%ld=%31[a-z]", op, &n, kind) != 3) {
            fprintf(stderr, "inject: bad rule `%s`\n", r);
            abort();
        }
        struct rule rule = {-1, n, K_NONE};
        for (int i = 0; i < OP_COUNT; i++)
            if (strcmp(op, OP_NAMES[i]) == 0)
                rule.op = i;
        rule.kind = strcmp(kind, "eio") == 0      ? K_EIO
                    : strcmp(kind, "enospc") == 0 ? K_ENOSPC
                    : strcmp(kind, "short") == 0  ? K_SHORT
                                                  : K_NONE;
        if (rule.op < 0 || rule.kind == K_NONE || (rule.kind == K_SHORT && rule.op != OP_WRITE)) {
            fprintf(stderr, "inject: bad rule `%s`\n", r);
            abort();
        }
        rules[rule_count++] = rule;
    }
}

static int concerned(int fd) {
    pthread_once(&parsed, parse_plan);
    if (!file_part)
        return 0;
    char link[64], path[4096];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, sizeof path - 1);
    if (n < 0)
        return 0;
    path[n] = '\0';
    return strstr(path, file_part) != NULL;
}

/* The fault planned for this call of `op` on `fd`, counting it. */
static int fault(int op, int fd) {
    if (!concerned(fd))
        return K_NONE;
    long call = __atomic_add_fetch(&calls[op], 1, __ATOMIC_SEQ_CST);
    for (int i = 0; i < rule_count; i++)
        if (rules[i].op == op && rules[i].n == call)
            return rules[i].kind;
    return K_NONE;
}

static int fail(int kind) {
    errno = kind == K_ENOSPC ? ENOSPC : EIO;
    return -1;
}

/* The libc function this one stands in for, looked up once. */
#define REAL(name) \
    static __typeof__(&name) real_##name; \
    if (!real_##name) \
        real_##name = (__typeof__(&name))dlsym(RTLD_NEXT, #name);

ssize_t write(int fd, const void *buf, size_t count) {
    REAL(write);
    int kind = fault(OP_WRITE, fd);
    if (kind == K_NONE && __atomic_load_n(&torn_pending, __ATOMIC_SEQ_CST) && concerned(fd) &&
        __atomic_exchange_n(&torn_pending, 0, __ATOMIC_SEQ_CST))
        return fail(K_EIO);
    if (kind == K_SHORT && count > 1) {
        __atomic_store_n(&torn_pending, 1, __ATOMIC_SEQ_CST);
        return real_write(fd, buf, count / 2);
    }
    if (kind != K_NONE)
        return fail(kind);
    return real_write(fd, buf, count);
}

int fdatasync(int fd) {
    REAL(fdatasync);
    int kind = fault(OP_FDATASYNC, fd);
    return kind != K_NONE ? fail(kind) : real_fdatasync(fd);
}

int fsync(int fd) {
    REAL(fsync);
    int kind = fault(OP_FSYNC, fd);
    return kind != K_NONE ? fail(kind) : real_fsync(fd);
}

int ftruncate(int fd, off_t length) {
    REAL(ftruncate);
    int kind = fault(OP_FTRUNCATE, fd);
    return kind != K_NONE ? fail(kind) : real_ftruncate(fd, length);
}

int ftruncate64(int fd, off64_t length) {
    REAL(ftruncate64);
    int kind = fault(OP_FTRUNCATE, fd);
    return kind != K_NONE ? fail(kind) : real_ftruncate64(fd, length);
}
