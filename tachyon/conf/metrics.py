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
    'metrics',
    title='Observing tachyon-engine',
    help="tachyon-engine's Prometheus endpoint and the heartbeat each "
         "engine records in the graph (shown by 'tachyon-manage engine "
         "list').")

opts = [
    cfg.BoolOpt('enabled',
                default=False,
                help='Serve Prometheus metrics over HTTP at '
                     'http://[metrics]/bind_host:[metrics]/port/metrics. '
                     'Off by default so that an upgrade opens no port your '
                     'firewall does not expect and cannot fail on a port '
                     'another service already uses. Every worker of the '
                     'engine answers on the one port with the figures of '
                     'all the workers together.'),
    cfg.HostAddressOpt('bind_host',
                       default='0.0.0.0',
                       help='Address the metrics endpoint listens on '
                            '(0.0.0.0: every IPv4 address; :: every '
                            'address). The endpoint has no authentication: '
                            'bind it to a management network or 127.0.0.1 '
                            'if Prometheus runs on this host.'),
    cfg.PortOpt('port',
                default=9785,
                help='TCP port of the metrics endpoint; one per engine on '
                     'a host. tachyon-engine refuses to start (status 2) '
                     'when it is already in use.'),
    cfg.StrOpt('multiprocess_dir',
               help="Directory where each worker keeps its figures "
                    "(prometheus_client's multiprocess mode), read on "
                    "every scrape. It must belong to this engine alone: "
                    "the files it holds ending in .db are removed when the "
                    "engine starts. "
                    "Unset: a new directory under the system's temporary "
                    "directory, removed when the engine stops. A tmpfs "
                    "(/run) keeps the figures off the disk."),
    cfg.IntOpt('heartbeat_interval',
               default=30,
               min=1,
               help='Seconds between two heartbeats of each engine worker '
                    'in the graph. An engine whose last heartbeat is older '
                    'than three intervals is shown as stale by '
                    '"tachyon-manage engine list".'),
    cfg.IntOpt('heartbeat_expiry',
               default=86400,
               min=60,
               help='Seconds after its last heartbeat when an engine that '
                    'stopped without saying so (killed, its host lost) is '
                    'removed from the graph, and from "tachyon-manage '
                    'engine list". An engine that stops cleanly removes '
                    'itself at once.'),
]


def register_opts(conf):
    conf.register_group(GROUP)
    conf.register_opts(opts, group=GROUP)


def list_opts():
    return {GROUP: opts}
