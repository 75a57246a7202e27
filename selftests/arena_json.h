/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A strict JSON (RFC 8259) parser for the selftests that check a tool's
 * output: json_parse() accepts exactly one value, with nothing but white
 * space around it, and builds a small tree to look values up in. Strings
 * keep their escapes decoded only as far as ASCII (\uXXXX above 0x7f is
 * kept as '?'), which is enough to compare names.
 */
#ifndef ARENA_JSON_H
#define ARENA_JSON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum json_type { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY,
		 JSON_OBJECT };

struct json {
	enum json_type type;
	bool b;
	double num;
	bool is_uint;		/* a non-negative integer, exactly in @u */
	uint64_t u;
	char *str;
	int n;			/* items of an array or object */
	struct json **items;
	char **keys;		/* object member names */
};

struct json_parser {
	const char *p;
	const char *err;
	int depth;
};

static inline void json_free(struct json *j)
{
	int i;

	if (!j)
		return;
	for (i = 0; i < j->n; i++) {
		json_free(j->items[i]);
		if (j->keys)
			free(j->keys[i]);
	}
	free(j->items);
	free(j->keys);
	free(j->str);
	free(j);
}

static inline void json_ws(struct json_parser *ps)
{
	while (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' ||
	       *ps->p == '\r')
		ps->p++;
}

static inline struct json *json_value(struct json_parser *ps);

static inline char *json_string(struct json_parser *ps)
{
	size_t cap = 16, len = 0;
	char *s = malloc(cap);

	if (!s || *ps->p != '"')
		goto bad;
	ps->p++;
	for (;;) {
		unsigned char c = *ps->p++;

		if (len + 2 > cap) {
			char *t = realloc(s, cap *= 2);

			if (!t)
				goto bad;
			s = t;
		}
		if (c == '"')
			break;
		if (c < 0x20)	/* also the terminating NUL */
			goto bad;
		if (c == '\\') {
			c = *ps->p++;
			switch (c) {
			case '"':
			case '\\':
			case '/':
				break;
			case 'b':
				c = '\b';
				break;
			case 'f':
				c = '\f';
				break;
			case 'n':
				c = '\n';
				break;
			case 'r':
				c = '\r';
				break;
			case 't':
				c = '\t';
				break;
			case 'u': {
				unsigned int v = 0;
				int i;

				for (i = 0; i < 4; i++) {
					char h = *ps->p++;

					v <<= 4;
					if (h >= '0' && h <= '9')
						v |= h - '0';
					else if (h >= 'a' && h <= 'f')
						v |= h - 'a' + 10;
					else if (h >= 'A' && h <= 'F')
						v |= h - 'A' + 10;
					else
						goto bad;
				}
				c = v < 0x80 && v ? v : '?';
				break;
			}
			default:
				goto bad;
			}
		}
		s[len++] = c;
	}
	s[len] = '\0';
	return s;
bad:
	free(s);
	ps->err = "bad string";
	return NULL;
}

static inline bool json_number(struct json_parser *ps, struct json *j)
{
	const char *start = ps->p, *q = ps->p;
	bool integer = true;

	if (*q == '-')
		q++;
	if (*q == '0')
		q++;
	else if (*q >= '1' && *q <= '9')
		while (*q >= '0' && *q <= '9')
			q++;
	else
		return false;
	if (*q == '.') {
		integer = false;
		q++;
		if (*q < '0' || *q > '9')
			return false;
		while (*q >= '0' && *q <= '9')
			q++;
	}
	if (*q == 'e' || *q == 'E') {
		integer = false;
		q++;
		if (*q == '+' || *q == '-')
			q++;
		if (*q < '0' || *q > '9')
			return false;
		while (*q >= '0' && *q <= '9')
			q++;
	}
	j->type = JSON_NUMBER;
	j->num = strtod(start, NULL);
	if (integer && *start != '-') {
		j->is_uint = true;
		j->u = strtoull(start, NULL, 10);
	}
	ps->p = q;
	return true;
}

static inline bool json_push(struct json *j, struct json *item, char *key)
{
	struct json **items = realloc(j->items, (j->n + 1) * sizeof(*items));

	if (!items)
		return false;
	j->items = items;
	if (j->type == JSON_OBJECT) {
		char **keys = realloc(j->keys, (j->n + 1) * sizeof(*keys));

		if (!keys)
			return false;
		j->keys = keys;
		keys[j->n] = key;
	}
	items[j->n++] = item;
	return true;
}

static inline struct json *json_container(struct json_parser *ps, struct json *j)
{
	char close = *ps->p == '[' ? ']' : '}';

	j->type = close == ']' ? JSON_ARRAY : JSON_OBJECT;
	ps->p++;
	json_ws(ps);
	if (*ps->p == close) {
		ps->p++;
		return j;
	}
	for (;;) {
		struct json *item;
		char *key = NULL;

		json_ws(ps);
		if (j->type == JSON_OBJECT) {
			key = json_string(ps);
			if (!key)
				break;
			json_ws(ps);
			if (*ps->p++ != ':') {
				free(key);
				ps->err = "missing ':'";
				break;
			}
		}
		item = json_value(ps);
		if (!item || !json_push(j, item, key)) {
			json_free(item);
			free(key);
			break;
		}
		json_ws(ps);
		if (*ps->p == ',') {
			ps->p++;
			continue;
		}
		if (*ps->p == close) {
			ps->p++;
			return j;
		}
		ps->err = "missing ',' or end of container";
		break;
	}
	if (!ps->err)
		ps->err = "bad container";
	json_free(j);
	return NULL;
}

static inline struct json *json_value(struct json_parser *ps)
{
	struct json *j = calloc(1, sizeof(*j));

	if (!j) {
		ps->err = "out of memory";
		return NULL;
	}
	json_ws(ps);
	if (++ps->depth > 64) {
		ps->err = "nested too deep";
		free(j);
		return NULL;
	}
	switch (*ps->p) {
	case '{':
	case '[':
		j = json_container(ps, j);
		break;
	case '"':
		j->type = JSON_STRING;
		j->str = json_string(ps);
		if (!j->str) {
			free(j);
			j = NULL;
		}
		break;
	case 't':
	case 'f':
	case 'n':
		if (!strncmp(ps->p, "true", 4)) {
			j->type = JSON_BOOL;
			j->b = true;
			ps->p += 4;
		} else if (!strncmp(ps->p, "false", 5)) {
			j->type = JSON_BOOL;
			ps->p += 5;
		} else if (!strncmp(ps->p, "null", 4)) {
			ps->p += 4;
		} else {
			ps->err = "bad literal";
			free(j);
			j = NULL;
		}
		break;
	default:
		if (!json_number(ps, j)) {
			ps->err = "unexpected character";
			free(j);
			j = NULL;
		}
	}
	ps->depth--;
	return j;
}

/* The value in @text, or NULL with *@err saying why and where. */
static inline struct json *json_parse(const char *text, char *err, size_t errlen)
{
	struct json_parser ps = { .p = text };
	struct json *j = json_value(&ps);

	if (j) {
		json_ws(&ps);
		if (*ps.p) {
			ps.err = "text after the value";
			json_free(j);
			j = NULL;
		}
	}
	if (!j && err)
		snprintf(err, errlen, "%s at offset %ld: \"%.20s\"",
			 ps.err ? ps.err : "?", (long)(ps.p - text), ps.p);
	return j;
}

/* Member @key of an object, or NULL. */
static inline const struct json *json_get(const struct json *j, const char *key)
{
	int i;

	if (!j || j->type != JSON_OBJECT)
		return NULL;
	for (i = 0; i < j->n; i++)
		if (!strcmp(j->keys[i], key))
			return j->items[i];
	return NULL;
}

/* A dotted path of members ("chunks.in_use"), or NULL. */
static inline const struct json *json_path(const struct json *j, const char *path)
{
	char buf[128], *tok, *save;

	snprintf(buf, sizeof(buf), "%s", path);
	for (tok = strtok_r(buf, ".", &save); tok && j;
	     tok = strtok_r(NULL, ".", &save))
		j = json_get(j, tok);
	return j;
}

/* A non-negative integer member, or -1. */
static inline long long json_uint(const struct json *j, const char *path)
{
	j = json_path(j, path);
	return j && j->type == JSON_NUMBER && j->is_uint ? (long long)j->u : -1;
}

static inline const char *json_str(const struct json *j, const char *path)
{
	j = json_path(j, path);
	return j && j->type == JSON_STRING ? j->str : NULL;
}

#endif /* ARENA_JSON_H */
