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

from oslo_config import cfg

GROUP = cfg.OptGroup(
    'collectors',
    title='Collector options',
    help='Full synchronisation from the Nova, Placement, Cinder and Ironic '
         'APIs.')

opts = [
    cfg.ListOpt('enabled_collectors',
                default=['nova'],
                help='Collector plugins to load from the tachyon.collectors '
                     'entry-point namespace: nova, cinder, ironic.'),
    cfg.IntOpt('nova_interval',
               default=3600,
               min=0,
               help='Seconds between two full syncs of the compute model. '
                    '0 disables the periodic sync.'),
    cfg.IntOpt('cinder_interval',
               default=3600,
               min=0,
               help='Seconds between two full syncs of the storage model. '
                    '0 disables the periodic sync.'),
    cfg.IntOpt('ironic_interval',
               default=3600,
               min=0,
               help='Seconds between two full syncs of the baremetal model. '
                    '0 disables the periodic sync.'),
    cfg.IntOpt('sync_timeout',
               default=1800,
               min=1,
               help='Seconds one full sync may take before it is abandoned.'),
    cfg.IntOpt('page_size',
               default=1000,
               min=1,
               help='Entities asked per page of a paginated API call.'),
    cfg.IntOpt('api_retries',
               min=0,
               deprecated_for_removal=True,
               deprecated_since='2026.2',
               deprecated_reason='Use keystoneauth\'s connect_retries and '
                                 'status_code_retries in [nova], '
                                 '[placement], [cinder] and [ironic].',
               help='Times a request that failed with a 5xx answer or a '
                    'connection error is retried. When set, it applies to '
                    'every API group whose connect_retries or '
                    'status_code_retries is not set.'),
    cfg.FloatOpt('api_retry_delay',
                 min=0.0,
                 deprecated_for_removal=True,
                 deprecated_since='2026.2',
                 deprecated_reason='Use keystoneauth\'s '
                                   'connect_retry_delay and '
                                   'status_code_retry_delay in [nova], '
                                   '[placement], [cinder] and [ironic].',
                 help='Seconds before the first retry; doubled at each '
                      'further retry. When set, it applies to every API '
                      'group whose connect_retry_delay or '
                      'status_code_retry_delay is not set.'),
]


def register_opts(conf):
    conf.register_group(GROUP)
    conf.register_opts(opts, group=GROUP)


def list_opts():
    return {GROUP: opts}
