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

"""Options of the reservations pending Watcher action plans hold."""

from oslo_config import cfg

GROUP = cfg.OptGroup(
    'reservations',
    title='Capacity reservations of pending action plans',
    help='When Watcher creates an action plan from an audit that ran on a '
         'Tachyon session, the moves of that session hold capacity on '
         'their destinations until each move happens or the plan ends, so '
         'that every later audit, on any decision engine, plans around '
         'them.')

opts = [
    cfg.BoolOpt('enabled',
                default=True,
                mutable=True,
                help='Turn the action plans Watcher creates into '
                     'reservations. When off, Watcher\'s action-plan '
                     'notifications still end the reservations that exist, '
                     'but no new one is made: audits plan on the real '
                     'state only, as with Watcher\'s own models.'),
    cfg.IntOpt('ttl',
               default=6 * 3600,
               min=60,
               mutable=True,
               help='Seconds a reservation holds capacity at most, counted '
                    'from the creation of its action plan: a safety net for '
                    'plans whose end Tachyon never hears of (a lost '
                    'notification, a Watcher without notifications). Set '
                    'it above the longest time an action plan may wait '
                    'for approval plus its execution.'),
    cfg.StrOpt('watcher_topic',
               default='notifications',
               help='Topic of Watcher\'s versioned notifications (Watcher\'s '
                    '[oslo_messaging_notifications]/topics; its default is '
                    'oslo.messaging\'s "notifications").'),
    cfg.StrOpt('watcher_exchange',
               default='watcher',
               help='Exchange Watcher publishes its notifications on '
                    '(Watcher\'s control exchange, "watcher" unless '
                    '[DEFAULT]/control_exchange is set in watcher.conf).'),
    cfg.IntOpt('retention',
               default=86400,
               min=0,
               mutable=True,
               help='Seconds an ended reservation is kept for inspection '
                    '(tachyon-manage reservation list) and as the memory '
                    'that stops a late notification of its plan from '
                    'holding capacity again.'),
]


def register_opts(conf):
    conf.register_group(GROUP)
    conf.register_opts(opts, group=GROUP)


def list_opts():
    return {GROUP: opts}
