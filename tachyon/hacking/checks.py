# Licensed under the Apache License, Version 2.0 (the "License"); you may
# not use this file except in compliance with the License. You may obtain
# a copy of the License at
#
#      http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
# License for the specific language governing permissions and limitations
# under the License.

"""Tachyon's own lint checks (flake8 local plugins).

T301  nothing in tachyon imports eventlet.
T302  Cypher stays in tachyon/graph: no MATCH/MERGE/CREATE statement text
      outside it.
T303  only tachyon/graph imports the neo4j driver.
T304  no module uses another module's private name: no ``from x import _y``
      and no ``mod._y`` where ``mod`` is a name the module imported
      (``self._y``, ``cls._y`` and dunder names are fine).
T305  each package imports only the packages :data:`ALLOWED_IMPORTS` lets
      it (the layering: model at the bottom, cmd and service at the top).
"""

import ast
import re

_EVENTLET = re.compile(r'^\s*(import|from)\s+eventlet\b')
_NEO4J = re.compile(r'^\s*(import|from)\s+neo4j\b')
_CYPHER = re.compile(
    r'''['"]\s*(MATCH|OPTIONAL MATCH|MERGE|UNWIND|CREATE CONSTRAINT|'''
    r'''CREATE INDEX|DETACH DELETE)\s[(\$a-zA-Z]''')


def _in_package(filename, package):
    del package  # every check here is about the tachyon package
    name = filename.replace('\\', '/')
    return '/tachyon/' in '/' + name or name.startswith('tachyon/')


def _is_graph_module(filename):
    name = '/' + filename.replace('\\', '/')
    return '/tachyon/graph/' in name


def check_no_eventlet(logical_line, filename):
    """T301: Tachyon never imports eventlet."""
    if _in_package(filename, 'tachyon') and _EVENTLET.match(logical_line):
        yield 0, 'T301: tachyon must not import eventlet'


def check_no_cypher_outside_graph(physical_line, filename):
    """T302: Cypher statements live in tachyon/graph only."""
    if (_in_package(filename, 'tachyon')
            and not _is_graph_module(filename)
            and 'tachyon/hacking' not in filename
            and _CYPHER.search(physical_line)):
        yield 0, 'T302: Cypher belongs in tachyon/graph'


def check_no_neo4j_outside_graph(logical_line, filename):
    """T303: only tachyon/graph imports the neo4j driver."""
    if (_in_package(filename, 'tachyon')
            and not _is_graph_module(filename)
            and _NEO4J.match(logical_line)):
        yield 0, 'T303: only tachyon/graph may import neo4j'


# ---------------------------------------------------------------------------
# T304: private names stay in their module
# ---------------------------------------------------------------------------

#: Underscore names that are not private to a module: gettext's ``_`` and
#: the package's translation module.
_NOT_PRIVATE = frozenset(['_', '_i18n'])


def _is_private(name):
    return (name.startswith('_') and not name.startswith('__')
            and name not in _NOT_PRIVATE)


def _imported_names(tree):
    """The names a module binds by importing (modules and their members)."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                names.add(alias.asname or alias.name.split('.')[0])
        elif isinstance(node, ast.ImportFrom):
            for alias in node.names:
                if alias.name != '*':
                    names.add(alias.asname or alias.name)
    return names


def _root_name(node):
    while isinstance(node, ast.Attribute):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def check_no_private_names_across_modules(tree, filename):
    """T304: no module reaches another module's ``_private`` names."""
    if not _in_package(filename, 'tachyon'):
        return
    imported = _imported_names(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            for alias in node.names:
                if _is_private(alias.name):
                    yield (node.lineno, node.col_offset,
                           'T304: %s is private to %s' % (
                               alias.name, node.module or '.'),
                           None)
        elif isinstance(node, ast.Attribute) and _is_private(node.attr):
            root = _root_name(node.value)
            if root is not None and root in imported:
                yield (node.lineno, node.col_offset,
                       'T304: %s is private to the module it comes from '
                       '(imported as %s)' % (node.attr, root),
                       None)


# ---------------------------------------------------------------------------
# T305: the layering of the packages
# ---------------------------------------------------------------------------

_BASE = frozenset(['exception', '_i18n'])

#: Package (or top-level module) of tachyon -> the other tachyon packages
#: and modules it may import. Absent: no rule (the entry points, cmd and
#: service, may import anything).
ALLOWED_IMPORTS = {
    'exception': frozenset(),
    '_i18n': frozenset(),
    'hacking': frozenset(),
    'conf': _BASE,
    'model': _BASE,
    'common': _BASE | {'conf'},
    'graph': _BASE | {'model', 'common', 'conf'},
    'watcher_xml': _BASE | {'graph', 'model', 'common'},
    'simulation': _BASE | {'graph', 'model', 'common', 'conf'},
    'collectors': _BASE | {'graph', 'model', 'common', 'conf'},
    'notifications': _BASE | {'collectors', 'graph', 'model', 'common',
                              'conf'},
    'rpc': _BASE | {'simulation', 'graph', 'model', 'common', 'conf'},
    'client': _BASE | {'rpc', 'model', 'common', 'conf'},
}

_IMPORT = re.compile(r'^\s*import\s+(?P<names>.+)$')
_FROM = re.compile(r'^\s*from\s+(?P<module>[\w.]+)\s+import\s+'
                   r'(?P<names>.+)$')


def _tachyon_part(filename):
    """The package or top-level module of tachyon a file belongs to.

    'tachyon/graph/compute.py' -> 'graph', 'tachyon/service.py' ->
    'service', None outside the package.
    """
    parts = ('/' + filename.replace('\\', '/')).split('/')
    if 'tachyon' not in parts:
        return None
    rest = parts[len(parts) - parts[::-1].index('tachyon'):]
    if not rest:
        return None
    name = rest[0]
    return name[:-3] if name.endswith('.py') else name


def _imported_parts(logical_line):
    """The tachyon packages/modules an import line names."""
    match = _FROM.match(logical_line)
    if match:
        module = match.group('module').split('.')
        if module[0] != 'tachyon':
            return []
        if len(module) > 1:
            return [module[1]]
        names = match.group('names').strip('() ')
        return [n.split()[0] for n in names.split(',') if n.strip()]
    match = _IMPORT.match(logical_line)
    if match:
        parts = []
        for name in match.group('names').split(','):
            module = name.split()[0].split('.') if name.strip() else []
            if len(module) > 1 and module[0] == 'tachyon':
                parts.append(module[1])
        return parts
    return []


def check_package_imports(logical_line, filename):
    """T305: a package imports only what ALLOWED_IMPORTS lets it."""
    part = _tachyon_part(filename)
    allowed = ALLOWED_IMPORTS.get(part)
    if allowed is None:
        return
    for target in _imported_parts(logical_line):
        if target != part and target not in allowed:
            yield 0, 'T305: tachyon/%s must not import tachyon.%s' % (
                part, target)
