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

"""Sphinx configuration of Tachyon's documentation (tox -e docs)."""

import os
import sys

sys.path.insert(0, os.path.abspath(os.path.join('..', '..')))
sys.path.insert(0, os.path.abspath('_ext'))

# Tachyon's threading backend, and no eventlet notice from futurist.
import tachyon.cmd  # noqa: E402,F401

extensions = [
    'sphinx.ext.autodoc',
    'oslo_config.sphinxext',
    'oslo_config.sphinxconfiggen',
    'rpc_reference',
    'graph_schema',
]

# oslo_config.sphinxconfiggen: the sample configuration file, generated
# from the same generator config as etc/tachyon/tachyon.conf.sample.
config_generator_config_file = [
    ('../../etc/tachyon/tachyon-config-generator.conf', '_static/tachyon'),
]

project = 'Tachyon'
copyright = 'Tachyon developers'
source_suffix = '.rst'
master_doc = 'index'
exclude_patterns = ['_build']
html_theme = 'alabaster'
html_static_path = []
autodoc_member_order = 'bysource'
suppress_warnings = []

from tachyon.rpc import api as _api  # noqa: E402

rst_epilog = '.. |version| replace:: %s' % _api.RPC_API_VERSION

# sphinx-build -b man: one page per command.
man_pages = [
    ('cli/%s' % name, name, summary, ['Tachyon developers'], 1)
    for name, summary in (
        ('tachyon-engine', 'the Tachyon service'),
        ('tachyon-manage', 'Tachyon administration commands'),
        ('tachyon-status', 'upgrade checks of a Tachyon deployment'),
        ('tachyon-watcher-status',
         'checks that a Watcher decision engine uses Tachyon'),
    )
]
