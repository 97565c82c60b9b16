/* Prints the token ids the reference e5 engine feeds its encoder, for comparing
 * Podwise's tokenizer with it.
 *
 * usage: e5_token_ids MODEL.bin query|passage < texts
 * One text per line on stdin; one line of space-separated ids per text on stdout,
 * <s> and </s> included. The engine's tokenizer is internal to e5.c, so this file
 * includes it rather than linking against it. */
#include "e5.c"

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s MODEL.bin query|passage < texts\n", argv[0]);
        return 2;
    }
    e5_model *m = e5_load(argv[1]);
    if (!m) return 1;
    const char *prefix = strcmp(argv[2], "query") == 0 ? "query: " : "passage: ";
    char *line = NULL;
    size_t linecap = 0;
    ssize_t len;
    while ((len = getline(&line, &linecap, stdin)) >= 0) {
        if (len > 0 && line[len - 1] == '\n') line[--len] = '\0';
        size_t size = strlen(prefix) + (size_t)len + 1;
        char *text = malloc(size);
        snprintf(text, size, "%s%s", prefix, line);
        int cap = (int)size + 4;
        int *ids = malloc(sizeof(int) * (size_t)cap);
        int n = tok_content(&m->tok, text, ids, cap);
        printf("%d", m->tok.bos);
        for (int i = 0; i < n; i++) printf(" %d", ids[i]);
        printf(" %d\n", m->tok.eos);
        free(ids);
        free(text);
    }
    free(line);
    e5_free(m);
    return 0;
}
