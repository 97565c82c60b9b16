/* Driver for the reference e5 engine (models/.../reference/e5.c), used by Podwise's
 * tests and bench to compare against it.
 *
 * usage: e5_embed MODEL.bin query|passage|tokens < texts
 * Reads one text per line from stdin. For query/passage it embeds them all in one
 * e5_embed_batch call and prints one vector per line; the time spent embedding (model
 * load excluded) goes to stderr as "embed_seconds <s>". For tokens it prints each text's
 * token count as the engine reports it (prefix "passage: " included). */
#include "e5.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s MODEL.bin query|passage|tokens < texts\n", argv[0]);
        return 2;
    }
    e5_model *m = e5_load(argv[1]);
    if (!m) return 1;
    int is_query = strcmp(argv[2], "query") == 0;
    int tokens_only = strcmp(argv[2], "tokens") == 0;

    size_t cap = 16, n = 0, linecap = 0;
    char **texts = malloc(cap * sizeof *texts);
    char *line = NULL;
    ssize_t len;
    while ((len = getline(&line, &linecap, stdin)) >= 0) {
        if (len > 0 && line[len - 1] == '\n') line[--len] = '\0';
        if (n == cap) texts = realloc(texts, (cap *= 2) * sizeof *texts);
        texts[n++] = strdup(line);
    }
    free(line);

    if (tokens_only) {
        for (size_t i = 0; i < n; i++) printf("%d\n", e5_token_count(m, texts[i], 0));
    } else if (n > 0) {
        int dim = e5_dim(m);
        float *out = malloc(n * (size_t)dim * sizeof *out);
        double start = now();
        if (e5_embed_batch(m, (const char **)texts, (int)n, is_query, out) != 0) return 1;
        fprintf(stderr, "embed_seconds %.6f\n", now() - start);
        for (size_t i = 0; i < n; i++) {
            for (int k = 0; k < dim; k++)
                printf(k ? " %.8g" : "%.8g", out[i * (size_t)dim + k]);
            printf("\n");
        }
        free(out);
    }
    for (size_t i = 0; i < n; i++) free(texts[i]);
    free(texts);
    e5_free(m);
    return 0;
}
