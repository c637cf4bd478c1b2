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
"""

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
