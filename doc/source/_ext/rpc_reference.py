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

"""``.. tachyon-rpc-calls::``: every RPC call, from the code.

For each public method of ``tachyon.rpc.api.EngineAPI`` (the client every
caller uses): its arguments, the API version that added it (the version
its ``_call`` names), the documentation of the engine's endpoint method
that answers it, and the arguments the engine takes as its schema
(``tachyon.rpc.schema.SCHEMAS``) declares them.
"""

import inspect
import re

from docutils import nodes
from docutils import statemachine
from docutils.parsers.rst import Directive

from tachyon.rpc import api
from tachyon.rpc import manager
from tachyon.rpc import schema

VERSION_RE = re.compile(r"version='(\d+\.\d+)'")


def calls():
    """[(name, signature, version, doc)] in source order."""
    result = []
    for name, func in inspect.getmembers(api.EngineAPI,
                                         inspect.isfunction):
        if name.startswith('_') or name == 'can_send_version':
            continue
        source = inspect.getsource(func)
        found = VERSION_RE.search(source)
        endpoint = getattr(manager.EngineManager, name)
        signature = str(inspect.signature(func)).replace('(self, ', '(')
        signature = signature.replace('(self)', '()')
        doc = inspect.getdoc(endpoint) or inspect.getdoc(func) or ''
        line = inspect.getsourcelines(func)[1]
        result.append((line, name, signature,
                       found.group(1) if found else '1.0', doc))
    return [r[1:] for r in sorted(result)]


def arguments(name):
    """The declared arguments of RPC method ``name``, as reST text."""
    parts = []
    for arg, decl in schema.SCHEMAS[name].items():
        notes = [decl.kind.name]
        notes.append('required' if decl.required else 'optional')
        if decl.nullable:
            notes.append('may be null')
        parts.append('``%s`` (%s)' % (arg, ', '.join(notes)))
    return ', '.join(parts) or 'none'


class RPCCallsDirective(Directive):

    has_content = False

    def run(self):
        lines = []
        for name, signature, version, doc in calls():
            lines += ['``%s%s``' % (name, signature),
                      '    *Added in RPC API %s.* Arguments: %s.' % (
                          version, arguments(name)), '']
            for para in doc.split('\n\n'):
                lines += ['    ' + ' '.join(para.split()), '']
        section = nodes.section()
        section.document = self.state.document
        self.state.nested_parse(
            statemachine.StringList(lines, source='tachyon.rpc.api'),
            self.content_offset, section)
        return section.children


def setup(app):
    app.add_directive('tachyon-rpc-calls', RPCCallsDirective)
    return {'parallel_read_safe': True, 'parallel_write_safe': True}
