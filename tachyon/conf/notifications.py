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
    'notifications',
    title='Notification ingestion options',
    help='How tachyon-engine consumes Nova, Cinder and Ironic '
         'notifications.')

opts = [
    cfg.ListOpt('enabled_handlers',
                default=['nova', 'cinder', 'ironic', 'watcher'],
                help='Notification handler plugins to load from the '
                     'tachyon.notification_handlers entry-point namespace. '
                     '"watcher" takes Watcher\'s action-plan and action '
                     'notifications, which make and end the reservations '
                     'of [reservations].'),
    cfg.BoolOpt('enable_listener',
                default=True,
                help='Run the notification listener in tachyon-engine.'),
    cfg.StrOpt('transport_url',
               secret=True,
               deprecated_for_removal=True,
               deprecated_since='2026.2',
               deprecated_reason='oslo.messaging has the option: set '
                                 '[oslo_messaging_notifications]/'
                                 'transport_url, as every OpenStack '
                                 'service does.',
               help='Messaging URL of the notification bus, when it is not '
                    'the RPC bus given by [DEFAULT]/transport_url. When '
                    'set, it wins over '
                    '[oslo_messaging_notifications]/transport_url.'),
    cfg.StrOpt('nova_topic',
               default='versioned_notifications',
               help='Topic of Nova versioned notifications.'),
    cfg.StrOpt('nova_exchange',
               default='nova',
               help='Exchange Nova publishes notifications on.'),
    cfg.StrOpt('cinder_topic',
               default='notifications',
               help='Topic of Cinder notifications.'),
    cfg.StrOpt('cinder_exchange',
               default='openstack',
               help='Exchange Cinder publishes notifications on. Cinder '
                    'never sets a control exchange of its own, so it '
                    'publishes on oslo.messaging\'s default one, '
                    '"openstack" (where Watcher\'s decision engine '
                    'listens too, as openstack.notifications). Change it '
                    'only if [DEFAULT]/control_exchange is set in '
                    'cinder.conf, to the same value. Other services that '
                    'keep the default exchange publish there as well; '
                    'the Cinder handler takes only what Cinder\'s '
                    'volume and capacity publishers send.'),
    cfg.StrOpt('ironic_topic',
               default='ironic_versioned_notifications',
               help='Topic of Ironic versioned notifications.'),
    cfg.StrOpt('ironic_exchange',
               default='ironic',
               help='Exchange Ironic publishes notifications on.'),
    cfg.StrOpt('pool',
               default='tachyon',
               help='Listener pool name. Every tachyon-engine worker joins '
                    'this pool, so each notification is handled by one of '
                    'them only. Give another pool name to a second, '
                    'independent consumer. RabbitMQ names the pool\'s '
                    'queue after it: it must differ from the queues of '
                    'the RPC topic ([engine]/topic and TOPIC.HOST) and '
                    'from the queues other consumers of the notification '
                    'topics use (TOPIC.PRIORITY); tachyon-engine refuses '
                    'to start otherwise.'),
    cfg.IntOpt('executor_threads',
               default=4,
               min=1,
               help='Threads that handle notifications in each worker.'),
    cfg.IntOpt('batch_size',
               default=250,
               min=0,
               help='When above zero, notifications are consumed in batches '
                    'of up to this many (oslo.messaging batch listener) and '
                    'written to Neo4j in one transaction, as one UNWIND '
                    'batch per kind; a batch waits at most batch_timeout '
                    'seconds to fill up. 0 writes each notification in a '
                    'transaction of its own, as soon as it arrives: on two '
                    'cores that takes about 140 notifications per second, '
                    'against 1,700 to 2,000 in batches of 100 and 1,750 to '
                    '2,300 in batches of 250. A batch only fills up when '
                    'notifications wait in the queue (a burst, or a '
                    'listener catching up): at a steady rate a batch holds '
                    'what came within batch_timeout.'),
    cfg.FloatOpt('batch_timeout',
                 default=0.2,
                 min=0.0,
                 help='Seconds a batch waits to fill up (batch_size above '
                      'zero): the longest a notification waits before it '
                      'is written. A busy listener fills its batches '
                      'sooner.'),
    cfg.BoolOpt('enrich_from_apis',
                default=True,
                help='Look up in the Nova, Placement and Cinder APIs (with '
                     'the collectors\' credentials) the compute nodes, '
                     'pools, storage nodes and volume type names a '
                     'notification names but the graph lacks. When off, or '
                     'when the lookup fails, a compute node is kept as a '
                     'placeholder until the next full sync.'),
    cfg.IntOpt('lookup_retry_interval',
               default=300,
               min=0,
               help='Seconds before an entity the APIs could not describe '
                    'is looked up again.'),
    cfg.FloatOpt('requeue_delay',
                 default=1.0,
                 min=0.0,
                 help='Seconds a listener thread waits before requeuing a '
                      'notification it could not write because Neo4j was '
                      'unavailable, so that an outage does not turn into a '
                      'busy loop of redeliveries.'),
    cfg.IntOpt('max_requeues',
               default=10,
               min=0,
               help='Times one notification is requeued because Neo4j '
                    'answered with a failure that may pass (a deadlock, a '
                    'timeout, a leader switch) before it is given up: it '
                    'is then dropped, logged once and counted as dead-'
                    'lettered, so that it cannot keep the queue busy '
                    'forever. While Neo4j cannot be reached at all, '
                    'notifications are requeued without counting against '
                    'this limit, so an outage loses nothing. Notifications '
                    'that can never be written (a malformed payload, a '
                    'value out of range, a change Neo4j refuses) are never '
                    'requeued. 0 gives up at the first such failure.'),
    cfg.IntOpt('max_future_skew',
               default=300,
               min=0,
               help='Seconds a notification\'s timestamp may lie in the '
                    'future (the clock skew allowed between the services '
                    'and tachyon-engine). A later timestamp is replaced by '
                    'the time it was received, and logged once: stored '
                    'as it is, it would make every real notification '
                    'about the entity look older and be skipped.'),
    cfg.IntOpt('tombstone_lifetime',
               default=86400,
               min=0,
               help='Seconds the tombstone of a deleted entity is kept, so '
                    'that a late update cannot bring it back.'),
    cfg.StrOpt('nova_default_availability_zone',
               default='nova',
               help='The availability zone Nova gives a compute host that '
                    'no aggregate with availability_zone metadata holds: '
                    'set it to the value of Nova\'s [DEFAULT] '
                    'default_availability_zone. Used when an aggregate '
                    'notification takes a host out of its last zoned '
                    'aggregate, so that the node\'s zone matches what the '
                    'next full sync reads from the Nova API.'),
    cfg.BoolOpt('refresh_pools',
                default=True,
                help='After a volume event (created, deleted, managed, '
                     'unmanaged, resized, attached...), re-read the '
                     'volume\'s pool from the Cinder API (GET '
                     '/scheduler-stats/get_pools, with the collectors\' '
                     'credentials), as Watcher does, so that its '
                     'total_volumes and its allocated, provisioned and '
                     'free capacity follow the volumes instead of waiting '
                     'for the next full sync (capacity.pool notifications '
                     'carry no total_volumes and come on the scheduler\'s '
                     'own schedule). Needs enrich_from_apis. Turn it off '
                     'to make no Cinder API call for known pools.'),
    cfg.FloatOpt('pool_refresh_interval',
                 default=10.0,
                 min=0.0,
                 help='Seconds between two refreshes of one pool from the '
                      'Cinder API (refresh_pools). The first volume event '
                      'of a pool refreshes it at once; the events that '
                      'follow within this interval are coalesced into one '
                      'more refresh at its end, so a burst of volume '
                      'events costs at most two API calls per interval '
                      'whatever its size; pools due at the same moment '
                      'share one call. 0 refreshes on every batch of '
                      'volume events (Watcher\'s behaviour, one API call '
                      'per event when batch_size is 0).'),
    cfg.FloatOpt('pool_refresh_retry_interval',
                 default=30.0,
                 min=1.0,
                 help='Seconds before a pool refresh that failed with a '
                      'transient Cinder API error (an outage, a timeout, '
                      'a 5xx) is tried again. The volume event itself is '
                      'never held or lost: it is written at once and only '
                      'the pool\'s counters wait. A refresh refused for '
                      'good (the credentials are rejected) is given up '
                      'and logged; the next full sync corrects the pool.'),
]


def register_opts(conf):
    conf.register_group(GROUP)
    conf.register_opts(opts, group=GROUP)


def list_opts():
    return {GROUP: opts}
