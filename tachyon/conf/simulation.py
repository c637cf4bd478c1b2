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
    'simulation',
    title='Simulation session options',
    help='Server-side what-if sessions used by Watcher strategies.')

opts = [
    cfg.IntOpt('default_ttl',
               default=3600,
               min=1,
               mutable=True,
               help='Seconds a simulation session lives when its creator '
                    'does not ask for a TTL.'),
    cfg.IntOpt('max_ttl',
               default=86400,
               min=1,
               mutable=True,
               help='Largest TTL, in seconds, a session may be given.'),
    cfg.IntOpt('max_deltas_per_session',
               default=10000,
               min=1,
               mutable=True,
               help='Most deltas one session may record.'),
    cfg.IntOpt('max_active_sessions',
               default=100,
               min=1,
               mutable=True,
               help='Most sessions that may be active at once.'),
    cfg.IntOpt('reaper_interval',
               default=60,
               min=1,
               help='Seconds between two runs of the task that expires '
                    'sessions past their TTL.'),
    cfg.IntOpt('finished_session_retention',
               default=86400,
               min=0,
               mutable=True,
               help='Seconds a committed, rolled back or expired session '
                    'record is kept (without its deltas) before the reaper '
                    'removes it.'),
]


def register_opts(conf):
    conf.register_group(GROUP)
    conf.register_opts(opts, group=GROUP)


def list_opts():
    return {GROUP: opts}
