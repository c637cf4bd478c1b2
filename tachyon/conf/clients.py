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

"""How Tachyon reaches the Nova, Placement, Cinder and Ironic APIs.

Each of the groups ``[nova]``, ``[placement]``, ``[cinder]`` and
``[ironic]`` carries keystoneauth1's standard options: the session (TLS,
timeout), the auth plugin (``auth_type`` and its options, or
``auth_section``) and the adapter (service type, region, interface,
endpoint override), plus ``api_microversion``, the microversion Tachyon
asks for.
"""

import copy

from keystoneauth1 import loading as ks_loading
from oslo_config import cfg

# Auth plugin whose options the sample config documents; any other plugin
# works too, its options are registered when [<group>]/auth_type names it.
_SAMPLE_AUTH_PLUGIN = 'password'

#: group name -> (title, service type, default microversion, minimum)
SERVICES = {
    'nova': ('Nova (compute) API', 'compute', '2.56', '2.53'),
    'placement': ('Placement API', 'placement', '1.6', '1.6'),
    'cinder': ('Cinder (block storage) API', 'block-storage', '3.0', '3.0'),
    'ironic': ('Ironic (bare metal) API', 'baremetal', '1.21', '1.21'),
}

_MICROVERSION_HELP = {
    'nova': 'Compute API microversion Tachyon asks for. 2.53 is the '
            'minimum (hypervisors by uuid with their service); from 2.96 '
            'on, servers carry their pinned availability zone.',
    'placement': 'Placement API microversion Tachyon asks for; 1.6 is '
                 'the minimum (traits).',
    'cinder': 'Block Storage API microversion Tachyon asks for (3.x).',
    'ironic': 'Bare Metal API microversion Tachyon asks for; 1.21 is the '
              'minimum (node resource class).',
}

GROUPS = {
    name: cfg.OptGroup(
        name, title='%s options' % title,
        help='How Tachyon reaches the %s: keystoneauth1 session, auth '
             'plugin and adapter options.' % title)
    for name, (title, _t, _v, _m) in SERVICES.items()
}


def _own_opts(name):
    _title, _stype, version, _minimum = SERVICES[name]
    opts = [
        cfg.StrOpt('api_microversion',
                   default=version,
                   help=_MICROVERSION_HELP[name]),
    ]
    if name == 'placement':
        opts.append(cfg.IntOpt(
            'sync_concurrency',
            default=8,
            min=1,
            help='Parallel requests a Nova sync makes to Placement (two '
                 'per compute node: inventories and traits).'))
    return opts


#: Retries when keystoneauth's connect_retries / status_code_retries are
#: unset (keystoneauth itself would not retry).
DEFAULT_RETRIES = 3

#: keystoneauth's retry options -> the help Tachyon shows. Tachyon retries
#: by itself (so that a sync's deadline bounds the waits) and follows these
#: options with keystoneauth's meaning; keystoneauth's own retries stay
#: off, so nothing is retried twice over.
RETRY_OPTIONS = {
    'connect_retries': (
        None, 'Times a request that failed to connect (or timed out) is '
              'retried. Unset: [collectors]/api_retries if set, else %d.'
              % DEFAULT_RETRIES),
    'status_code_retries': (
        None, 'Times a request answered with a retriable status code '
              '(retriable_status_codes) or with a body that is not JSON '
              'is retried. Unset: [collectors]/api_retries if set, else '
              '%d.' % DEFAULT_RETRIES),
    'retriable_status_codes': (
        [500, 502, 503, 504], 'HTTP status codes that are retried.'),
}


def _adapter_opts(name):
    """keystoneauth's adapter options with Tachyon's defaults filled in."""
    stype = SERVICES[name][1]
    opts = []
    for opt in ks_loading.get_adapter_conf_options(include_deprecated=False):
        opt = copy.deepcopy(opt)
        if opt.dest == 'service_type':
            opt.default = stype
        elif opt.dest == 'valid_interfaces':
            opt.default = ['internal', 'public']
        elif opt.dest in RETRY_OPTIONS:
            opt.default, opt.help = RETRY_OPTIONS[opt.dest]
        opts.append(opt)
    return opts


def register_opts(conf):
    for name, group in GROUPS.items():
        conf.register_group(group)
        ks_loading.register_session_conf_options(conf, name)
        ks_loading.register_auth_conf_options(conf, name)
        # keystoneauth's adapter options, registered with Tachyon's
        # defaults (service type, interfaces) built in rather than set
        # with set_default(), which ConfigOpts.reset() would undo.
        conf.register_opts(_adapter_opts(name), group=group)
        conf.register_opts(_own_opts(name), group=group)


def _auth_opts():
    opts = list(ks_loading.get_auth_common_conf_options())
    names = {o.dest for o in opts}
    for opt in ks_loading.get_auth_plugin_conf_options(_SAMPLE_AUTH_PLUGIN):
        if opt.dest not in names:
            opts.append(opt)
            names.add(opt.dest)
    return opts


def list_opts():
    return {
        GROUPS[name]: (ks_loading.get_session_conf_options()
                       + _auth_opts()
                       + _adapter_opts(name)
                       + _own_opts(name))
        for name in SERVICES
    }
