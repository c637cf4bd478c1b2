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

"""``.. tachyon-config::``: every Tachyon option, from tachyon.conf.opts.

One section per group with each option's type, default and help, read
from the same ``list_opts()`` that the config generator uses.
"""

from docutils import nodes
from docutils.parsers.rst import Directive
from docutils import statemachine

from tachyon.conf import opts


def _default(opt):
    if opt.secret:
        return '(secret)'
    default = opt.default
    if isinstance(default, (list, tuple)):
        default = ','.join(str(item) for item in default)
    return '``%s``' % default if default not in (None, '') else '(unset)'


class ConfigDirective(Directive):

    has_content = False

    def run(self):
        lines = []
        for group, group_opts in sorted(
                opts.list_opts(), key=lambda item: str(item[0] or '')):
            name = getattr(group, 'name', group) or 'DEFAULT'
            title = '[%s]' % name
            lines += [title, '-' * len(title), '']
            group_help = getattr(group, 'help', None)
            if group_help:
                lines += [' '.join(group_help.split()), '']
            for opt in group_opts:
                lines += ['``%s``' % opt.dest,
                          '    *%s*, default %s%s' % (
                              type(opt).__name__, _default(opt),
                              ', mutable (reloaded on SIGHUP)'
                              if opt.mutable else ''),
                          '']
                for para in (opt.help or '').split('\n\n'):
                    lines += ['    ' + ' '.join(para.split()), '']
        node = nodes.section()
        node.document = self.state.document
        self.state.nested_parse(
            statemachine.StringList(lines, source='tachyon.conf.opts'),
            self.content_offset, node, match_titles=True)
        return node.children


def setup(app):
    app.add_directive('tachyon-config', ConfigDirective)
    return {'parallel_read_safe': True, 'parallel_write_safe': True}
