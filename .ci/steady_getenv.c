/* steady_getenv: preloaded beside libfaketime for the run 400 days ahead.
 *
 * libfaketime 0.9.10 reads some settings from the environment on every call, from whichever
 * thread makes it: pthread_cond_timedwait reads FAKETIME_WAIT_MS (every Python thread waiting
 * for the GIL comes through there), getpid reads FAKETIME_FAKEPID, getrandom and getentropy read
 * FAKERANDOM_SEED. glibc's setenv/unsetenv move the environment array while such a read walks
 * it, so a test that changes the environment while other threads run can crash the process.
 *
 * This getenv answers libfaketime's per-call names from a copy taken when the process starts
 * (they never change during a run) and every other name by the same scan glibc does.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

extern char **environ;

static const char *const steady_names[] = {
  "FAKETIME_WAIT_MS", "FAKETIME_FAKEPID", "FAKERANDOM_SEED", "FAKETIME_DEBUG",
  "FAKETIME_FORCE_MONOTONIC_FIX", NULL,
};
static char *steady_values[sizeof steady_names / sizeof steady_names[0]];
static volatile int steady_ready;

static char *scan(const char *name) {
  size_t n = strlen(name);
  if (n == 0 || strchr(name, '=') != NULL) return NULL;
  for (char **entry = environ; entry != NULL && *entry != NULL; entry++)
    if (strncmp(*entry, name, n) == 0 && (*entry)[n] == '=') return *entry + n + 1;
  return NULL;
}

__attribute__((constructor)) static void steady_snapshot(void) {
  for (int i = 0; steady_names[i] != NULL; i++) {
    char *value = scan(steady_names[i]);
    steady_values[i] = value != NULL ? strdup(value) : NULL;
  }
  steady_ready = 1;
}

char *getenv(const char *name) {
  if (steady_ready)
    for (int i = 0; steady_names[i] != NULL; i++)
      if (strcmp(name, steady_names[i]) == 0) return steady_values[i];
  return scan(name);
}
