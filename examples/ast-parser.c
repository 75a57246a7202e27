// SPDX-License-Identifier: MIT
/*
 * ast-parser: a parser that builds its syntax tree in an arena.
 *
 * The language is integer arithmetic with names:
 *
 *	program := stmt { ';' stmt }
 *	stmt    := 'let' NAME '=' expr | expr
 *	expr    := term { ('+' | '-') term }
 *	term    := unary { ('*' | '/' | '%') unary }
 *	unary   := '-' unary | NUMBER | NAME | '(' expr ')'
 *
 * Every node, every name and the bindings of `let` are allocated from one
 * arena, and an error message too: nothing is freed one by one, so the
 * error paths of a recursive-descent parser need no cleanup at all. The
 * arena is reset after each program (arena_reset: everything goes, the
 * arena stays), and freed at the end.
 *
 * Usage: ast-parser PROGRAM...  (with none, a few built-in ones). For each
 * program it prints each statement as an S-expression with its value, or
 * the error and its column, then what the arena held. Exit status: the
 * number of programs with an error.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <libarena.h>

enum op { N_NUM, N_NAME, N_NEG, N_ADD, N_SUB, N_MUL, N_DIV, N_MOD, N_LET };

static const char *const op_name[] = {
	[N_NEG] = "-", [N_ADD] = "+", [N_SUB] = "-", [N_MUL] = "*",
	[N_DIV] = "/", [N_MOD] = "%", [N_LET] = "let",
};

struct node {
	enum op op;
	long value;		/* N_NUM */
	const char *name;	/* N_NAME, N_LET */
	struct node *l, *r;	/* operands; N_NEG and N_LET use l */
	int col;		/* where it starts (an operator: where that is) */
};

struct binding {
	const char *name;
	long value;
	struct binding *next;
};

struct parser {
	struct arena *a;
	const char *src, *s;
	const char *error;	/* in the arena; NULL while all is well */
	int error_col;
	unsigned int nodes;
	struct binding *env;
};

/*
 * Record the first error only (later ones follow from it), at column @col,
 * or where the parser is if @col is 0.
 */
static struct node *fail_at(struct parser *p, int col, const char *fmt, ...)
{
	va_list ap;
	char buf[128];

	if (!p->error) {
		va_start(ap, fmt);
		vsnprintf(buf, sizeof(buf), fmt, ap);
		va_end(ap);
		p->error = arena_strdup(p->a, buf);
		p->error_col = col ? col : (int)(p->s - p->src) + 1;
	}
	return NULL;
}

#define fail(p, ...) fail_at(p, 0, __VA_ARGS__)

static struct node *node(struct parser *p, enum op op, struct node *l, struct node *r)
{
	struct node *n = arena_alloc(p->a, sizeof(*n));

	if (!n)
		return fail(p, "out of memory");
	*n = (struct node){ .op = op, .l = l, .r = r, .col = p->s - p->src + 1 };
	p->nodes++;
	return n;
}

static void skip_ws(struct parser *p)
{
	while (isspace((unsigned char)*p->s))
		p->s++;
}

static int accept(struct parser *p, char c)
{
	skip_ws(p);
	if (*p->s != c)
		return 0;
	p->s++;
	return 1;
}

static const char *name(struct parser *p)
{
	const char *start = p->s;

	while (isalnum((unsigned char)*p->s) || *p->s == '_')
		p->s++;
	return arena_strndup(p->a, start, p->s - start);
}

static struct node *expr(struct parser *p);

static struct node *unary(struct parser *p)
{
	struct node *n;

	if (accept(p, '-'))
		return (n = unary(p)) ? node(p, N_NEG, n, NULL) : NULL;
	if (accept(p, '(')) {
		n = expr(p);
		if (n && !accept(p, ')'))
			return fail(p, "expected ')'");
		return n;
	}
	skip_ws(p);
	if (isdigit((unsigned char)*p->s)) {
		n = node(p, N_NUM, NULL, NULL);
		if (n)
			for (n->value = 0; isdigit((unsigned char)*p->s); p->s++)
				n->value = n->value * 10 + (*p->s - '0');
		return n;
	}
	if (isalpha((unsigned char)*p->s) || *p->s == '_') {
		n = node(p, N_NAME, NULL, NULL);
		if (n)
			n->name = name(p);
		return n;
	}
	return fail(p, "expected a number, a name or '('");
}

/* One precedence level: operands from @next, joined by @ops. */
static struct node *binary(struct parser *p, struct node *(*next)(struct parser *),
			   const char *ops, const enum op *kinds)
{
	struct node *l = next(p);

	while (l) {
		const char *o;

		skip_ws(p);
		o = *p->s ? strchr(ops, *p->s) : NULL;
		if (!o)
			break;
		p->s++;
		l = node(p, kinds[o - ops], l, NULL);
		if (!l)
			return NULL;
		l->col = p->s - p->src;	/* the operator's */
		l->r = next(p);
		if (!l->r)
			return NULL;
	}
	return l;
}

static struct node *term(struct parser *p)
{
	static const enum op kinds[] = { N_MUL, N_DIV, N_MOD };

	return binary(p, unary, "*/%", kinds);
}

static struct node *expr(struct parser *p)
{
	static const enum op kinds[] = { N_ADD, N_SUB };

	return binary(p, term, "+-", kinds);
}

static struct node *stmt(struct parser *p)
{
	const char *save;
	struct node *n;

	skip_ws(p);
	save = p->s;
	if (!strncmp(p->s, "let", 3) && isspace((unsigned char)p->s[3])) {
		p->s += 3;
		skip_ws(p);
		if (!isalpha((unsigned char)*p->s) && *p->s != '_')
			return fail(p, "expected a name after 'let'");
		n = node(p, N_LET, NULL, NULL);
		if (!n)
			return NULL;
		n->name = name(p);
		if (!accept(p, '='))
			return fail(p, "expected '='");
		return (n->l = expr(p)) ? n : NULL;
	}
	p->s = save;
	return expr(p);
}

static void print(const struct node *n)
{
	switch (n->op) {
	case N_NUM:
		printf("%ld", n->value);
		return;
	case N_NAME:
		printf("%s", n->name);
		return;
	case N_LET:
		printf("(let %s ", n->name);
		print(n->l);
		break;
	default:
		printf("(%s ", op_name[n->op]);
		print(n->l);
		if (n->r) {
			putchar(' ');
			print(n->r);
		}
	}
	putchar(')');
}

/* 0 and the value in *v, or -1 with p->error set. */
static int eval(struct parser *p, const struct node *n, long *v)
{
	long l = 0, r = 0;

	if (n->op == N_NUM) {
		*v = n->value;
		return 0;
	}
	if (n->op == N_NAME) {
		for (const struct binding *b = p->env; b; b = b->next)
			if (!strcmp(b->name, n->name))
				return *v = b->value, 0;
		fail_at(p, n->col, "unknown name '%s'", n->name);
		return -1;
	}
	if (eval(p, n->l, &l) || (n->r && eval(p, n->r, &r)))
		return -1;
	switch (n->op) {
	case N_NEG: *v = -l; break;
	case N_ADD: *v = l + r; break;
	case N_SUB: *v = l - r; break;
	case N_MUL: *v = l * r; break;
	case N_DIV:
	case N_MOD:
		if (!r) {
			fail_at(p, n->col, "division by zero");
			return -1;
		}
		*v = n->op == N_DIV ? l / r : l % r;
		break;
	case N_LET: {
		struct binding *b = arena_alloc(p->a, sizeof(*b));

		if (!b) {
			fail(p, "out of memory");
			return -1;
		}
		*b = (struct binding){ n->name, l, p->env };
		p->env = b;
		*v = l;
		break;
	}
	default:
		break;
	}
	return 0;
}

/* Parse and run one program; 0 or -1 (the error is printed). */
static int run(struct arena *a, const char *src)
{
	struct parser p = { .a = a, .src = src, .s = src };
	struct arena_stats st;

	do {
		struct node *n = stmt(&p);
		long v;

		skip_ws(&p);
		if (n && *p.s && *p.s != ';')
			n = fail(&p, "unexpected '%c'", *p.s);
		if (!n || eval(&p, n, &v))
			break;
		printf("  ");
		print(n);
		printf(" => %ld\n", v);
	} while (accept(&p, ';') && (skip_ws(&p), *p.s));
	if (p.error)
		printf("  error at column %d: %s\n", p.error_col, p.error);
	if (arena_stats(a, &st) == 0)
		printf("  arena: %u nodes, %zu bytes in %zu run(s)\n", p.nodes,
		       st.requested, st.chunks + st.small_runs);
	return p.error ? -1 : 0;
}

int main(int argc, char **argv)
{
	static const char *const builtin[] = {
		"let x = 6 * 7; x - 2",
		"1 + 2 * (3 - -4) % 5",
		"let a = 10; let b = a / 3; b * (a - 3 * b - 1) / (a - 10)",
	};
	const char *const *progs = argc > 1 ? (const char *const *)argv + 1 : builtin;
	int n = argc > 1 ? argc - 1 : 3, errors = 0;
	struct arena *a = arena_new(0);

	if (!a) {
		perror("arena_new");
		return 100;
	}
	for (int i = 0; i < n; i++) {
		printf("program %d: %s\n", i + 1, progs[i]);
		errors += run(a, progs[i]) != 0;
		/* The whole tree, names, bindings and message go at once. */
		if (arena_reset(a)) {
			fprintf(stderr, "arena_reset failed\n");
			return 100;
		}
	}
	arena_free(a);
	return errors;
}
