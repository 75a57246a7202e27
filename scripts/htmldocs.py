#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Render Documentation/*.rst to HTML with docutils, kernel style.

    scripts/htmldocs.py --kernel-doc PATH [--out DIR] [--check] RST...

Documentation/ is written for the kernel's Sphinx build; this renders it
with plain docutils (python3-docutils), adding the two Sphinx directives
the pages use:

- ``.. kernel-doc:: FILE`` runs the kernel's scripts/kernel-doc (from the
  linux-source tarball, scripts/deps.sh unpacks it) with -rst on FILE,
  relative to the top of the tree as the kernel's directive is, and parses
  its output in place, as Documentation/sphinx/kerneldoc.py does; a
  kernel-doc warning is an error;
- ``.. toctree::`` lists the pages it names as links; a page that does not
  exist is an error.

Sphinx's C-domain directives and roles in kernel-doc's output (c:struct,
c:enum, c:macro, c:function, :c:type:, ...) are rendered as plain text.

--check: write nothing unless --out is given; exit 1 if any page has a
warning or an error (docutils' level 2 and up), after printing them all.
"""
import argparse
import os
import subprocess
import sys

from docutils import nodes, utils
from docutils.core import publish_file
from docutils.parsers.rst import Directive, directives, roles
from docutils.statemachine import StringList

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KERNEL_DOC = None


class KernelDoc(Directive):
    required_arguments = 1
    optional_arguments = 0
    option_spec = {
        'doc': directives.unchanged,
        'identifiers': directives.unchanged,
        'internal': directives.flag,
        'export': directives.flag,
    }
    has_content = False

    def run(self):
        path = os.path.join(TOP, self.arguments[0])
        reporter = self.state.document.reporter
        if not os.path.isfile(path):
            return [reporter.error('kernel-doc: no file %s' % self.arguments[0],
                                   line=self.lineno)]
        cmd = ['perl', KERNEL_DOC, '-rst', '-sphinx-version', '5.3.0']
        if 'doc' in self.options:
            cmd += ['-function', self.options['doc']]
        for ident in (self.options.get('identifiers') or '').split():
            cmd += ['-function', ident]
        cmd.append(path)
        res = subprocess.run(cmd, capture_output=True, text=True, cwd=TOP)
        out = []
        for line in res.stderr.splitlines():
            out.append(reporter.error('kernel-doc: ' + line, line=self.lineno))
        if res.returncode or not res.stdout.strip():
            out.append(reporter.error('kernel-doc %s: exit %d, %d bytes of output'
                                      % (self.arguments[0], res.returncode,
                                         len(res.stdout)), line=self.lineno))
            return out
        node = nodes.section()
        node.document = self.state.document
        content = StringList(res.stdout.splitlines(), source=self.arguments[0])
        self.state.nested_parse(content, self.content_offset, node,
                                match_titles=True)
        return out + node.children


class TocTree(Directive):
    has_content = True
    option_spec = {'maxdepth': directives.nonnegative_int,
                   'caption': directives.unchanged}

    def run(self):
        here = os.path.dirname(self.state.document['source'])
        items = nodes.bullet_list()
        out = []
        for entry in (line.strip() for line in self.content):
            if not entry:
                continue
            if not os.path.isfile(os.path.join(here, entry + '.rst')):
                out.append(self.state.document.reporter.error(
                    'toctree: no page %s.rst' % entry, line=self.lineno))
                continue
            ref = nodes.reference('', entry, refuri=entry + '.html')
            items += nodes.list_item('', nodes.paragraph('', '', ref))
        return out + [items]


class CDomain(Directive):
    """.. c:struct:: NAME and friends: the name as a heading-like line."""
    required_arguments = 0
    optional_arguments = 1
    final_argument_whitespace = True
    has_content = True

    def run(self):
        par = nodes.paragraph()
        par += nodes.literal('', ' '.join(self.arguments))
        body = nodes.block_quote()
        self.state.nested_parse(self.content, self.content_offset, body)
        return [par, body]


def literal_role(name, rawtext, text, lineno, inliner, options=None, content=None):
    return [nodes.literal(rawtext, utils.unescape(text))], []


def register():
    directives.register_directive('kernel-doc', KernelDoc)
    directives.register_directive('toctree', TocTree)
    for d in ('struct', 'union', 'enum', 'enumerator', 'macro', 'function',
              'type', 'member', 'var'):
        directives.register_directive('c:' + d, CDomain)
    for r in ('c:type', 'c:func', 'c:macro', 'c:data', 'c:member', 'ref', 'doc'):
        roles.register_local_role(r, literal_role)


def main():
    global KERNEL_DOC
    ap = argparse.ArgumentParser()
    ap.add_argument('--kernel-doc', required=True)
    ap.add_argument('--out')
    ap.add_argument('--check', action='store_true')
    ap.add_argument('rst', nargs='+')
    args = ap.parse_args()
    KERNEL_DOC = args.kernel_doc
    register()

    bad = 0
    for rst in args.rst:
        rel = os.path.relpath(os.path.abspath(rst), os.path.join(TOP, 'Documentation'))
        dest = os.devnull
        if args.out:
            dest = os.path.join(args.out, os.path.splitext(rel)[0] + '.html')
            os.makedirs(os.path.dirname(dest), exist_ok=True)
        warnings = []

        class Stream:
            def write(self, s):
                warnings.append(s)

        publish_file(source_path=rst, destination_path=dest, writer_name='html',
                     settings_overrides={'report_level': 2, 'halt_level': 5,
                                         'warning_stream': Stream(),
                                         'input_encoding': 'utf-8',
                                         'syntax_highlight': 'none',
                                         'embed_stylesheet': False})
        text = ''.join(warnings).strip()
        if text:
            bad += 1
            print(text)
        print('  %-8s %s%s' % ('DOC', os.path.relpath(rst, TOP),
                               ' -> ' + os.path.relpath(dest, TOP) if args.out else ''),
              file=sys.stderr if args.check else sys.stdout)
    if args.check and bad:
        print('htmldocs: %d page(s) with warnings' % bad)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
