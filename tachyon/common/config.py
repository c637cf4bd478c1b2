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

"""Process start-up shared by Tachyon's commands."""

import sys

from oslo_config import cfg
from oslo_log import log as logging

from tachyon import conf as tachyon_conf

CONF = tachyon_conf.CONF
DOMAIN = 'tachyon'


def _version():
    try:
        from pbr import version as pbr_version
        return pbr_version.VersionInfo('tachyon').version_string()
    except Exception:  # pragma: no cover - only without package metadata
        return 'unknown'


def parse_args(argv, default_config_files=None, conf=None):
    """Parse the command line and config files; set up oslo.log.

    Options may also come from the environment as oslo.config reads it:
    ``OS_<GROUP>__<OPTION>``, e.g. ``OS_NEO4J__URI``.
    """
    conf = conf or CONF
    logging.register_options(conf)
    conf(argv[1:], project='tachyon', version=_version(),
         default_config_files=default_config_files)
    logging.setup(conf, DOMAIN)
    return conf


def die(message, code=1):
    """Print one clear line on stderr and exit; no traceback."""
    sys.stderr.write('%s\n' % message)
    sys.exit(code)


def reset(conf=None):
    (conf or CONF).reset()
    try:
        (conf or CONF).unregister_opt(cfg.StrOpt('config_file'))
    except Exception:
        pass
